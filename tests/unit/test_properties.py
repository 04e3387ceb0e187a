"""Property-based tests (hypothesis) of the pure functions: invariants that hold for every input, not examples.

- ``$(VAR)`` expansion: text without ``$`` is unchanged, ``$$`` is a literal ``$``, escaping then expanding gives
  the text back, expansion is one pass;
- quantities: exact parsing agrees with arithmetic, ordering and the binary/decimal suffixes; rounding up stays
  within one unit; the SDK's ``--capacity`` grammar accepts only what the controller can parse, and round-trips;
- pod → protocol → Kubernetes: metadata, the pod JSON and times come back as they went in;
- Fargate sizes: the chosen size is valid, covers the request, and is the cheapest that does;
- backend state → protocol (ACI container groups, ECS tasks): total functions that never raise, and always name a
  container state.

Example counts stay modest (see ``SETTINGS``) so the file runs in seconds.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtualkubelet.provider.v1 import status_pb2
from vk_controller.kube.times import format_time
from vk_controller.pods import quantity
from vk_controller.pods.expansion import Expanded, expand, variables
from vk_controller.provider.status import container_status_json
from vk_controller.provider.topod import to_provider_pod
from vk_provider_aci import status as aci_status
from vk_provider_fargate import sizing
from vk_provider_fargate import status as fargate_status
from vk_provider_sdk.capacity import QUANTITY, parse_capacity

SETTINGS = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True)
texts = st.text(alphabet=st.sampled_from("ab $()$x_Z9\n"), max_size=30)
envs = st.dictionaries(names, st.text(max_size=10), max_size=5)


# -- $(VAR) expansion -----------------------------------------------------------------------------------------------


@SETTINGS
@given(st.text(max_size=40).filter(lambda text: "$" not in text), envs)
def test_text_without_a_dollar_is_unchanged(text: str, env: dict[str, str]) -> None:
    assert expand(text, env) == text
    assert variables(text) == []


@SETTINGS
@given(names, envs)
def test_a_doubled_dollar_keeps_a_reference_literal(name: str, env: dict[str, str]) -> None:
    assert expand(f"$$({name})", {**env, name: "value"}) == f"$({name})"


@SETTINGS
@given(texts, envs)
def test_escaping_then_expanding_gives_the_text_back(text: str, env: dict[str, str]) -> None:
    """What the controller sends in Kubernetes syntax, the provider's one pass turns back into the literal text."""
    escaped = Expanded.literal(text).text(runtime_expansion=True)
    assert expand(escaped, env) == text


segments = st.lists(
    st.one_of(st.text(max_size=6).filter(lambda text: "$" not in text), names.map(lambda name: ("ref", name))),
    max_size=6,
)


@SETTINGS
@given(segments, st.dictionaries(names, st.one_of(st.text(max_size=6), names.map(lambda n: f"$({n})")), max_size=4))
def test_each_reference_is_replaced_once_by_its_value(parts: list[str | tuple[str, str]], env: dict[str, str]) -> None:
    """Text made of literals and references expands piece by piece; values (even ones that look like references)
    are not expanded again."""
    text = "".join(part if isinstance(part, str) else f"$({part[1]})" for part in parts)
    wanted = "".join(part if isinstance(part, str) else env.get(part[1], f"$({part[1]})") for part in parts)
    assert expand(text, env) == wanted
    assert variables(text) == [part[1] for part in parts if not isinstance(part, str)]


@SETTINGS
@given(texts, names, st.text(alphabet="abc", max_size=5))
def test_an_undefined_reference_stays_as_written(text: str, name: str, value: str) -> None:
    assert expand(f"$({name})", {}) == f"$({name})"
    assert expand(f"{text.replace('$', '')}$({name})", {name: value}).endswith(value)


# -- quantities -----------------------------------------------------------------------------------------------------

