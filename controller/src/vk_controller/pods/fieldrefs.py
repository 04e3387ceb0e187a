"""Downward API values the pod object itself tells: ``fieldRef`` and ``resourceFieldRef``, and env vars made of them.

They need no API call, so the converter resolves them itself when nothing else did, and whoever resolves env vars
and downwardAPI volumes can use the same functions. ``status.podIP`` and its siblings are known only once the pod
runs: they come back as a ``RuntimeValue`` for the provider to fill in. The rules are the kubelet's
(``podFieldSelectorRuntimeValue``, ``ExtractContainerResourceValue``): a resource limit the container does not set
reads as the node's allocatable amount, a request it does not set as 0, and values are divided by the divisor and
rounded up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from vk_controller.pods import quantity
from vk_controller.pods.resolved import InvalidPodSpec, ResolvedEnvVar, RuntimeValue, UnresolvedReference

_RUNTIME = {runtime.value: runtime for runtime in RuntimeValue}
_DEFAULTED_LIMITS = ("cpu", "memory", "ephemeral-storage")  # hugepages always have a limit
_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _go_quote(text: str) -> str:
    """Go's ``%q`` (strconv.Quote), which the kubelet uses for label and annotation values in volume files."""
    out = []
    for char in text:
        code = ord(char)
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def format_map(values: Mapping[str, str]) -> str:
    """All labels or annotations as one value: ``key="value"`` lines, sorted by key."""
    return "\n".join(f"{key}={_go_quote(values[key])}" for key in sorted(values))


def field_ref_value(pod: dict[str, Any], field_ref: dict[str, Any], *, field: str) -> str | RuntimeValue:
    """The value of a ``fieldRef`` (``field`` names it in errors)."""
    path = field_ref.get("fieldPath", "")
    if field_ref.get("apiVersion", "v1") != "v1":
        raise InvalidPodSpec(field, f"apiVersion {field_ref['apiVersion']!r} is not supported (only v1)")
    if path in _RUNTIME:
        return _RUNTIME[path]
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
    }
    if path in simple:
        return simple[path] or ""
    if path in ("metadata.labels", "metadata.annotations"):
        return format_map(metadata.get(path.removeprefix("metadata.")) or {})
    for kind in ("labels", "annotations"):
        prefix = f"metadata.{kind}['"
        if path.startswith(prefix) and path.endswith("']") and len(path) > len(prefix) + 1:
            return str((metadata.get(kind) or {}).get(path[len(prefix) : -2], ""))
    raise InvalidPodSpec(field, f"fieldPath {path!r} is not supported")


def _find_container(pod: dict[str, Any], name: str, *, field: str) -> tuple[dict[str, Any], bool]:
    """The container named ``name`` and whether it is a regular (not init) container."""
    spec = pod.get("spec") or {}
    for kind in ("containers", "initContainers"):
        for container in spec.get(kind) or []:
            if container.get("name") == name:
                return container, kind == "containers"
    raise InvalidPodSpec(field, f"no container named {name!r}")


def resource_field_ref_value(
    pod: dict[str, Any],
    ref: dict[str, Any],
    *,
    container_name: str,
    allocatable: Mapping[str, str],
    field: str,
) -> str:
    """The value of a ``resourceFieldRef``; ``container_name`` is the container whose env holds it, if any."""
    target = ref.get("containerName") or container_name
    container, regular = _find_container(pod, target, field=field)
    resource = ref.get("resource", "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not (name in _DEFAULTED_LIMITS or name.startswith("hugepages-")):
        raise InvalidPodSpec(field, f"resource {resource!r} is not supported")
    divisor = ref.get("divisor") or "1"
    if quantity.parse(divisor) == 0:
        divisor = "1"
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    amount = limits.get(name) if kind == "limits" else (resources.get("requests") or {}).get(name, limits.get(name))
    # The kubelet fills missing limits of regular containers, and of the container asking, from the node.
    defaulted = kind == "limits" and name in _DEFAULTED_LIMITS and (regular or not ref.get("containerName"))
    if defaulted and (amount is None or quantity.parse(amount) == 0):
        if name not in allocatable:
            raise UnresolvedReference(
                field, f"{resource} of {target!r} is not set and the node's allocatable {name}, its default, is unknown"
            )
        amount = allocatable[name]
    if name == "cpu":
        return str(math.ceil(Fraction(quantity.milli_value(amount or 0), quantity.milli_value(divisor))))
    return str(math.ceil(Fraction(quantity.value(amount or 0), quantity.value(divisor))))


def pod_env_var(
    pod: dict[str, Any], container: dict[str, Any], index: int, *, where: str, allocatable: Mapping[str, str]
) -> ResolvedEnvVar:
    """``container.env[index]`` resolved from the pod alone (``where`` is the container's field path).

    Raises ``UnresolvedReference`` for configMapKeyRef and secretKeyRef, which only the API server can answer.
    """
    var = container["env"][index]
    field = f"{where}.env[{index}]"
    name = var["name"]
    source = var.get("valueFrom")
    if var.get("value") or not source:
        return ResolvedEnvVar(name, var.get("value") or "", expand=True)
    if "fieldRef" in source:
        value = field_ref_value(pod, source["fieldRef"], field=f"{field}.valueFrom.fieldRef")
        if isinstance(value, RuntimeValue):
            return ResolvedEnvVar(name, runtime=value)
        return ResolvedEnvVar(name, value)
    if "resourceFieldRef" in source:
        value = resource_field_ref_value(
            pod,
            source["resourceFieldRef"],
            container_name=container["name"],
            allocatable=allocatable,
            field=f"{field}.valueFrom.resourceFieldRef",
        )
        return ResolvedEnvVar(name, value)
    for kind in ("configMapKeyRef", "secretKeyRef"):
        if kind in source:
            raise UnresolvedReference(f"{field}.valueFrom.{kind}", f"needs the {kind[:-6]} from the API server")
    kinds = ", ".join(sorted(source)) or "nothing"
    raise InvalidPodSpec(f"{field}.valueFrom", f"{kinds}: not a source the controller can resolve")
