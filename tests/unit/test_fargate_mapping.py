"""The Fargate provider's pure mappings: task sizes, pod → task definition, task → pod status, configuration."""

from __future__ import annotations

import argparse
import base64
import datetime
import json

import pytest
from integration.reliability import record

from virtualkubelet.provider.v1 import container_pb2, pod_pb2, status_pb2, volume_pb2
from vk_provider_fargate import config, sizing, status, taskdef
from vk_provider_fargate.layout import from_definitions
from vk_provider_sdk import errors

CONFIG = config.FargateConfig(
    cluster="c",
    region="eu-west-1",
    subnets=("subnet-0123abcd",),
    security_groups=("sg-0123abcd",),
    execution_role_arn="arn:aws:iam::123456789012:role/exec",
    log_group="/vk",
)
MIB = 1024 * 1024


# -- sizes --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        (0, 0, (256, 512)),
        (256, 512, (256, 512)),
        (100, 1500, (256, 2048)),
        (256, 2049, (512, 3072)),
        (300, 512, (512, 1024)),
        (1024, 100, (1024, 2048)),
        (2048, 16384, (2048, 16384)),
        (2048, 16385, (4096, 17408)),
        (4096, 30721, (8192, 32768)),
        (8192, 16385, (8192, 20480)),
        (8193, 0, (16384, 32768)),
        (16384, 120 * 1024, (16384, 122880)),
        (16384, 32769, (16384, 40960)),
    ],
)
def test_task_size_rounds_up_to_a_valid_fargate_pair(cpu: int, memory: int, expected: tuple[int, int]) -> None:
    size = sizing.task_size(cpu, memory)
    assert size is not None
    assert (size.cpu_units, size.memory_mib) == expected
    assert size.memory_mib in sizing.VALID_SIZES[size.cpu_units]


@pytest.mark.parametrize(("cpu", "memory"), [(16385, 0), (0, 122881)])
def test_task_size_beyond_the_largest_task_is_none(cpu: int, memory: int) -> None:
    assert sizing.task_size(cpu, memory) is None


def test_every_valid_size_is_in_the_table() -> None:
    assert sizing.VALID_SIZES[256] == (512, 1024, 2048)
    assert sizing.VALID_SIZES[4096][-1] == 30720
    assert sizing.VALID_SIZES[8192][1] - sizing.VALID_SIZES[8192][0] == 4096
    assert sizing.VALID_SIZES[16384][1] - sizing.VALID_SIZES[16384][0] == 8192
    assert sizing.cpu_units(250) == 256
    assert sizing.cpu_units(1) == 2


# -- pod → task definition ----------------------------------------------------------------------------------------


def _container(name: str = "main", **fields: object) -> container_pb2.Container:
    return container_pb2.Container(name=name, image="busybox:1.36", **fields)  # type: ignore[arg-type]


def _pod(*containers: container_pb2.Container, **fields: object) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(
        metadata=pod_pb2.PodMetadata(uid="u-1", namespace="ns", name="p"),
        containers=list(containers) or [_container()],
        **fields,  # type: ignore[arg-type]
    )
    return pod


def _resources(cpu: int, memory_mib: int) -> container_pb2.ResourceRequirements:
    amounts = container_pb2.ResourceList(cpu_millicores=cpu, memory_bytes=memory_mib * MIB)
    return container_pb2.ResourceRequirements(requests=amounts, limits=amounts)


def test_command_args_env_ports_and_resources_map_to_the_container_definition() -> None:
    main = _container(
        command=["sh", "-c"],
        args=["echo hi"],
        working_dir="/w",
        env=[
            container_pb2.EnvVar(name="A", value="1"),
            container_pb2.EnvVar(name="B", value="2"),
            container_pb2.EnvVar(name="A", value="3"),
        ],
        ports=[container_pb2.ContainerPort(container_port=8080, protocol=container_pb2.PORT_PROTOCOL_UDP)],
        resources=_resources(250, 300),
    )
    built = taskdef.build(_pod(main, restart_policy=pod_pb2.RESTART_POLICY_NEVER), CONFIG, node_name="n")
    (definition,) = built.arguments["containerDefinitions"]
    assert definition["entryPoint"] == ["sh", "-c"]
    assert definition["command"] == ["echo hi"]
    assert definition["workingDirectory"] == "/w"
    assert definition["environment"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "3"}]
    assert definition["portMappings"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "udp"}]
    assert (definition["cpu"], definition["memory"], definition["memoryReservation"]) == (256, 300, 300)
    assert definition["essential"] is True
    assert "restartPolicy" not in definition
    assert definition["logConfiguration"]["options"]["awslogs-group"] == "/vk"
    assert (built.arguments["cpu"], built.arguments["memory"]) == ("256", "512")
    assert built.arguments["networkMode"] == "awsvpc"
    assert built.arguments["requiresCompatibilities"] == ["FARGATE"]


