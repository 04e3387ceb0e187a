"""The kubelet API's door, straight to its port: who gets in (x509, TokenReview, the WebSocket token subprotocol),
what they may do (SubjectAccessReview on nodes/<subresource>). What malformed requests get: test_bad_input.py."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import urllib.request
from dataclasses import dataclass

from integration.stack_fixtures import Stack, wait_for
from vk_harness.controlplane import Identity


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    headers: dict[str, str]


def call(
    stack: Stack,
    path: str,
    *,
    identity: Identity | None = None,
    token: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> Answer:
    context = ssl.create_default_context(cafile=str(stack.plane.ca.cert_path))
    if identity is not None:
        context.load_cert_chain(str(identity.credentials.cert_path), str(identity.credentials.key_path))
    connection = http.client.HTTPSConnection(
        stack.controller.node_address, stack.controller.kubelet_port, context=context, timeout=20
    )
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, response.read().decode(), dict(response.getheaders()))
    finally:
        connection.close()


def service_account_token(stack: Stack) -> str:
    return stack.plane.kubectl("create", "token", "default", "-n", stack.namespace).stdout.strip()


def test_no_credentials_are_unauthorized_everywhere(stack: Stack) -> None:
    for path in ("/pods", "/healthz", "/stats/summary", "/metrics/resource", "/containerLogs/a/b/c", "/nope"):
        answer = call(stack, path)
        assert (answer.status, answer.body) == (401, "Unauthorized"), path
    assert call(stack, "/pods", token="not-a-token").status == 401


def test_a_user_without_rights_is_forbidden_with_the_kubelets_message(stack: Stack) -> None:
    nobody = stack.plane.user_identity("nobody")

    cases = {
        ("GET", "/pods"): "verb=get, resource=nodes, subresource(s)=[pods proxy]",
        ("GET", "/stats/summary"): "verb=get, resource=nodes, subresource(s)=[stats]",
        ("GET", "/metrics/resource"): "verb=get, resource=nodes, subresource(s)=[metrics]",
        ("GET", "/healthz"): "verb=get, resource=nodes, subresource(s)=[healthz proxy]",
        ("GET", "/containerLogs/ns/pod/c"): "verb=get, resource=nodes, subresource(s)=[proxy]",
        ("POST", "/exec/ns/pod/c?command=id&output=1"): "verb=create, resource=nodes, subresource(s)=[proxy]",
        ("GET", "/runningpods/"): "verb=get, resource=nodes, subresource(s)=[pods proxy]",
    }
    for (method, path), expected in cases.items():
        answer = call(stack, path, identity=nobody, method=method)
        assert answer.status == 403, (path, answer)
        assert answer.body == f"Forbidden (user=nobody, {expected})"


def test_the_admin_and_the_api_servers_kubelet_client_are_allowed(stack: Stack) -> None:
    admin = stack.plane.admin

    assert (call(stack, "/healthz", identity=admin).body, call(stack, "/healthz/ping", identity=admin).body) == (
        "ok",
        "ok",
    )
    listed = json.loads(call(stack, "/pods", identity=admin).body)
    assert listed["kind"] == "PodList"
    stack.create_pod("listed", command=["sh", "-c", "sleep 3600"])
    stack.wait_phase("listed", "Running")
    names = [p["metadata"]["name"] for p in json.loads(call(stack, "/pods", identity=admin).body)["items"]]
    assert names == ["listed"]
    running = json.loads(call(stack, "/runningpods/", identity=admin).body)["items"]
    assert [(p["metadata"]["name"], [c["name"] for c in p["spec"]["containers"]]) for p in running] == [
        ("listed", ["main"])
    ]


def test_bearer_tokens_are_reviewed_and_authorized(stack: Stack) -> None:
    token = service_account_token(stack)
    user = f"system:serviceaccount:{stack.namespace}:default"

    denied = call(stack, "/pods", token=token)
    assert (denied.status, denied.body) == (
        403,
        f"Forbidden (user={user}, verb=get, resource=nodes, subresource(s)=[pods proxy])",
    )

    role = f"{stack.namespace}-node-pods"
    stack.plane.kubectl("create", "clusterrole", role, "--verb=get", "--resource=nodes/pods")
    stack.plane.kubectl(
        "create", "clusterrolebinding", role, f"--clusterrole={role}", f"--serviceaccount={stack.namespace}:default"
    )
    # Denials are cached for 30 seconds, as the kubelet caches them.
    allowed = wait_for(
        "the new role to apply",
        lambda: a if (a := call(stack, "/pods", token=token)).status == 200 else None,
        timeout=45,
        interval=1,
    )
    assert json.loads(allowed.body)["kind"] == "PodList"
    assert call(stack, "/stats/summary", token=token).status == 403


def test_the_token_may_come_as_a_websocket_subprotocol(stack: Stack) -> None:
    token = service_account_token(stack)
    encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }

    answer = call(
        stack,
        "/pods",
        headers={
            **upgrade,
            "Sec-WebSocket-Protocol": f"base64url.bearer.authorization.k8s.io.{encoded}, v5.channel.k8s.io",
        },
    )
    assert answer.status == 403
    assert f"user=system:serviceaccount:{stack.namespace}:default," in answer.body
    # Alone it cannot be: a subprotocol must remain to be echoed back.
    alone = call(
        stack,
        "/pods",
        headers={**upgrade, "Sec-WebSocket-Protocol": f"base64url.bearer.authorization.k8s.io.{encoded}"},
    )
    assert alone.status == 401
    # And not on a plain request.
    plain = call(
        stack, "/pods", headers={"Sec-WebSocket-Protocol": f"base64url.bearer.authorization.k8s.io.{encoded}, x"}
    )
    assert plain.status == 401


def test_the_plain_health_endpoint_needs_no_credentials(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.controller.healthz_port}/healthz"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert (response.status, response.read()) == (200, b"ok")


def test_the_node_advertises_its_kubelet_endpoint_and_websocket_support(stack: Stack) -> None:
    status = stack.node_object()["status"]

    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == stack.controller.kubelet_port
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    assert "ExtendWebSocketsToKubelet" in status.get("declaredFeatures", [])
