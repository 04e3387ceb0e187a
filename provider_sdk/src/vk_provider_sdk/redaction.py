"""Secret values out of error messages: the last line of defence when a backend echoes what it was given.

A pod reaches the provider with its secrets resolved and marked ``sensitive`` (env values, file contents, image
pull credentials). Backends quote their input in errors more often than one would like ("invalid value 'hunter2'
for environment variable X"), and such a message travels on into logs, the controller's Events and pod statuses.
So both ends cut the pod's secret values out of a failure's message before anyone sees it: the SDK's server for
the errors of CreatePod and UpdatePod (and the traceback it logs), the controller for whatever a provider in
another language answers.

Values shorter than :data:`MIN_LENGTH` are left alone: replacing every ``1`` or ``true`` in a message would make it
unreadable and protect nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from virtualkubelet.provider.v1 import pod_pb2

MIN_LENGTH = 4
REDACTED = "[redacted]"


def _forms(value: str) -> Iterable[str]:
    yield value
    yield value.strip()
    yield base64.b64encode(value.encode()).decode()


def sensitive_values(pod: pod_pb2.Pod) -> frozenset[str]:
    """Every secret the pod carries, as text (and base64, as an error might quote it), long enough to redact."""
    values: list[str] = []
    for container in (*pod.init_containers, *pod.containers):
        values += [env.value for env in container.env if env.sensitive and env.WhichOneof("source") == "value"]
    for volume in pod.volumes:
        if volume.WhichOneof("source") != "files":
            continue
        for file in volume.files.files:
            if file.sensitive:
                values.append(file.content.decode(errors="replace"))
    for credential in pod.image_pull_credentials:
        values += [credential.password, credential.auth, credential.identity_token, credential.registry_token]
    return frozenset(form for value in values for form in _forms(value) if len(form) >= MIN_LENGTH)


def redact(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of each value replaced by ``[redacted]`` (longest values first, so a value
    that contains another is cut whole)."""
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


__all__ = ["MIN_LENGTH", "REDACTED", "redact", "sensitive_values"]