def test_identical_specs_share_a_family_and_different_ones_do_not() -> None:
    one = taskdef.build(_pod(), CONFIG, node_name="n")
    two = taskdef.build(_pod(), CONFIG, node_name="n")
    other = taskdef.build(_pod(_container(args=["x"])), CONFIG, node_name="n")
    assert one.family == two.family
    assert one.family != other.family
    assert one.family != taskdef.build(_pod(), CONFIG, node_name="m").family


def test_init_containers_run_in_order_before_the_containers() -> None:
    pod = _pod(_container("main"), init_containers=[_container("first"), _container("second")])
    definitions = {d["name"]: d for d in taskdef.build(pod, CONFIG, node_name="n").arguments["containerDefinitions"]}
    assert definitions["first"]["essential"] is False
    assert "dependsOn" not in definitions["first"]
    assert definitions["second"]["dependsOn"] == [{"containerName": "first", "condition": "SUCCESS"}]
    assert definitions["main"]["dependsOn"] == [{"containerName": "second", "condition": "SUCCESS"}]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (pod_pb2.RESTART_POLICY_ALWAYS, {"enabled": True}),
        (pod_pb2.RESTART_POLICY_UNSPECIFIED, {"enabled": True}),
        (pod_pb2.RESTART_POLICY_ON_FAILURE, {"enabled": True, "ignoredExitCodes": [0]}),
        (pod_pb2.RESTART_POLICY_NEVER, None),
    ],
)
def test_restart_policy_maps_to_the_ecs_container_restart_policy(policy: int, expected: object) -> None:
    built = taskdef.build(_pod(restart_policy=policy), CONFIG, node_name="n")
    definitions = built.arguments["containerDefinitions"]
    assert definitions[0].get("restartPolicy") == expected
    name = taskdef.restart_policy(_pod(restart_policy=policy))
    assert from_definitions(definitions).restart_policy == name


def test_liveness_exec_probe_becomes_a_health_check_within_ecs_ranges() -> None:
    probe = container_pb2.Probe(
        exec=container_pb2.ExecAction(command=["cat", "/ok"]), period_seconds=1, timeout_seconds=1, failure_threshold=30
    )
    built = taskdef.build(_pod(_container(liveness_probe=probe)), CONFIG, node_name="n")
    check = built.arguments["containerDefinitions"][0]["healthCheck"]
    assert check == {"command": ["CMD", "cat", "/ok"], "interval": 5, "timeout": 2, "retries": 10, "startPeriod": 0}


def test_empty_dir_and_files_volumes() -> None:
    volumes = [
        volume_pb2.Volume(name="scratch", empty_dir=volume_pb2.EmptyDirVolume(size_limit_bytes=30 * 1024**3)),
        volume_pb2.Volume(
            name="config",
            files=volume_pb2.FilesVolume(
                source=volume_pb2.FILES_SOURCE_CONFIG_MAP,
                files=[volume_pb2.VolumeFile(path="a/b.yaml", content=b"x: 1", mode=0o600)],
            ),
        ),
    ]
    mounts = [
        container_pb2.VolumeMount(name="scratch", mount_path="/tmp/s"),
        container_pb2.VolumeMount(name="config", mount_path="/etc/c"),
    ]
    built = taskdef.build(_pod(_container(volume_mounts=mounts), volumes=volumes), CONFIG, node_name="n")
    arguments = built.arguments
    assert arguments["volumes"] == [{"name": "scratch"}, {"name": "config"}]
    assert arguments["ephemeralStorage"] == {"sizeInGiB": 30}
    helper, main = arguments["containerDefinitions"]
    assert helper["name"] == taskdef.FILES_CONTAINER
    assert helper["essential"] is False
    assert helper["environment"] == [{"name": "VK_FILE_0", "value": "eDogMQ=="}]
    assert "chmod 600 /vk-files/config/a/b.yaml" in helper["entryPoint"][2]
    assert main["dependsOn"] == [{"containerName": taskdef.FILES_CONTAINER, "condition": "SUCCESS"}]
    assert main["mountPoints"] == [
        {"sourceVolume": "scratch", "containerPath": "/tmp/s", "readOnly": False},
        {"sourceVolume": "config", "containerPath": "/etc/c", "readOnly": True},
    ]
    assert [name for name, _ in built.containers] == ["main"]