small = st.integers(min_value=0, max_value=10**12)
decimal_suffixes = st.sampled_from(["n", "u", "m", "", "k", "M", "G", "T", "P", "E"])
binary_suffixes = st.sampled_from(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"])


@SETTINGS
@given(small, small, st.one_of(decimal_suffixes, binary_suffixes))
def test_parsing_preserves_order(a: int, b: int, suffix: str) -> None:
    low, high = sorted((a, b))
    assert quantity.parse(f"{low}{suffix}") <= quantity.parse(f"{high}{suffix}")


@SETTINGS
@given(small, binary_suffixes)
def test_binary_suffixes_are_powers_of_1024(n: int, suffix: str) -> None:
    power = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].index(suffix) + 1
    assert quantity.parse(f"{n}{suffix}") == n * 1024**power
    assert quantity.value(f"{n}{suffix}") == n * 1024**power


@SETTINGS
@given(small, st.integers(min_value=0, max_value=9))
def test_a_decimal_point_an_exponent_and_a_suffix_agree(whole: int, digit: int) -> None:
    text = f"{whole}.{digit}"
    assert quantity.parse(text) == Fraction(whole * 10 + digit, 10)
    assert quantity.parse(f"{whole}{digit}e-1") == quantity.parse(text)
    assert quantity.parse(f"{whole}{digit}00m") == quantity.parse(text)
    assert quantity.milli_value(text) == whole * 1000 + digit * 100


@SETTINGS
@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(["n", "u", "m", ""]))
def test_whole_units_round_up_by_less_than_one(n: int, suffix: str) -> None:
    exact = quantity.parse(f"{n}{suffix}")
    assert 0 <= quantity.value(f"{n}{suffix}") - exact < 1
    assert 0 <= quantity.milli_value(f"{n}{suffix}") - exact * 1000 < 1
    assert (quantity.milli_value(f"{n}{suffix}") > 0) == (exact > 0)  # a little is never nothing


quantity_texts = st.text(alphabet=st.sampled_from("0123456789.eE+-KMGTPEikmnu"), min_size=1, max_size=12)


@SETTINGS
@given(quantity_texts)
def test_what_the_capacity_flag_accepts_the_controller_parses(text: str) -> None:
    if QUANTITY.match(text):
        assert quantity.parse(text) >= 0


@SETTINGS
@given(quantity_texts)
def test_parsing_either_succeeds_or_says_invalid(text: str) -> None:
    with contextlib.suppress(quantity.InvalidQuantity):  # any other exception fails
        quantity.parse(text)


capacity_values = st.builds(
    lambda n, suffix: f"{n}{suffix}",
    st.integers(min_value=0, max_value=10**6),
    st.one_of(decimal_suffixes, binary_suffixes),
)
resource_names = st.from_regex(r"[a-z][a-z0-9./-]{0,15}", fullmatch=True).filter(lambda n: "=" not in n)


@SETTINGS
@given(st.dictionaries(resource_names, capacity_values, max_size=5), st.dictionaries(resource_names, capacity_values))
def test_the_capacity_flag_round_trips_over_the_defaults(wanted: dict[str, str], defaults: dict[str, str]) -> None:
    problems: list[str] = []
    flag = ",".join(f"{name}={amount}" for name, amount in wanted.items())
    assert parse_capacity(flag, defaults, problems) == {**defaults, **wanted}
    assert problems == []


# -- pod → protocol → Kubernetes ------------------------------------------------------------------------------------

label_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
moments = st.datetimes(
    min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2200, 1, 1), timezones=st.just(datetime.UTC)
).map(lambda moment: moment.replace(microsecond=0))


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": draw(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)),
            "namespace": draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)),
            "uid": draw(st.uuids()).hex,
            "labels": draw(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), label_values, max_size=4)),
            "annotations": draw(st.dictionaries(st.text(min_size=1, max_size=10), label_values, max_size=4)),
            "creationTimestamp": format_time(draw(moments)),
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "resources": {
                        "requests": {
                            "cpu": f"{draw(st.integers(0, 64_000))}m",
                            "memory": f"{draw(st.integers(0, 1 << 20))}Ki",
                        }
                    },
                }
            ]
        },
        "status": {"phase": "Pending"},
    }


