"""A Kubernetes pod's JSON becomes the protocol's Pod: defaults, expansion, resolution, volumes, DNS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from virtualkubelet.provider.v1 import container_pb2, pod_pb2, volume_pb2
from vk_controller.pods.resolved import (
    AzureFileCredentials,
    ClusterDNS,
    InvalidPodSpec,
    PullCredential,
    ResolvedEnvVar,
    ResolvedFile,
    ResolvedFiles,
    ResolvedPod,
    RuntimeValue,
    UnresolvedReference,
)
from vk_controller.provider.topod import to_provider_pod

Json = dict[str, Any]


def make_pod(*containers: Json, **spec: Any) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "shop", "uid": "9a1c-uid"},
        "spec": {"containers": list(containers) or [{"name": "app", "image": "nginx:1.27"}], **spec},
    }


def app(**fields: Any) -> Json:
    return {"name": "app", "image": "nginx:1.27", **fields}


def convert(pod: Json, resolved: ResolvedPod | None = None, **kwargs: Any) -> pod_pb2.Pod:
    return to_provider_pod(pod, revision="rev-1", resolved=resolved, **kwargs)


def only_container(pod: Json, resolved: ResolvedPod | None = None) -> container_pb2.Container:
    (container,) = convert(pod, resolved).containers
    return container


def env_of(container: container_pb2.Container) -> dict[str, str]:
    return {var.name: var.value for var in container.env}


# Pod-level fields


def test_metadata_revision_and_identity_are_carried_over() -> None:
    pod = make_pod(nodeName="vk-node", serviceAccountName="shop-sa", priority=1000, priorityClassName="high")
    pod["metadata"] |= {
        "labels": {"app": "web"},
        "annotations": {"aci.example.com/gpu-sku": "K80"},
        "creationTimestamp": "2024-05-01T10:00:00Z",
    }

    message = convert(pod)

    assert (message.metadata.uid, message.metadata.namespace, message.metadata.name) == ("9a1c-uid", "shop", "web-0")
    assert dict(message.metadata.labels) == {"app": "web"}
    assert dict(message.metadata.annotations) == {"aci.example.com/gpu-sku": "K80"}
    assert message.metadata.creation_time.ToJsonString() == "2024-05-01T10:00:00Z"
    assert message.revision == "rev-1"
    assert (message.node_name, message.service_account_name) == ("vk-node", "shop-sa")
    assert (message.priority, message.priority_class_name) == (1000, "high")


def test_pod_defaults_are_the_kubernetes_ones() -> None:
    message = convert(make_pod())

    assert message.restart_policy == pod_pb2.RESTART_POLICY_ALWAYS
    assert message.termination_grace_period_seconds == 30
    assert not message.HasField("active_deadline_seconds")
    assert not message.HasField("priority")
    assert message.dns_policy == pod_pb2.DNS_POLICY_CLUSTER_FIRST
    assert message.hostname == "web-0"
    assert message.kubernetes_pod_json == ""


def test_pod_settings_as_written() -> None:
    pod = make_pod(
        restartPolicy="OnFailure",
        terminationGracePeriodSeconds=0,
        activeDeadlineSeconds=600,
        hostAliases=[{"ip": "10.1.2.3", "hostnames": ["db", "db.local"]}],
        securityContext={"fsGroup": 2000, "supplementalGroups": [3000, 4000], "runAsUser": 1000},
        runtimeClassName="kata",
    )

    message = convert(pod)

    assert message.restart_policy == pod_pb2.RESTART_POLICY_ON_FAILURE
    assert message.termination_grace_period_seconds == 0, "zero is a setting, not an absence"
    assert message.active_deadline_seconds == 600
    assert [(alias.ip, list(alias.hostnames)) for alias in message.host_aliases] == [("10.1.2.3", ["db", "db.local"])]
    assert message.security_context.fs_group == 2000
    assert list(message.security_context.supplemental_groups) == [3000, 4000]
    assert message.runtime_class_name == "kata"


def test_the_hostname_is_the_pod_name_cut_to_a_dns_label() -> None:
    long_name = "a" * 62 + "-b" + "c" * 10

    assert convert(make_pod() | {"metadata": {"name": long_name, "uid": "u"}}).hostname == "a" * 62
    assert convert(make_pod(hostname="db-primary")).hostname == "db-primary"


def test_the_fqdn_needs_a_subdomain_and_the_cluster_domain() -> None:
    cluster = ResolvedPod(cluster_dns=ClusterDNS(nameservers=["10.96.0.10"], domain="cluster.local"))
    pod = make_pod(hostname="db-0", subdomain="db", setHostnameAsFQDN=True)

    message = convert(pod, cluster)

    assert (message.hostname, message.subdomain) == ("db-0", "db")
    assert message.fqdn == "db-0.db.shop.svc.cluster.local"
    assert message.set_hostname_as_fqdn
    assert convert(make_pod(hostname="db-0")).fqdn == ""
    assert convert(pod).fqdn == "", "without the cluster domain there is no FQDN to give"


def test_the_pod_json_is_included_only_on_request_without_status_and_managed_fields() -> None:
    pod = make_pod()
    pod["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    pod["status"] = {"phase": "Pending"}

    included = json.loads(convert(pod, include_json=True).kubernetes_pod_json)

    assert "status" not in included
    assert "managedFields" not in included["metadata"]
    assert included["spec"] == pod["spec"]
    assert pod["metadata"]["managedFields"], "the caller's object is left alone"


# DNS


CLUSTER = ResolvedPod(cluster_dns=ClusterDNS(nameservers=["10.96.0.10"], domain="cluster.local"))


def test_cluster_first_uses_the_cluster_dns_and_search_domains() -> None:
    config = convert(make_pod(), CLUSTER).dns_config

    assert list(config.nameservers) == ["10.96.0.10"]
    assert list(config.searches) == ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert [(option.name, option.value) for option in config.options] == [("ndots", "5")]


def test_the_pods_dns_config_is_appended_and_its_options_override() -> None:
    pod = make_pod(
        dnsConfig={
            "nameservers": ["1.1.1.1", "10.96.0.10"],
            "searches": ["corp.example"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
        }
    )

    config = convert(pod, CLUSTER).dns_config

    assert list(config.nameservers) == ["10.96.0.10", "1.1.1.1"]
    assert list(config.searches)[-1] == "corp.example"
    assert [(option.name, option.value if option.HasField("value") else None) for option in config.options] == [
        ("ndots", "2"),
        ("edns0", None),
    ]


def test_without_a_known_cluster_dns_cluster_first_falls_back_to_the_backend_resolver() -> None:
    assert not convert(make_pod()).HasField("dns_config")


def test_host_network_pods_with_cluster_first_use_the_backend_resolver() -> None:
    assert not convert(make_pod(hostNetwork=True), CLUSTER).HasField("dns_config")
    assert convert(make_pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), CLUSTER).HasField("dns_config")


def test_dns_policy_none_gives_exactly_the_pods_dns_config() -> None:
    pod = make_pod(dnsPolicy="None", dnsConfig={"nameservers": ["8.8.8.8"], "searches": ["example.com"]})

    message = convert(pod, CLUSTER)

    assert message.dns_policy == pod_pb2.DNS_POLICY_NONE
    assert list(message.dns_config.nameservers) == ["8.8.8.8"]
    assert list(message.dns_config.searches) == ["example.com"]
    assert not message.dns_config.options


def test_dns_limits_keep_three_nameservers() -> None:
    pod = make_pod(dnsConfig={"nameservers": ["1.1.1.1", "8.8.8.8", "9.9.9.9"]})

    assert list(convert(pod, CLUSTER).dns_config.nameservers) == ["10.96.0.10", "1.1.1.1", "8.8.8.8"]


# Containers: defaults and plain fields


def test_container_defaults_are_the_kubernetes_ones() -> None:
    container = only_container(make_pod())

    assert container.termination_message_path == "/dev/termination-log"
    assert container.termination_message_policy == container_pb2.TERMINATION_MESSAGE_POLICY_FILE
    assert container.restart_policy == container_pb2.CONTAINER_RESTART_POLICY_UNSPECIFIED
    assert not container.runtime_expansion
    assert not container.HasField("security_context")
    assert not container.HasField("lifecycle")
    assert not container.HasField("liveness_probe")


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", container_pb2.IMAGE_PULL_POLICY_ALWAYS),
        ("nginx:latest", container_pb2.IMAGE_PULL_POLICY_ALWAYS),
        ("nginx:1.27", container_pb2.IMAGE_PULL_POLICY_IF_NOT_PRESENT),
        ("localhost:5000/app", container_pb2.IMAGE_PULL_POLICY_ALWAYS),  # the port is not a tag
        ("localhost:5000/app:v2", container_pb2.IMAGE_PULL_POLICY_IF_NOT_PRESENT),
        ("app@sha256:" + "0" * 64, container_pb2.IMAGE_PULL_POLICY_IF_NOT_PRESENT),
        ("app:latest@sha256:" + "0" * 64, container_pb2.IMAGE_PULL_POLICY_ALWAYS),
    ],
)
def test_the_image_pull_policy_defaults_by_tag(image: str, policy: int) -> None:
    assert only_container(make_pod(app(image=image))).image_pull_policy == policy


def test_an_explicit_image_pull_policy_wins() -> None:
    container = only_container(make_pod(app(image="nginx", imagePullPolicy="Never")))

    assert container.image_pull_policy == container_pb2.IMAGE_PULL_POLICY_NEVER


def test_plain_container_fields_are_carried_over() -> None:
    container = only_container(
        make_pod(
            app(
                workingDir="/srv",
                stdin=True,
                stdinOnce=True,
                tty=True,
                terminationMessagePath="/tmp/done",
                terminationMessagePolicy="FallbackToLogsOnError",
                ports=[
                    {"name": "http", "containerPort": 8080},
                    {"containerPort": 53, "protocol": "UDP"},
                    {"containerPort": 9000, "protocol": "SCTP"},
                ],
            )
        )
    )

    assert container.working_dir == "/srv"
    assert (container.stdin, container.stdin_once, container.tty) == (True, True, True)
    assert container.termination_message_path == "/tmp/done"
    assert container.termination_message_policy == container_pb2.TERMINATION_MESSAGE_POLICY_FALLBACK_TO_LOGS_ON_ERROR
    assert [(port.name, port.container_port, port.protocol) for port in container.ports] == [
        ("http", 8080, container_pb2.PORT_PROTOCOL_TCP),
        ("", 53, container_pb2.PORT_PROTOCOL_UDP),
        ("", 9000, container_pb2.PORT_PROTOCOL_SCTP),
    ]


def test_init_containers_keep_their_order_and_sidecars_are_marked() -> None:
    pod = make_pod(
        initContainers=[
            {"name": "migrate", "image": "tools:1"},
            {"name": "proxy", "image": "envoy:1", "restartPolicy": "Always"},
        ]
    )

    inits = convert(pod).init_containers

    assert [(init.name, init.restart_policy) for init in inits] == [
        ("migrate", container_pb2.CONTAINER_RESTART_POLICY_UNSPECIFIED),
        ("proxy", container_pb2.CONTAINER_RESTART_POLICY_ALWAYS),
    ]


# Resources


def test_resources_become_millicores_and_bytes_and_extended_ones_stay_strings() -> None:
    resources = {
        "requests": {"cpu": "250m", "memory": "128M", "ephemeral-storage": "1Gi"},
        "limits": {"cpu": "1.5", "memory": "256Mi", "nvidia.com/gpu": "1", "hugepages-2Mi": "512Mi"},
    }

    container = only_container(make_pod(app(resources=resources)))

    requests, limits = container.resources.requests, container.resources.limits
    assert (requests.cpu_millicores, requests.memory_bytes) == (250, 128_000_000)
    assert requests.ephemeral_storage_bytes == 2**30
    assert (limits.cpu_millicores, limits.memory_bytes) == (1500, 256 * 2**20)
    assert dict(limits.extended) == {"nvidia.com/gpu": "1", "hugepages-2Mi": "512Mi"}
    assert not limits.HasField("ephemeral_storage_bytes"), "unset is not zero"


def test_sub_millicore_cpu_rounds_up() -> None:
    container = only_container(make_pod(app(resources={"requests": {"cpu": "0.1m"}})))

    assert container.resources.requests.cpu_millicores == 1


def test_a_limit_without_a_request_is_also_the_request() -> None:
    resources = {"limits": {"cpu": "2", "nvidia.com/gpu": "1"}, "requests": {"memory": "1Gi"}}

    requests = only_container(make_pod(app(resources=resources))).resources.requests

    assert requests.cpu_millicores == 2000
    assert requests.memory_bytes == 2**30
    assert dict(requests.extended) == {"nvidia.com/gpu": "1"}


def test_a_malformed_quantity_names_its_field() -> None:
    with pytest.raises(InvalidPodSpec) as raised:
        convert(make_pod(app(resources={"limits": {"memory": "lots"}})))

    assert raised.value.field == "spec.containers[0].resources.limits.memory"


# Probes and lifecycle hooks


def test_probes_get_the_kubernetes_default_timings() -> None:
    container = only_container(make_pod(app(livenessProbe={"exec": {"command": ["cat", "/tmp/healthy"]}})))

    probe = container.liveness_probe
    assert list(probe.exec.command) == ["cat", "/tmp/healthy"]
    assert (probe.initial_delay_seconds, probe.timeout_seconds, probe.period_seconds) == (0, 1, 10)
    assert (probe.success_threshold, probe.failure_threshold) == (1, 3)
    assert not probe.HasField("termination_grace_period_seconds")


def test_probe_timings_as_written() -> None:
    probe = {
        "tcpSocket": {"port": 5432},
        "initialDelaySeconds": 5,
        "timeoutSeconds": 2,
        "periodSeconds": 7,
        "successThreshold": 2,
        "failureThreshold": 9,
        "terminationGracePeriodSeconds": 12,
    }

    readiness = only_container(make_pod(app(readinessProbe=probe))).readiness_probe

    assert readiness.tcp_socket.port == 5432
    assert (readiness.initial_delay_seconds, readiness.timeout_seconds, readiness.period_seconds) == (5, 2, 7)
    assert (readiness.success_threshold, readiness.failure_threshold) == (2, 9)
    assert readiness.termination_grace_period_seconds == 12


def test_http_probes_resolve_named_ports_and_default_path_and_scheme() -> None:
    container = only_container(
        make_pod(
            app(
                ports=[{"name": "http", "containerPort": 8080}],
                readinessProbe={"httpGet": {"port": "http", "httpHeaders": [{"name": "X-Probe", "value": "1"}]}},
                startupProbe={"httpGet": {"port": 8443, "path": "/ready", "scheme": "HTTPS", "host": "10.0.0.1"}},
                livenessProbe={"grpc": {"port": 9090, "service": "health"}},
            )
        )
    )

    readiness, startup = container.readiness_probe.http_get, container.startup_probe.http_get
    assert (readiness.port, readiness.path, readiness.scheme) == (8080, "/", container_pb2.URI_SCHEME_HTTP)
    assert [(header.name, header.value) for header in readiness.headers] == [("X-Probe", "1")]
    assert (startup.port, startup.path, startup.scheme, startup.host) == (
        8443,
        "/ready",
        container_pb2.URI_SCHEME_HTTPS,
        "10.0.0.1",
    )
    assert (container.liveness_probe.grpc.port, container.liveness_probe.grpc.service) == (9090, "health")


def test_a_probe_on_a_port_name_the_container_lacks_is_invalid() -> None:
    with pytest.raises(InvalidPodSpec) as raised:
        convert(make_pod(app(readinessProbe={"tcpSocket": {"port": "metrics"}})))

    assert raised.value.field == "spec.containers[0].readinessProbe.tcpSocket.port"


def test_a_probe_without_a_handler_the_protocol_models_is_invalid() -> None:
    with pytest.raises(InvalidPodSpec, match=r"livenessProbe: needs one of"):
        convert(make_pod(app(livenessProbe={"periodSeconds": 5})))


def test_lifecycle_hooks_are_carried_over() -> None:
    lifecycle = {
        "postStart": {"httpGet": {"port": "admin", "path": "/warm"}},
        "preStop": {"sleep": {"seconds": 5}},
    }

    container = only_container(make_pod(app(lifecycle=lifecycle, ports=[{"name": "admin", "containerPort": 9000}])))

    assert (container.lifecycle.post_start.http_get.port, container.lifecycle.post_start.http_get.path) == (
        9000,
        "/warm",
    )
    assert container.lifecycle.pre_stop.sleep.seconds == 5
    exec_stop = only_container(make_pod(app(lifecycle={"preStop": {"exec": {"command": ["nginx", "-s", "quit"]}}})))
    assert list(exec_stop.lifecycle.pre_stop.exec.command) == ["nginx", "-s", "quit"]
    assert not exec_stop.lifecycle.HasField("post_start")


# Security context


def test_the_container_security_context_is_merged_over_the_pods() -> None:
    pod = make_pod(
        app(
            securityContext={
                "runAsUser": 1001,
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL", "CAP_SYS_ADMIN"]},
            }
        ),
        securityContext={"runAsUser": 1000, "runAsGroup": 3000, "runAsNonRoot": True},
    )

    context = only_container(pod).security_context

    assert (context.run_as_user, context.run_as_group, context.run_as_non_root) == (1001, 3000, True)
    assert context.read_only_root_filesystem
    assert context.HasField("allow_privilege_escalation")
    assert context.allow_privilege_escalation is False
    assert not context.HasField("privileged")
    assert list(context.capabilities.add) == ["NET_BIND_SERVICE"]
    assert list(context.capabilities.drop) == ["ALL", "SYS_ADMIN"]


# Env vars, command and args


def test_literal_env_values_command_and_args_are_expanded() -> None:
    container = only_container(
        make_pod(
            app(
                env=[
                    {"name": "GREETING", "value": "hello"},
                    {"name": "MESSAGE", "value": "$(GREETING) world, $$(GREETING) stays"},
                ],
                command=["/bin/echo", "$(MESSAGE)"],
                args=["$(UNDEFINED)", "$$HOME"],
            )
        )
    )

    assert env_of(container) == {"GREETING": "hello", "MESSAGE": "hello world, $(GREETING) stays"}
    assert list(container.command) == ["/bin/echo", "hello world, $(GREETING) stays"]
    assert list(container.args) == ["$(UNDEFINED)", "$HOME"]
    assert not container.runtime_expansion


def test_pod_fields_resolve_without_the_api_server() -> None:
    pod = make_pod(
        app(
            env=[
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "MISSING", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['nope']"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "ID", "value": "$(POD_NAMESPACE)/$(POD_NAME)"},
            ]
        ),
        nodeName="vk-node",
    )
    pod["metadata"]["labels"] = {"app": "web"}

    assert env_of(only_container(pod)) == {
        "POD_NAME": "web-0",
        "POD_NAMESPACE": "shop",
        "APP": "web",
        "MISSING": "",
        "NODE": "vk-node",
        "ID": "shop/web-0",
    }


def test_resource_field_refs_are_divided_and_rounded_up() -> None:
    resources = {"requests": {"cpu": "250m"}, "limits": {"memory": "100Mi", "cpu": "1"}}
    env = [
        {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "CPU_CORES", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
        {"name": "CPU_MILLIS", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
        {"name": "STORAGE", "valueFrom": {"resourceFieldRef": {"resource": "requests.ephemeral-storage"}}},
    ]

    container = only_container(make_pod(app(resources=resources, env=env)))

    assert env_of(container) == {"MEM_MI": "100", "CPU_CORES": "1", "CPU_MILLIS": "250", "STORAGE": "0"}


def test_an_unset_limit_reads_as_the_nodes_allocatable() -> None:
    env = [{"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Gi"}}}]
    pod = make_pod(app(env=env))

    with pytest.raises(UnresolvedReference) as raised:
        convert(pod)
    assert raised.value.field == "spec.containers[0].env[0].valueFrom.resourceFieldRef"

    resolved = ResolvedPod(node_allocatable={"memory": "64Gi", "cpu": "16"})
    assert env_of(only_container(pod, resolved)) == {"MEM": "64"}


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ({"configMapKeyRef": {"name": "cfg", "key": "k"}}, "spec.containers[0].env[1].valueFrom.configMapKeyRef"),
        ({"secretKeyRef": {"name": "creds", "key": "k"}}, "spec.containers[0].env[1].valueFrom.secretKeyRef"),
    ],
)
def test_config_map_and_secret_refs_need_resolving(source: Json, field: str) -> None:
    pod = make_pod(app(env=[{"name": "A", "value": "a"}, {"name": "B", "valueFrom": source}]))

    with pytest.raises(UnresolvedReference) as raised:
        convert(pod)

    assert raised.value.field == field
    assert isinstance(raised.value, ValueError)


def test_env_from_needs_resolving() -> None:
    pod = make_pod(initContainers=[{"name": "init", "image": "busybox", "envFrom": [{"configMapRef": {"name": "c"}}]}])

    with pytest.raises(UnresolvedReference, match=r"^spec\.initContainers\[0\]\.envFrom: "):
        convert(pod)


def test_resolved_env_replaces_the_pods_own_and_is_expanded_in_order() -> None:
    pod = make_pod(
        app(
            env=[{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
            command=["connect", "--dsn=$(DSN)", "--host=$(DB_SERVICE_HOST)"],
        )
    )
    resolved = ResolvedPod(
        env={
            "app": [
                ResolvedEnvVar("USER", "shop"),  # from envFrom
                ResolvedEnvVar("PASSWORD", "pa$$(word)", sensitive=True),
                ResolvedEnvVar("DSN", "pg://$(USER):$(PASSWORD)@db", expand=True),
            ]
        },
        service_env={"DB_SERVICE_HOST": "10.0.0.7"},
    )

    container = only_container(pod, resolved)

    assert [(var.name, var.value, var.sensitive) for var in container.env] == [
        ("USER", "shop", False),
        ("PASSWORD", "pa$$(word)", True),
        ("DSN", "pg://shop:pa$$(word)@db", True),
        ("DB_SERVICE_HOST", "10.0.0.7", False),
    ]
    assert list(container.command) == ["connect", "--dsn=pg://shop:pa$$(word)@db", "--host=10.0.0.7"]


def test_runtime_values_are_left_for_the_provider_with_runtime_expansion() -> None:
    pod = make_pod(
        app(
            env=[
                {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIPs"}}},
                {"name": "PRICE", "value": "$$5"},
                {"name": "URL", "value": "http://$(MY_IP):8080"},
            ],
            args=["--advertise=$(MY_IP)", "--cost=$(PRICE)", "$(UNDEFINED)"],
        )
    )

    container = only_container(pod)

    assert container.runtime_expansion
    assert [(var.name, var.WhichOneof("source")) for var in container.env] == [
        ("MY_IP", "runtime_value"),
        ("HOST", "runtime_value"),
        ("PRICE", "value"),
        ("URL", "value"),
    ]
    assert (container.env[0].runtime_value, container.env[1].runtime_value) == (
        container_pb2.RUNTIME_VALUE_POD_IP,
        container_pb2.RUNTIME_VALUE_HOST_IPS,
    )
    # Every string is in Kubernetes syntax: the provider's pass ($$ -> $, $(MY_IP) -> IP) gives the final text.
    assert (container.env[2].value, container.env[3].value) == ("$$5", "http://$(MY_IP):8080")
    assert list(container.args) == ["--advertise=$(MY_IP)", "--cost=$$5", "$$(UNDEFINED)"]


def test_runtime_expansion_is_per_container() -> None:
    ip_env = [{"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    pod = make_pod(
        app(env=ip_env, args=["$(MY_IP)"]),
        {"name": "sidecar", "image": "envoy:1", "env": ip_env, "args": ["$$literal"]},
    )

    main, sidecar = convert(pod).containers

    assert main.runtime_expansion
    assert not sidecar.runtime_expansion, "a runtime env var nobody refers to needs no expansion"
    assert list(sidecar.args) == ["$literal"]


def test_a_runtime_reference_a_later_var_replaces_cannot_be_expressed() -> None:
    env = [
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "URL", "value": "http://$(IP)"},
        {"name": "IP", "value": "127.0.0.1"},
    ]

    with pytest.raises(InvalidPodSpec, match=r"later env var of the same name"):
        convert(make_pod(app(env=env)))


def test_probe_commands_are_not_expanded() -> None:
    pod = make_pod(app(env=[{"name": "A", "value": "a"}], livenessProbe={"exec": {"command": ["test", "$(A)"]}}))

    assert list(only_container(pod).liveness_probe.exec.command) == ["test", "$(A)"]


# Volume mounts


def test_volume_mounts_with_sub_paths() -> None:
    pod = make_pod(
        app(
            env=[{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            volumeMounts=[
                {"name": "data", "mountPath": "/data", "readOnly": True},
                {"name": "data", "mountPath": "/cfg", "subPath": "config"},
                {"name": "logs", "mountPath": "/logs", "subPathExpr": "pods/$(POD_NAME)"},
            ],
        ),
        volumes=[{"name": "data", "emptyDir": {}}, {"name": "logs", "emptyDir": {}}],
    )

    mounts = only_container(pod).volume_mounts

    assert [(m.name, m.mount_path, m.sub_path, m.read_only) for m in mounts] == [
        ("data", "/data", "", True),
        ("data", "/cfg", "config", False),
        ("logs", "/logs", "pods/web-0", False),
    ]


@pytest.mark.parametrize(
    ("env", "expression", "message"),
    [
        ([], "$(NOPE)", "missing value for NOPE"),
        ([{"name": "EMPTY", "value": ""}], "x/$(EMPTY)", "missing value for EMPTY"),
        ([{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}], "$(IP)", "only when the pod runs"),
        ([{"name": "UP", "value": ".."}], "$(UP)/etc", "relative path without '..'"),
    ],
)
def test_a_sub_path_expr_that_cannot_be_expanded_is_invalid(env: list[Json], expression: str, message: str) -> None:
    pod = make_pod(app(env=env, volumeMounts=[{"name": "v", "mountPath": "/v", "subPathExpr": expression}]))

    with pytest.raises(InvalidPodSpec, match=message) as raised:
        convert(pod)

    assert raised.value.field == "spec.containers[0].volumeMounts[0].subPathExpr"


# Volumes


def volume_of(volume: Json, resolved: ResolvedPod | None = None) -> volume_pb2.Volume:
    (message,) = convert(make_pod(volumes=[volume]), resolved).volumes
    return message


def test_empty_dirs_keep_medium_and_size_limit() -> None:
    memory = volume_of({"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}})
    disk = volume_of({"name": "scratch", "emptyDir": {}})

    assert memory.empty_dir.medium == volume_pb2.STORAGE_MEDIUM_MEMORY
    assert memory.empty_dir.size_limit_bytes == 64 * 2**20
    assert disk.empty_dir.medium == volume_pb2.STORAGE_MEDIUM_DISK
    assert not disk.empty_dir.HasField("size_limit_bytes")


def test_a_volume_without_a_source_is_an_empty_dir_as_the_api_defaults_it() -> None:
    assert volume_of({"name": "bare"}).WhichOneof("source") == "empty_dir"


def test_an_empty_dir_medium_the_protocol_lacks_is_invalid() -> None:
    with pytest.raises(InvalidPodSpec, match=r"spec\.volumes\[0\]\.emptyDir\.medium"):
        volume_of({"name": "huge", "emptyDir": {"medium": "HugePages"}})


@pytest.mark.parametrize(
    "volume",
    [
        {"name": "v", "hostPath": {"path": "/var/run"}},
        {"name": "v", "nfs": {"server": "nfs", "path": "/"}},
        {"name": "v", "csi": {"driver": "secrets-store.csi.k8s.io"}},
        {"name": "v", "ephemeral": {"volumeClaimTemplate": {}}},
        {"name": "v", "image": {"reference": "data:1"}},
    ],
)
def test_volume_types_the_protocol_does_not_model_go_as_unsupported(volume: Json) -> None:
    message = volume_of(volume)

    assert message.WhichOneof("source") == "unsupported"
    assert message.unsupported.kind == next(key for key in volume if key != "name")


def test_persistent_volume_claims_are_carried_over() -> None:
    message = volume_of({"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0", "readOnly": True}})

    assert (message.persistent_volume_claim.claim_name, message.persistent_volume_claim.read_only) == (
        "data-web-0",
        True,
    )


@pytest.mark.parametrize(
    "volume",
    [
        {"name": "v", "configMap": {"name": "cfg"}},
        {"name": "v", "secret": {"secretName": "tls"}},
        {"name": "v", "downwardAPI": {"items": []}},
        {"name": "v", "projected": {"sources": []}},
    ],
)
def test_files_volumes_need_their_files_resolved(volume: Json) -> None:
    kind = next(key for key in volume if key != "name")

    with pytest.raises(UnresolvedReference) as raised:
        volume_of(volume)

    assert raised.value.field == f"spec.volumes[0].{kind}"


def test_a_config_map_volume_carries_its_resolved_files() -> None:
    resolved = ResolvedPod(
        files={"v": ResolvedFiles([ResolvedFile("app.yaml", b"port: 80\n"), ResolvedFile("bin/run", b"#!", 0o755)])}
    )

    files = volume_of({"name": "v", "configMap": {"name": "web-config"}}, resolved).files

    assert (files.source, files.source_name, files.sensitive) == (
        volume_pb2.FILES_SOURCE_CONFIG_MAP,
        "web-config",
        False,
    )
    assert [(f.path, f.content, f.mode if f.HasField("mode") else None) for f in files.files] == [
        ("app.yaml", b"port: 80\n", None),
        ("bin/run", b"#!", 0o755),
    ]


def test_every_file_of_a_secret_volume_is_sensitive() -> None:
    resolved = ResolvedPod(files={"v": ResolvedFiles([ResolvedFile("tls.key", b"key", 0o400)])})

    files = volume_of({"name": "v", "secret": {"secretName": "tls"}}, resolved).files

    assert (files.source, files.source_name, files.sensitive) == (volume_pb2.FILES_SOURCE_SECRET, "tls", True)
    assert files.files[0].sensitive


def test_a_projected_volume_is_sensitive_when_one_file_is() -> None:
    token = ResolvedFile("token", b"eyJ...", sensitive=True)
    resolved = ResolvedPod(files={"v": ResolvedFiles([ResolvedFile("ca.crt", b"---"), token])})

    files = volume_of({"name": "v", "projected": {"sources": []}}, resolved).files

    assert (files.source, files.source_name, files.sensitive) == (volume_pb2.FILES_SOURCE_PROJECTED, "", True)
    assert [f.sensitive for f in files.files] == [False, True]


def test_resolved_file_paths_must_stay_inside_the_volume() -> None:
    resolved = ResolvedPod(files={"v": ResolvedFiles([ResolvedFile("../escape", b"")])})

    with pytest.raises(InvalidPodSpec, match="not relative"):
        volume_of({"name": "v", "configMap": {"name": "cfg"}}, resolved)


def test_azure_file_volumes_get_the_storage_account_from_the_resolved_secret() -> None:
    volume = {"name": "share", "azureFile": {"secretName": "azure", "shareName": "data", "readOnly": True}}

    with pytest.raises(UnresolvedReference, match=r"spec\.volumes\[0\]\.azureFile\.secretName"):
        volume_of(volume)

    share = volume_of(volume, ResolvedPod(azure_files={"share": AzureFileCredentials("acct", "key==")})).azure_file
    assert (share.share_name, share.account_name, share.account_key, share.read_only) == ("data", "acct", "key==", True)


# Image pull credentials


def test_image_pull_secrets_need_resolving() -> None:
    pod = make_pod(imagePullSecrets=[{"name": "registry"}])

    with pytest.raises(UnresolvedReference, match=r"spec\.imagePullSecrets"):
        convert(pod)

    credential = PullCredential("myregistry.azurecr.io", username="puller", password="s3cret")
    (message,) = convert(pod, ResolvedPod(pull_credentials=[credential])).image_pull_credentials
    assert (message.server, message.username, message.password) == ("myregistry.azurecr.io", "puller", "s3cret")


def test_a_pod_without_pull_secrets_needs_no_resolving() -> None:
    assert list(convert(make_pod()).image_pull_credentials) == []


def test_errors_name_the_field_and_the_reason() -> None:
    pod = make_pod(app(env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]))

    with pytest.raises(UnresolvedReference) as raised:
        convert(pod)

    assert str(raised.value) == f"{raised.value.field}: {raised.value.reason}"
    assert "secret" in raised.value.reason


def test_runtime_values_enum_covers_the_four_downward_api_status_fields() -> None:
    assert {value.value for value in RuntimeValue} == {
        "status.podIP",
        "status.podIPs",
        "status.hostIP",
        "status.hostIPs",
    }