@pytest.mark.parametrize(
    ("server", "host"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("http://Registry.Example:5000/", "registry.example:5000"),
        ("r.example/some/path", "r.example"),
        ("r.example/", "r.example"),
    ],
)
def test_credential_servers_are_normalised_to_a_registry_host(server: str, host: str) -> None:
    assert taskdef.registry_host(server) == host


@pytest.mark.parametrize(
    ("image", "host"),
    [
        ("busybox", "docker.io"),
        ("busybox:1.36", "docker.io"),
        ("library/busybox@sha256:abc", "docker.io"),
        ("index.docker.io/library/busybox", "docker.io"),
        ("r.example/team/app:1", "r.example"),
        ("localhost/app", "localhost"),
        ("registry.example:5000/app", "registry.example:5000"),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
    ],
)
def test_an_images_registry_host_is_docker_io_unless_it_names_one(image: str, host: str) -> None:
    assert taskdef.image_registry(image) == host


def test_auth_only_credentials_are_decoded_and_tokens_refused() -> None:
    auth = base64.b64encode(b"user:pa:ss").decode()
    assert taskdef.registry_login(pod_pb2.ImagePullCredential(server="r", auth=auth)) == {
        "username": "user",
        "password": "pa:ss",
    }
    explicit = pod_pb2.ImagePullCredential(server="r", username="u", password="p", auth=auth)
    assert taskdef.registry_login(explicit) == {"username": "u", "password": "p"}
    with pytest.raises(errors.InvalidPod, match=r"spec.imagePullSecrets: .*identity token.*user name and password"):
        taskdef.registry_login(pod_pb2.ImagePullCredential(server="r", identity_token="tok-secret"))
    with pytest.raises(errors.InvalidPod, match=r"not base64 of user:password") as refused:
        taskdef.registry_login(pod_pb2.ImagePullCredential(server="r", auth=base64.b64encode(b"nocolon").decode()))
    assert "nocolon" not in str(refused.value)


def test_containers_use_the_secret_of_their_registrys_credentials() -> None:
    hub = pod_pb2.ImagePullCredential(server="https://index.docker.io/v1/", username="hub", password="hub-pw")
    private = pod_pb2.ImagePullCredential(server="r.example", auth=base64.b64encode(b"me:private-pw").decode())
    token = pod_pb2.ImagePullCredential(server="other.example", identity_token="t")
    pod = _pod(
        container_pb2.Container(name="a", image="r.example/team/a:1"),
        container_pb2.Container(name="b", image="busybox"),
        container_pb2.Container(name="c", image="r.example/team/c:1"),
        container_pb2.Container(name="d", image="unmatched.example/d"),
        init_containers=[container_pb2.Container(name="i", image="docker.io/library/alpine")],
        image_pull_credentials=[private, hub, token],
    )
    draft = taskdef.build(pod, CONFIG, node_name="n")
    assert draft.registry_secrets == (
        {"username": "hub", "password": "hub-pw"},
        {"username": "me", "password": "private-pw"},
    )
    arns = ("arn:registry-0", "arn:registry-1")
    built = taskdef.build(pod, CONFIG, node_name="n", registry_arns=arns)
    by_name = {d["name"]: d.get("repositoryCredentials") for d in built.arguments["containerDefinitions"]}
    assert by_name == {
        "i": {"credentialsParameter": arns[0]},
        "a": {"credentialsParameter": arns[1]},
        "b": {"credentialsParameter": arns[0]},
        "c": {"credentialsParameter": arns[1]},
        "d": None,
    }
    document = json.dumps(built.arguments)
    for value in ("hub-pw", "private-pw", private.auth):
        assert value not in document
    pod.containers[3].image = "other.example/d"
    with pytest.raises(errors.InvalidPod, match=r"spec.imagePullSecrets: .*identity token"):
        taskdef.build(pod, CONFIG, node_name="n")