@SETTINGS
@given(pods())
def test_pod_metadata_and_json_survive_the_protocol(pod: dict[str, Any]) -> None:
    message = to_provider_pod(pod, revision="r1", include_json=True)
    metadata = pod["metadata"]
    assert (message.metadata.name, message.metadata.namespace, message.metadata.uid) == (
        metadata["name"],
        metadata["namespace"],
        metadata["uid"],
    )
    assert dict(message.metadata.labels) == metadata["labels"]
    assert dict(message.metadata.annotations) == metadata["annotations"]
    created = message.metadata.creation_time.ToDatetime(tzinfo=datetime.UTC)
    assert format_time(created) == metadata["creationTimestamp"]
    stored = json.loads(message.kubernetes_pod_json)
    assert "status" not in stored
    assert "managedFields" not in stored["metadata"]
    assert stored["spec"] == pod["spec"]
    assert {**stored["metadata"], "managedFields": metadata["managedFields"]} == metadata


@SETTINGS
@given(pods())
def test_resource_requests_arrive_as_exact_units(pod: dict[str, Any]) -> None:
    requests = pod["spec"]["containers"][0]["resources"]["requests"]
    message = to_provider_pod(pod, revision="r1")
    sent = message.containers[0].resources.requests
    assert sent.cpu_millicores == int(requests["cpu"].removesuffix("m"))
    assert sent.memory_bytes == int(requests["memory"].removesuffix("Ki")) * 1024


