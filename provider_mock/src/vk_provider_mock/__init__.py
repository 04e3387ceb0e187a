"""An in-memory, scriptable provider for demos and tests: the whole protocol, on the SDK, running nothing.

Map: ``provider.py`` (the Provider: RPCs, timers, state file), ``runtime.py`` (one pod's state machine and
status), ``program.py`` and ``shell.py`` (what containers and exec run), ``behaviour.py`` (the
``mock.virtual-kubelet.io/`` annotations), ``streams.py`` (logs, exec, attach, port-forward), ``stats.py`` and
``usage.py`` (resource usage), ``ipam.py`` (pod IPs), ``state.py`` (the state file), ``validation.py`` (what is
refused), ``environment.py`` (env and runtime values), ``config.py`` (flags).
"""

from vk_provider_mock.config import MockConfig
from vk_provider_mock.provider import MockProvider

__all__ = ["MockConfig", "MockProvider"]
