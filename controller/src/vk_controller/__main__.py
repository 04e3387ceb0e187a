"""vk-controller's command line: parse the settings, set up logging, run until told to stop."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from vk_controller import logs, settings
from vk_controller.kube.config import ConfigError
from vk_controller.node.lease import LeadershipLost
from vk_provider_sdk import eventloop, tracing


def main(argv: Sequence[str] | None = None) -> int:
    nodes = settings.parse_nodes(argv)
    config = nodes[0]  # logging, tracing and shutdown are the process's: the same in every node's settings
    logs.configure(config.log_level, config.log_format)
    from vk_controller.app import serve  # after logging is set up: importing grpc logs

    tracing.configure("vk-controller")  # only if the OTEL_* environment asks for it
    try:
        eventloop.run(serve(nodes))
    except ConfigError as error:
        logging.getLogger("vk_controller").error("%s", error)
        return 2
    except LeadershipLost as lost:
        logging.getLogger("vk_controller").error("leadership lost: %s", lost)
        return 3
    except BaseExceptionGroup as group:  # raised from the controller's task group
        lapsed = group.subgroup(LeadershipLost)
        if lapsed is None:
            raise
        # Stop acting for the node at once; the supervisor restarts this replica as a standby.
        first: BaseException = lapsed
        while isinstance(first, BaseExceptionGroup):  # groups nest: the process's, then the node's
            first = first.exceptions[0]
        logging.getLogger("vk_controller").error("leadership lost: %s", first)
        return 3
    except KeyboardInterrupt:
        return 130
    finally:
        tracing.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