def test_the_annotation_overrides_image_pull_credentials() -> None:
    credential = pod_pb2.ImagePullCredential(server="docker.io", username="u", password="p")
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry-AbCdEf"
    pod = _pod(image_pull_credentials=[credential])
    pod.metadata.annotations[taskdef.REPOSITORY_CREDENTIALS_ANNOTATION] = arn
    built = taskdef.build(pod, CONFIG, node_name="n")
    definition = built.arguments["containerDefinitions"][0]
    assert definition["repositoryCredentials"] == {"credentialsParameter": arn}
    assert not built.registry_secrets
    assert "p" not in str(definition["environment"])
    pod.metadata.annotations[taskdef.REPOSITORY_CREDENTIALS_ANNOTATION] = "not-an-arn"
    with pytest.raises(errors.InvalidPod, match=r"is not a Secrets Manager secret ARN"):
        taskdef.build(pod, CONFIG, node_name="n")


def _files(sensitive: bool, token: bytes = b"t") -> volume_pb2.Volume:
    file = volume_pb2.VolumeFile(path="token", content=token, sensitive=sensitive)
    return volume_pb2.Volume(name="kube-api-access", files=volume_pb2.FilesVolume(files=[file], sensitive=sensitive))


SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:virtual-kubelet/n/u-1-AbCdEf"


def _secret_pod() -> pod_pb2.Pod:
    api = volume_pb2.Volume(
        name="kube-api-access",
        files=volume_pb2.FilesVolume(
            source=volume_pb2.FILES_SOURCE_PROJECTED,
            sensitive=True,
            files=[
                volume_pb2.VolumeFile(path="token", content=b"eyJtoken", sensitive=True),
                volume_pb2.VolumeFile(path="ca.crt", content=b"-----CA-----"),
                volume_pb2.VolumeFile(path="namespace", content=b"ns"),
            ],
        ),
    )
    config_map = volume_pb2.Volume(
        name="config",
        files=volume_pb2.FilesVolume(
            source=volume_pb2.FILES_SOURCE_CONFIG_MAP, files=[volume_pb2.VolumeFile(path="c", content=b"plain")]
        ),
    )
    main = _container(
        env=[
            container_pb2.EnvVar(name="PASSWORD", value="hunter2", sensitive=True),
            container_pb2.EnvVar(name="PLAIN", value="visible"),
            container_pb2.EnvVar(name="SHADOWED", value="old-secret", sensitive=True),
            container_pb2.EnvVar(name="SHADOWED", value="now-plain"),
        ],
        volume_mounts=[
            container_pb2.VolumeMount(name="kube-api-access", mount_path="/var/run/secrets/kubernetes.io/sa"),
            container_pb2.VolumeMount(name="config", mount_path="/etc/c"),
        ],
    )
    return _pod(main, volumes=[api, config_map])


