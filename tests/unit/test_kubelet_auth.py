"""The kubelet API's authentication and authorization: which nodes subresources a request needs (the kubelet's
mapping), the reviews asked of the API server and how long their answers are kept, and the identities found in
certificates, bearer tokens and the WebSocket token subprotocol."""

from __future__ import annotations

import base64
from typing import Any, cast

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from vk_controller.kube import ApiError, KubeClient
from vk_controller.kubeletapi.authn import (
    AuthenticationFailed,
    Authenticator,
    TokenReviewer,
    User,
    bearer_token,
    is_websocket,
    split_subprotocols,
    user_from_certificate,
)
from vk_controller.kubeletapi.authz import Attributes, AuthorizationError, Authorizer, forbidden_message
from vk_controller.kubeletapi.authz import request_attributes as attrs


class FakeKube:
    """Answers reviews from a rule, and counts them."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.bodies: list[dict[str, Any]] = []

    async def create(self, path: str, body: dict[str, Any]) -> Any:
        self.bodies.append(body)
        result = self.answer(body) if callable(self.answer) else self.answer
        if isinstance(result, Exception):
            raise result
        return result


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("method", "path", "verb", "subresources"),
    [
        ("GET", "/stats/summary", "get", ("stats",)),
        ("POST", "/stats/summary", "create", ("stats",)),
        ("GET", "/metrics/resource", "get", ("metrics",)),
        ("GET", "/metrics", "get", ("metrics",)),
        ("GET", "/logs/kubelet.log", "get", ("log",)),
        ("GET", "/containerLogs/ns/pod/c", "get", ("proxy",)),
        ("GET", "/exec/ns/pod/c", "get", ("proxy",)),
        ("POST", "/exec/ns/pod/c", "create", ("proxy",)),
        ("POST", "/attach/ns/pod/uid/c", "create", ("proxy",)),
        ("GET", "/portForward/ns/pod", "get", ("proxy",)),
        ("GET", "/pods", "get", ("pods", "proxy")),
        ("GET", "/pods/", "get", ("pods", "proxy")),
        ("GET", "/runningpods/", "get", ("pods", "proxy")),
        ("GET", "/healthz", "get", ("healthz", "proxy")),
        ("GET", "/healthz/ping", "get", ("healthz", "proxy")),
        ("GET", "/configz", "get", ("configz", "proxy")),
        ("GET", "/podsx", "get", ("proxy",)),
        ("GET", "/statsx", "get", ("proxy",)),
        ("GET", "/stats", "get", ("stats",)),
        ("PUT", "/x", "update", ("proxy",)),
        ("PATCH", "/x", "patch", ("proxy",)),
        ("DELETE", "/x", "delete", ("proxy",)),
        ("HEAD", "/pods", "", ("pods", "proxy")),
        ("OPTIONS", "/x", "", ("proxy",)),
    ],
)
def test_requests_map_to_verbs_and_node_subresources(
    method: str, path: str, verb: str, subresources: tuple[str, ...]
) -> None:
    assert attrs(method, path) == Attributes(verb=verb, subresources=subresources)


def test_the_forbidden_message_is_the_kubelets() -> None:
    message = forbidden_message(User("nobody"), attrs("GET", "/pods"))

    assert message == "Forbidden (user=nobody, verb=get, resource=nodes, subresource(s)=[pods proxy])"


async def test_reviews_ask_about_the_node_and_any_allowed_subresource_suffices() -> None:
    kube = FakeKube(lambda body: {"status": {"allowed": body["spec"]["resourceAttributes"]["subresource"] == "proxy"}})
    authorizer = Authorizer(cast(KubeClient, kube), node_name="vk-1")
    user = User("kube-apiserver-kubelet-client", groups=("system:authenticated",), extra={"scopes": ("a",)})

    assert await authorizer.authorize(user, attrs("GET", "/pods"))
    assert [b["spec"]["resourceAttributes"]["subresource"] for b in kube.bodies] == ["pods", "proxy"]
    spec = kube.bodies[0]["spec"]
    assert spec["user"] == "kube-apiserver-kubelet-client"
    assert spec["groups"] == ["system:authenticated"]
    assert spec["extra"] == {"scopes": ["a"]}
    assert spec["resourceAttributes"] == {
        "verb": "get",
        "group": "",
        "version": "v1",
        "resource": "nodes",
        "subresource": "pods",
        "name": "vk-1",
    }
    assert kube.bodies[0]["kind"] == "SubjectAccessReview"
    assert not await authorizer.authorize(user, attrs("GET", "/stats/summary"))


async def test_allowed_answers_are_kept_five_minutes_and_denials_thirty_seconds() -> None:
    allowed = {"value": True}
    kube = FakeKube(lambda body: {"status": {"allowed": allowed["value"]}})
    clock = Clock()
    authorizer = Authorizer(cast(KubeClient, kube), node_name="n", clock=clock)
    user = User("u")

    assert await authorizer.authorize(user, attrs("GET", "/x"))
    allowed["value"] = False
    clock.now = 299
    assert await authorizer.authorize(user, attrs("GET", "/x"))
    clock.now = 301
    assert not await authorizer.authorize(user, attrs("GET", "/x"))
    allowed["value"] = True
    clock.now = 330
    assert not await authorizer.authorize(user, attrs("GET", "/x"))
    clock.now = 332
    assert await authorizer.authorize(user, attrs("GET", "/x"))
    assert len(kube.bodies) == 3
    # Another verb, another user or other groups are other questions.
    await authorizer.authorize(user, attrs("POST", "/x"))
    await authorizer.authorize(User("u", groups=("g",)), attrs("GET", "/x"))
    assert len(kube.bodies) == 5


async def test_a_review_that_cannot_be_made_is_an_error_unless_another_subresource_allows() -> None:
    failing = FakeKube(ApiError(503, "unavailable"))
    with pytest.raises(AuthorizationError):
        await Authorizer(cast(KubeClient, failing), node_name="n").authorize(User("u"), attrs("GET", "/pods"))

    def half(body: dict[str, Any]) -> Any:
        if body["spec"]["resourceAttributes"]["subresource"] == "pods":
            return ApiError(503, "unavailable")
        return {"status": {"allowed": True}}

    authorizer = Authorizer(cast(KubeClient, FakeKube(half)), node_name="n")
    assert await authorizer.authorize(User("u"), attrs("GET", "/pods"))


def test_certificates_give_cn_as_user_and_o_as_groups() -> None:
    peercert = {
        "subject": (
            (("organizationName", "system:nodes"),),
            (("organizationName", "ops"),),
            (("commonName", "system:node:vk-1"),),
        )
    }

    assert user_from_certificate(peercert) == User("system:node:vk-1", groups=("system:nodes", "ops"))
    assert user_from_certificate({}) is None
    assert user_from_certificate(None) is None
    assert user_from_certificate({"subject": ((("organizationName", "x"),),)}) is None


def test_bearer_tokens_and_websocket_detection() -> None:
    assert bearer_token({"Authorization": "Bearer abc"}) == "abc"
    assert bearer_token({"Authorization": "bearer abc"}) == "abc"
    assert bearer_token({"Authorization": "Basic abc"}) is None
    assert bearer_token({"Authorization": "Bearer "}) is None
    assert bearer_token({}) is None
    assert is_websocket({"Connection": "keep-alive, Upgrade", "Upgrade": "websocket"})
    assert not is_websocket({"Connection": "Upgrade", "Upgrade": "SPDY/3.1"})
    assert not is_websocket({"Upgrade": "websocket"})


def _protocol(token: str) -> str:
    return "base64url.bearer.authorization.k8s.io." + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def test_the_token_subprotocol_is_found_and_removed() -> None:
    others, token = split_subprotocols([f"v5.channel.k8s.io, {_protocol('se/cr+et')}", "v4.channel.k8s.io"])

    assert token == "se/cr+et"
    assert others == ["v5.channel.k8s.io", "v4.channel.k8s.io"]
    assert split_subprotocols(["v4.channel.k8s.io"]) == (["v4.channel.k8s.io"], None)
    with pytest.raises(AuthenticationFailed):
        split_subprotocols([f"{_protocol('a')},{_protocol('b')}, x"])
    with pytest.raises(AuthenticationFailed):
        split_subprotocols(["base64url.bearer.authorization.k8s.io.a+b/, x"])
    with pytest.raises(AuthenticationFailed):
        split_subprotocols(["base64url.bearer.authorization.k8s.io." + base64.urlsafe_b64encode(b"\xff").decode()])


class FakeRequest:
    def __init__(self, headers: dict[str, str] | list[tuple[str, str]], peercert: dict[str, Any] | None = None):
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        self.transport = self
        self._peercert = peercert

    def get_extra_info(self, name: str) -> Any:
        return self._peercert if name == "peercert" else None


def _reviews(users: dict[str, str]) -> FakeKube:
    def answer(body: dict[str, Any]) -> Any:
        name = users.get(body["spec"]["token"])
        if name is None:
            return {"status": {"authenticated": False, "error": "invalid"}}
        return {"status": {"authenticated": True, "user": {"username": name, "uid": "1", "groups": ["team"]}}}

    return FakeKube(answer)


async def test_authentication_order_and_groups() -> None:
    kube = _reviews({"good": "alice"})
    authenticator = Authenticator(TokenReviewer(cast(KubeClient, kube)))
    cert = {"subject": ((("commonName", "admin"),), (("organizationName", "system:masters"),))}

    by_cert = await authenticator.authenticate(FakeRequest({"Authorization": "Bearer good"}, cert))  # type: ignore[arg-type]
    assert by_cert.user == User("admin", groups=("system:masters", "system:authenticated"))
    assert kube.bodies == [], "a certificate wins before any token review"

    by_token = await authenticator.authenticate(FakeRequest({"Authorization": "Bearer good"}))  # type: ignore[arg-type]
    assert by_token.user == User("alice", "1", ("team", "system:authenticated"))

    for headers in ({"Authorization": "Bearer bad"}, {}):
        with pytest.raises(AuthenticationFailed):
            await authenticator.authenticate(FakeRequest(headers))  # type: ignore[arg-type]


async def test_the_websocket_token_needs_an_upgrade_and_another_subprotocol() -> None:
    authenticator = Authenticator(TokenReviewer(cast(KubeClient, _reviews({"good": "alice"}))))
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket"}

    found = await authenticator.authenticate(
        FakeRequest({**upgrade, "Sec-WebSocket-Protocol": f"{_protocol('good')}, v5.channel.k8s.io"})  # type: ignore[arg-type]
    )
    assert found.user.name == "alice"
    assert found.subprotocols == ["v5.channel.k8s.io"]
    with pytest.raises(AuthenticationFailed):
        await authenticator.authenticate(FakeRequest({**upgrade, "Sec-WebSocket-Protocol": _protocol("good")}))  # type: ignore[arg-type]
    with pytest.raises(AuthenticationFailed):
        await authenticator.authenticate(FakeRequest({"Sec-WebSocket-Protocol": f"{_protocol('good')}, x"}))  # type: ignore[arg-type]


async def test_anonymous_only_when_enabled_and_never_for_bad_credentials() -> None:
    authenticator = Authenticator(TokenReviewer(cast(KubeClient, _reviews({}))), anonymous=True)

    anonymous = await authenticator.authenticate(FakeRequest({}))  # type: ignore[arg-type]
    assert anonymous.user == User("system:anonymous", groups=("system:unauthenticated",))
    with pytest.raises(AuthenticationFailed):
        await authenticator.authenticate(FakeRequest({"Authorization": "Bearer bad"}))  # type: ignore[arg-type]


async def test_token_reviews_are_kept_two_minutes_and_failures_to_ask_are_not_kept() -> None:
    kube = _reviews({"good": "alice"})
    clock = Clock()
    reviewer = TokenReviewer(cast(KubeClient, kube), clock=clock)

    assert (await reviewer.review("good")) == User("alice", "1", ("team",))
    assert await reviewer.review("bad") is None
    clock.now = 119
    await reviewer.review("good")
    await reviewer.review("bad")
    assert len(kube.bodies) == 2
    clock.now = 121
    await reviewer.review("good")
    assert len(kube.bodies) == 3
    assert "good" not in str(reviewer._cache._entries), "tokens are kept only as hashes"

    kube.answer = ApiError(503, "unavailable")
    with pytest.raises(AuthenticationFailed):
        await reviewer.review("other")
    kube.answer = lambda body: {"status": {"authenticated": True, "user": {"username": "bob"}}}
    assert (await reviewer.review("other")) == User("bob")