@SETTINGS
@given(moments, st.sampled_from(["Z", "+00:00"]))
def test_a_backend_time_comes_back_to_kubernetes_unchanged(moment: datetime.datetime, zone: str) -> None:
    """ACI's RFC 3339 start time → protocol Timestamp → the container status the controller writes."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + zone
    container = {"name": "c", "properties": {"instanceView": {"currentState": {"state": "Running", "startTime": text}}}}
    status = aci_status.container_status(container)
    written = container_status_json(status, "busybox")
    assert written["state"]["running"]["startedAt"] == format_time(moment)


# -- Fargate sizes --------------------------------------------------------------------------------------------------


@SETTINGS
@given(st.integers(min_value=0, max_value=20_000), st.integers(min_value=0, max_value=130_000))
def test_the_fargate_size_is_valid_covers_the_need_and_is_the_cheapest(cpu: int, memory: int) -> None:
    size = sizing.task_size(cpu, memory)
    covering = [(c, m) for c, ms in sizing.VALID_SIZES.items() for m in ms if c >= cpu and m >= memory]
    if size is None:
        assert covering == []
        return
    assert size.memory_mib in sizing.VALID_SIZES[size.cpu_units]
    assert size.cpu_units >= cpu
    assert size.memory_mib >= memory
    assert (size.cpu_units, size.memory_mib) == min(covering)


@SETTINGS
@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=1 << 50))
def test_kubernetes_amounts_become_fargate_units_rounded_up(millicores: int, size_bytes: int) -> None:
    units = sizing.cpu_units(millicores)
    assert units * 1000 >= millicores * sizing.CPU_UNITS_PER_VCPU > (units - 1) * 1000
    mib = sizing.mebibytes(size_bytes)
    assert mib * sizing.MIB >= size_bytes > (mib - 1) * sizing.MIB


# -- backend state → protocol ---------------------------------------------------------------------------------------

words = st.one_of(
    st.sampled_from(
        ["Running", "Terminated", "Waiting", "Pending", "Completed", "OOMKilled", "Error", "CrashLoopBackOff"]
    ),
    st.text(max_size=12),
)
stamps = st.one_of(st.none(), st.text(max_size=30), moments.map(lambda m: m.isoformat()))
maybe_int = st.one_of(st.none(), st.integers(min_value=-(2**31), max_value=2**31 - 1))


@st.composite
def aci_containers(draw: st.DrawFn) -> dict[str, Any]:
    def state() -> dict[str, Any]:
        return {
            "state": draw(words),
            "startTime": draw(stamps),
            "finishTime": draw(stamps),
            "exitCode": draw(maybe_int),
            "detailStatus": draw(st.one_of(st.none(), words)),
        }

    view = {
        "restartCount": draw(st.one_of(st.none(), st.integers(0, 1000))),
        "currentState": state(),
        "previousState": state(),
        "events": [
            {
                "name": draw(words),
                "message": draw(st.sampled_from(["Readiness probe failed", ""])),
                "lastTimestamp": draw(stamps),
            }
            for _ in range(draw(st.integers(0, 2)))
        ],
    }
    properties: dict[str, Any] = {"image": "busybox", "readinessProbe": draw(st.one_of(st.none(), st.just({"x": 1})))}
    if draw(st.booleans()):
        properties["instanceView"] = view
    return {"name": draw(st.text(max_size=8)), "properties": properties}


@SETTINGS
@given(
    st.lists(aci_containers(), max_size=3),
    st.lists(aci_containers(), max_size=3),
    st.sampled_from(["Always", "OnFailure", "Never", None]),
    st.one_of(st.none(), words),
)
def test_aci_state_mapping_is_total(
    inits: list[dict[str, Any]], containers: list[dict[str, Any]], restart: str | None, provisioning: str | None
) -> None:
    group = {
        "properties": {
            "initContainers": inits,
            "containers": containers,
            "restartPolicy": restart,
            "provisioningState": provisioning,
        }
    }
    status = aci_status.pod_status(group)
    assert status.phase != status_pb2.POD_PHASE_UNSPECIFIED
    assert len(status.container_statuses) == len(containers)
    for container in (*status.init_container_statuses, *status.container_statuses):
        assert container.state.WhichOneof("state") is not None
        container_status_json(container, "busybox")  # and the controller can write it


@SETTINGS
@given(st.text(max_size=40))
def test_aci_timestamps_are_read_or_ignored(text: str) -> None:
    aci_status.timestamp(text)


ecs_statuses = st.sampled_from(
    ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED", "X"]
)
reasons = st.one_of(
    st.sampled_from(["", "OutOfMemoryError: killed", "CannotPullContainerError: nope", "Essential container exited"]),
    st.text(max_size=20),
)
optional_times = st.one_of(st.none(), moments, st.text(max_size=5))


@st.composite
def ecs_tasks(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    containers = [
        {
            "name": name,
            "lastStatus": draw(st.sampled_from(["PENDING", "RUNNING", "STOPPED"])),
            "exitCode": draw(maybe_int),
            "reason": draw(reasons),
            "imageDigest": draw(st.one_of(st.none(), st.just("sha256:ab"))),
        }
        for name in names
        if draw(st.booleans())
    ]
    return {
        "taskArn": "arn:aws:ecs:eu-west-1:1:task/c/" + draw(st.text(alphabet="0123456789abcdef", max_size=8)),
        "lastStatus": draw(ecs_statuses),
        "stoppedReason": draw(reasons),
        "stopCode": draw(st.sampled_from(["", "TaskFailedToStart", "SpotInterruption", "UserInitiated", "Other"])),
        "createdAt": draw(optional_times),
        "startedAt": draw(optional_times),
        "stoppedAt": draw(optional_times),
        "containers": containers,
        "attachments": draw(
            st.sampled_from(
                [
                    [],
                    [
                        {
                            "type": "ElasticNetworkInterface",
                            "details": [{"name": "privateIPv4Address", "value": "10.0.0.1"}],
                        }
                    ],
                ]
            )
        ),
    }


@SETTINGS
@given(st.data(), st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), min_size=1, max_size=4, unique=True))
def test_fargate_state_mapping_is_total(data: st.DataObject, names: list[str]) -> None:
    split = data.draw(st.integers(0, len(names) - 1))
    inits = [(name, "busybox", data.draw(st.booleans())) for name in names[:split]]
    regular = [(name, "busybox") for name in names[split:]]
    task = data.draw(ecs_tasks(names))
    restart = data.draw(st.sampled_from(["Always", "OnFailure", "Never"]))
    status = fargate_status.pod_status(task, init_containers=inits, containers=regular, restart_policy=restart)
    assert status.phase != status_pb2.POD_PHASE_UNSPECIFIED
    assert [c.name for c in status.container_statuses] == [name for name, _ in regular]
    for container in (*status.init_container_statuses, *status.container_statuses):
        assert container.state.WhichOneof("state") is not None
        container_status_json(container, "busybox")
    if task["lastStatus"] == "STOPPED":
        assert status.phase in (status_pb2.POD_PHASE_SUCCEEDED, status_pb2.POD_PHASE_FAILED)