def test_sensitive_values_go_to_the_secret_and_the_definition_only_references_them() -> None:
    draft = taskdef.build(_secret_pod(), CONFIG, node_name="n")
    built = taskdef.build(_secret_pod(), CONFIG, node_name="n", secret_arn=SECRET_ARN)
    assert draft.secrets == built.secrets
    assert built.secrets == {
        "v0": "ZXlKdG9rZW4=",  # base64 of the token
        "v1": "LS0tLS1DQS0tLS0t",  # ca.crt: the volume is sensitive, so all of it is
        "v2": "bnM=",
        "v3": "hunter2",
    }
    helper, main = built.arguments["containerDefinitions"]
    assert helper["name"] == taskdef.FILES_CONTAINER
    assert helper["environment"] == [{"name": "VK_FILE_3", "value": "cGxhaW4="}]
    assert helper["secrets"] == [
        {"name": f"VK_FILE_{index}", "valueFrom": f"{SECRET_ARN}:v{index}::"} for index in range(3)
    ]
    assert "/vk-files/kube-api-access/token" in helper["entryPoint"][2]
    assert main["secrets"] == [{"name": "PASSWORD", "valueFrom": f"{SECRET_ARN}:v3::"}]
    assert main["environment"] == [{"name": "PLAIN", "value": "visible"}, {"name": "SHADOWED", "value": "now-plain"}]
    document = str(built.arguments)
    for value in ("hunter2", "old-secret", "ZXlKdG9rZW4=", "eyJtoken"):
        assert value not in document
    assert built.family != draft.family  # the references, not the values, are hashed
    again = taskdef.build(_secret_pod(), CONFIG, node_name="n", secret_arn=SECRET_ARN)
    assert again.family == built.family
    other = _secret_pod()
    other.containers[0].env[0].value = "another password"
    assert taskdef.build(other, CONFIG, node_name="n", secret_arn=SECRET_ARN).family == built.family
    assert not taskdef.build(_pod(), CONFIG, node_name="n").secrets


def test_a_secret_volume_larger_than_a_secrets_manager_secret_is_refused() -> None:
    with pytest.raises(errors.InvalidPod, match=r"at most 65536 bytes") as refused:
        taskdef.build(_pod(volumes=[_files(True, b"s" * 50000)]), CONFIG, node_name="n")
    assert "sss" not in str(refused.value)


REFUSALS: list[tuple[str, pod_pb2.Pod, str]] = [
    (
        "hostPath",
        _pod(volumes=[volume_pb2.Volume(name="h", unsupported=volume_pb2.UnsupportedVolume(kind="hostPath"))]),
        "spec.volumes[0].hostPath: hostPath volumes",
    ),
    ("unknown volume", _pod(volumes=[volume_pb2.Volume(name="x")]), "spec.volumes[0]: the volume source is not set"),
    (
        "pvc",
        _pod(
            volumes=[
                volume_pb2.Volume(
                    name="d", persistent_volume_claim=volume_pb2.PersistentVolumeClaimVolume(claim_name="c")
                )
            ]
        ),
        "spec.volumes[0].persistentVolumeClaim",
    ),
    (
        "memory emptyDir",
        _pod(
            volumes=[
                volume_pb2.Volume(
                    name="m", empty_dir=volume_pb2.EmptyDirVolume(medium=volume_pb2.STORAGE_MEDIUM_MEMORY)
                )
            ]
        ),
        "spec.volumes[0].emptyDir.medium",
    ),
    (
        "privileged",
        _pod(_container(security_context=container_pb2.SecurityContext(privileged=True))),
        "spec.containers[0].securityContext.privileged",
    ),
    (
        "capability",
        _pod(
            _container(
                security_context=container_pb2.SecurityContext(
                    capabilities=container_pb2.LinuxCapabilities(add=["NET_ADMIN"])
                )
            )
        ),
        "capabilities.add: NET_ADMIN",
    ),
    ("host network", _pod(host_network=True), "spec.hostNetwork"),
    ("too much cpu", _pod(_container(resources=_resources(17000, 1024))), "spec.containers[0].resources: 17000m CPU"),
    (
        "too much memory",
        _pod(_container(resources=_resources(1000, 200 * 1024))),
        "spec.containers[0].resources: the memory",
    ),
    (
        "too much together",
        _pod(_container("a", resources=_resources(16000, 1024)), _container("b", resources=_resources(1000, 1024))),
        "the containers together need",
    ),
    (
        "pod ip env",
        _pod(_container(env=[container_pb2.EnvVar(name="IP", runtime_value=container_pb2.RUNTIME_VALUE_POD_IP)])),
        "spec.containers[0].env[0] (IP)",
    ),
    (
        "readiness",
        _pod(_container(readiness_probe=container_pb2.Probe(exec=container_pb2.ExecAction(command=["true"])))),
        "spec.containers[0].readinessProbe",
    ),
    (
        "http liveness",
        _pod(_container(liveness_probe=container_pb2.Probe(http_get=container_pb2.HTTPGetAction(port=80)))),
        "spec.containers[0].livenessProbe.httpGet",
    ),
    (
        "preStop",
        _pod(
            _container(
                lifecycle=container_pb2.Lifecycle(
                    pre_stop=container_pb2.LifecycleHandler(sleep=container_pb2.SleepAction(seconds=1))
                )
            )
        ),
        "spec.containers[0].lifecycle.preStop",
    ),
    (
        "subPath",
        _pod(
            _container(volume_mounts=[container_pb2.VolumeMount(name="s", mount_path="/s", sub_path="x")]),
            volumes=[volume_pb2.Volume(name="s", empty_dir=volume_pb2.EmptyDirVolume())],
        ),
        "volumeMounts[0].subPath",
    ),
    (
        "sctp",
        _pod(
            _container(ports=[container_pb2.ContainerPort(container_port=1, protocol=container_pb2.PORT_PROTOCOL_SCTP)])
        ),
        "spec.containers[0].ports[0].protocol",
    ),
    ("restart policy", _pod(restart_policy=42), "spec.restartPolicy: value 42"),
    (
        "gpu",
        _pod(
            _container(
                resources=container_pb2.ResourceRequirements(
                    limits=container_pb2.ResourceList(extended={"nvidia.com/gpu": "1"})
                )
            )
        ),
        "resources.limits[nvidia.com/gpu]",
    ),
    ("pull never", _pod(_container(image_pull_policy=container_pb2.IMAGE_PULL_POLICY_NEVER)), "imagePullPolicy: Never"),
    ("no containers", pod_pb2.Pod(metadata=pod_pb2.PodMetadata(uid="u")), "spec.containers: at least one"),
]


@pytest.mark.parametrize(("case", "pod", "expected"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_unsupported_features_are_refused_naming_the_field(case: str, pod: pod_pb2.Pod, expected: str) -> None:
    with pytest.raises(errors.InvalidPod) as refused:
        taskdef.build(pod, CONFIG, node_name="n")
    record(
        "pod-spec",
        provider="fargate",
        case=case,
        reason=refused.value.reason,
        message=refused.value.message,
        test=f"tests/unit/test_fargate_mapping.py::test_unsupported_features_are_refused_naming_the_field[{case}]",
    )
    assert expected in refused.value.message
    assert "hunter2" not in refused.value.message


# -- task → pod status --------------------------------------------------------------------------------------------

ENI = {
    "type": "ElasticNetworkInterface",
    "details": [{"name": "subnetId", "value": "subnet-1"}, {"name": "privateIPv4Address", "value": "10.0.0.7"}],
}
STARTED = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def _status(task: dict[str, object], policy: str = "Never", init: bool = False) -> status_pb2.PodStatus:
    task = {"taskArn": "arn:aws:ecs:eu-west-1:1:task/c/abc", **task}
    return status.pod_status(
        task,
        init_containers=[("init", "busybox", False)] if init else [],
        containers=[("main", "busybox:1.36")],
        restart_policy=policy,
    )


def test_a_provisioning_task_is_pending_and_creating() -> None:
    got = _status({"lastStatus": "PROVISIONING", "containers": [{"name": "main", "lastStatus": "PENDING"}]})
    assert got.phase == status_pb2.POD_PHASE_PENDING
    assert got.container_statuses[0].state.waiting.reason == "ContainerCreating"
    assert not got.pod_ips


def test_a_running_task_is_running_with_the_eni_address() -> None:
    got = _status(
        {
            "lastStatus": "RUNNING",
            "startedAt": STARTED,
            "createdAt": STARTED,
            "attachments": [ENI],
            "containers": [{"name": "main", "lastStatus": "RUNNING"}],
        }
    )
    main = got.container_statuses[0]
    assert got.phase == status_pb2.POD_PHASE_RUNNING
    assert list(got.pod_ips) == ["10.0.0.7"]
    assert main.state.running.started_at.ToDatetime(tzinfo=datetime.UTC) == STARTED
    assert main.ready
    assert main.started
    assert main.container_id == "fargate://abc/main"


@pytest.mark.parametrize(
    ("code", "phase", "reason"),
    [(0, status_pb2.POD_PHASE_SUCCEEDED, "Completed"), (3, status_pb2.POD_PHASE_FAILED, "Error")],
)
def test_a_stopped_task_reports_exit_codes(code: int, phase: int, reason: str) -> None:
    got = _status(
        {
            "lastStatus": "STOPPED",
            "stopCode": "EssentialContainerExited",
            "containers": [{"name": "main", "lastStatus": "STOPPED", "exitCode": code}],
        }
    )
    terminated = got.container_statuses[0].state.terminated
    assert (got.phase, terminated.exit_code, terminated.reason) == (phase, code, reason)
    assert got.reason == ""


def test_an_image_pull_failure_is_err_image_pull() -> None:
    got = _status(
        {
            "lastStatus": "STOPPED",
            "stopCode": "TaskFailedToStart",
            "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
            "containers": [{"name": "main", "lastStatus": "PENDING"}],
        }
    )
    assert got.phase == status_pb2.POD_PHASE_FAILED
    assert got.reason == "ErrImagePull"
    assert got.container_statuses[0].state.waiting.reason == "ErrImagePull"


def test_oom_and_unknown_exit() -> None:
    oom = _status(
        {
            "lastStatus": "STOPPED",
            "containers": [
                {
                    "name": "main",
                    "lastStatus": "STOPPED",
                    "exitCode": 137,
                    "reason": "OutOfMemoryError: Container killed",
                }
            ],
        }
    )
    assert oom.container_statuses[0].state.terminated.reason == "OOMKilled"
    lost = _status({"lastStatus": "STOPPED", "stopCode": "UserInitiated", "containers": []})
    terminated = lost.container_statuses[0].state.terminated
    assert not terminated.HasField("exit_code")
    assert lost.phase == status_pb2.POD_PHASE_FAILED


def test_with_restart_always_an_exited_container_does_not_end_the_pod_until_the_task_stops() -> None:
    running = _status(
        {"lastStatus": "RUNNING", "containers": [{"name": "main", "lastStatus": "STOPPED", "exitCode": 0}]},
        policy="Always",
    )
    assert running.phase == status_pb2.POD_PHASE_RUNNING


def test_regular_containers_wait_for_init_containers() -> None:
    got = _status({"lastStatus": "RUNNING", "containers": [{"name": "init", "lastStatus": "RUNNING"}]}, init=True)
    assert got.phase == status_pb2.POD_PHASE_PENDING
    assert got.container_statuses[0].state.waiting.reason == "PodInitializing"


# -- configuration ------------------------------------------------------------------------------------------------


def _args(**values: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    args = parser.parse_args([])
    for key, value in values.items():
        setattr(args, key, value)
    return args


def test_configuration_reports_every_mistake_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    args = _args(
        cluster="my cluster",
        region="mars",
        subnets="subnet-nope",
        security_groups="",
        execution_role_arn="role",
        log_group="",
        assign_public_ip="maybe",
        tag=["aws:x=1"],
        poll_interval="5",
        max_poll_interval="1",
    )
    with pytest.raises(ValueError, match="invalid Fargate configuration") as raised:
        config.from_args(args)
    message = str(raised.value)
    for expected in (
        "--cluster: 'my cluster'",
        "--region: 'mars'",
        "--subnets: 'subnet-nope'",
        "--security-groups: at least one",
        "--execution-role-arn: 'role' is not an IAM role ARN",
        "--log-group: required",
        "--assign-public-ip: 'maybe'",
        "--tag: 'aws:x' uses a reserved prefix",
        "--max-poll-interval: 1 is shorter",
    ):
        assert expected in message


def test_a_valid_configuration() -> None:
    args = _args(
        cluster="c",
        region="eu-west-1",
        subnets="subnet-0123abcd,subnet-0123abce",
        security_groups="sg-0123abcd",
        execution_role_arn="arn:aws:iam::123456789012:role/exec",
        log_group="/vk",
        assign_public_ip="enabled",
        tag=["team=a"],
        capacity="cpu=4",
    )
    parsed = config.from_args(args)
    assert parsed.subnets == ("subnet-0123abcd", "subnet-0123abce")
    assert parsed.assign_public_ip is True
    assert parsed.tags == {"team": "a"}
    assert parsed.capacity == {"cpu": "4", "memory": "64Gi", "pods": "100"}
