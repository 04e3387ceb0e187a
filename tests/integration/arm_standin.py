"""A local stand-in for Azure Resource Manager (Microsoft.ContainerInstance) and Microsoft Entra ID, for tests.

It runs in a thread of the test process (:func:`arm_standin`), serving HTTPS with a certificate of a throw-away
test CA (the provider trusts it through ``--ca-bundle``; the SDK refuses bearer tokens over plain HTTP) and, on a
second plain-HTTP port, a control API for tests and conformance hooks. It behaves like ARM where the SDK can tell:

- ``PUT .../containerGroups/{name}`` answers 201 (create) or 200 (update) with ``provisioningState: Creating`` and
  an ``Azure-AsyncOperation`` header (with ``Retry-After: 1``) whose URL answers ``{"status": "InProgress" |
  "Succeeded" | "Failed", "error": {...}}``; the SDK then GETs the resource;
- ``DELETE`` answers 200 with the body, or 204 when the group does not exist; ``GET`` a missing group is 404
  ``ResourceNotFound``; lists are paged (``nextLink`` with ``$skipToken``); errors are ``{"error": {code, message}}``;
- secret values (``secureValue``, registry passwords, storage and workspace keys, secret volume contents) are never
  returned;
- ``.../containers/{c}/logs?tail=&timestamps=`` and ``.../containers/{c}/exec`` (``{webSocketUri, password}``,
  a fresh password per session); the ``wss://`` URI is served by the same TLS server: the first text message must
  be the password (else the socket closes with 1008), then a tiny command runner (:func:`_run_command`) plays the
  container, reading stdin as text until Ctrl-D and closing the connection when the command ends, without an
  exit code;
- the Entra token endpoint ``/{tenant}/oauth2/v2.0/token``; it also serves ``/common/discovery/instance`` and
  ``/{tenant}/v2.0/.well-known/openid-configuration`` and counts them: azure-identity's *async*
  ``ClientSecretCredential`` (1.27) asks for neither, only for the token (the sync one, through MSAL, asks for both).

**Validation.** Every request body and every JSON response is validated with jsonschema against the OpenAPI spec
(``/work/shared/reference/aci/containerInstance-2025-09-01.json``, its ``definitions`` with ``$ref``\\s resolved).
The spec's ``../common-types`` references are missing, so ``ProxyResource``, ``Resource``, ``systemData`` and
``ErrorResponse`` are replaced by minimal local schemas (``_COMMON``). Request bodies are checked strictly: every
object schema that lists properties (and is not an ``allOf``) gets ``additionalProperties: false``, so a misspelt
key fails. A violation answers 400 ``StandInSchemaViolation`` *and* is recorded; the fixture fails the test at
teardown if any was recorded. The operation-status documents are not in the spec and are not validated.

**Control API** (``http://127.0.0.1:<control>``): ``POST /script`` ``{"uid", "stdout_lines", "exit_code",
"fail": {"code", "message"} | null, "restarts": n}`` scripts what the group of the pod with that UID does once
provisioned (``"pod": "<namespace>/<name>"`` instead of ``uid`` scripts a pod before its UID is known);
``POST /fault`` ``{"method", "status", "times", "retry_after"}`` makes the next ARM requests of that method fail;
``GET /counts`` counts requests by kind; ``POST /page-size`` sets the list page size. Every group that starts gets
an address of its own.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import datetime
import ipaddress
import json
import secrets
import shlex
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SPEC = Path("/work/shared/reference/aci/containerInstance-2025-09-01.json")
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "vk-test"
REGION = "westeurope"
TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "22222222-3333-4444-5555-666666666666"
CLIENT_SECRET = "stand-in-client-secret"
TOKEN = "stand-in-access-token"
UID_TAG = "vk.pod-uid"
NAMESPACE_TAG = "vk.namespace"
NAME_TAG = "vk.name"
CONTROL_ENV = "VK_ACI_TEST_STANDIN_CONTROL"
PROVISION_SECONDS = 0.2
EXIT_AFTER_SECONDS = 0.5

_COMMON = {
    "_common_Resource": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "type": {"type": "string"}},
    },
    "_common_systemData": {"type": "object"},
    "_common_ErrorResponse": {"type": "object", "properties": {"error": {"type": "object"}}},
}
_COMMON_NAMES = {"ProxyResource": "_common_Resource", "Resource": "_common_Resource"}


def _load_definitions(*, strict: bool) -> dict[str, Any]:
    spec = json.loads(SPEC.read_text())

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            result = {key: rewrite(value) for key, value in node.items()}
            ref = result.get("$ref")
            if isinstance(ref, str) and ref.startswith("../"):
                name = ref.rsplit("/", 1)[-1]
                result["$ref"] = "#/definitions/" + _COMMON_NAMES.get(name, f"_common_{name}")
            if strict and "properties" in result and "additionalProperties" not in result and "allOf" not in result:
                result["additionalProperties"] = False
            return result
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    definitions: dict[str, Any] = rewrite(spec["definitions"])
    definitions.update(copy.deepcopy(_COMMON))
    return definitions


class SpecValidator:
    """jsonschema (draft 4, as swagger 2.0) over the spec's definitions."""

    def __init__(self) -> None:
        self._loose = _load_definitions(strict=False)
        self._strict = _load_definitions(strict=True)

    def errors(self, definition: str, document: Any, *, strict: bool) -> list[str]:
        definitions = self._strict if strict else self._loose
        schema = {"definitions": definitions, "$ref": f"#/definitions/{definition}"}
        validator = jsonschema.Draft4Validator(schema)
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(document)
        ]


# -- the test CA ------------------------------------------------------------------------------------------------------


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost; (ca.pem, server.pem, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vk-aci-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


# -- the ARM state ----------------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Group:
    name: str
    body: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    operation: str = ""
    running_since: float | None = None
    logs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ExecSession:
    """One exec ARM handed out: what runs where, and the password its WebSocket expects first."""

    group: str
    container: str
    command: str
    terminal_size: dict[str, int]
    password: str


#: What the stand-in's WebSocket takes as the end of stdin: Ctrl-D, as a terminal does (ACI runs every exec command
#: with a terminal; the WebSocket has no half-close).
EXEC_EOF = "\x04"


async def _run_command(command: str, socket: web.WebSocketResponse) -> None:
    """A tiny command runner standing in for the container: ``echo ...`` prints its arguments, ``cat`` echoes
    stdin until Ctrl-D, ``true`` does nothing, ``exit N`` ends, ``sh -c 'A; B'`` runs its ``;``-separated
    statements (``>&2`` is dropped: output is one stream), anything else prints ``sh: X: not found`` (as a binary
    message; the rest is text) and ends. The connection then closes; like ACI, no exit code is sent. Output ends
    lines with ``\\n`` (a real terminal would send ``\\r\\n``) and stdin is not echoed by a terminal here."""
    argv = shlex.split(command)
    statements = (
        [shlex.split(part) for part in argv[2].split(";")]
        if argv[:2] in (["sh", "-c"], ["/bin/sh", "-c"]) and len(argv) == 3
        else [argv]
    )
    for statement in statements:
        words = [word for word in statement if word != ">&2"]
        if not words:
            continue
        name, arguments = words[0], words[1:]
        if name == "echo":
            await socket.send_str(" ".join(arguments) + "\n")
        elif name == "cat" and not arguments:
            async for message in socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    return
                text, eof, _ = str(message.data).partition(EXEC_EOF)
                if text:
                    await socket.send_str(text)
                if eof:
                    break
            else:
                return
        elif name == "true":
            continue
        elif name == "exit":
            return
        else:
            await socket.send_bytes(f"sh: {name}: not found\n".encode())
            return


def _redacted(body: dict[str, Any]) -> dict[str, Any]:
    """What ARM returns: no secret values."""
    shown = copy.deepcopy(body)
    properties = shown.get("properties", {})
    for container in (*properties.get("containers", []), *properties.get("initContainers", [])):
        for variable in container.get("properties", {}).get("environmentVariables", []):
            variable.pop("secureValue", None)
    for credential in properties.get("imageRegistryCredentials", []):
        credential.pop("password", None)
    for volume in properties.get("volumes", []):
        if "secret" in volume:
            volume["secret"] = {}
        volume.get("azureFile", {}).pop("storageAccountKey", None)
    properties.get("diagnostics", {}).get("logAnalytics", {}).pop("workspaceKey", None)
    return shown


class StandIn:
    def __init__(self) -> None:
        self.validator = SpecValidator()
        self.groups: dict[str, Group] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.scripts: dict[str, dict[str, Any]] = {}
        self.faults: list[dict[str, Any]] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.violations: list[str] = []
        self.page_size = 100
        self.addresses = 0
        self.base = ""
        #: Exec sessions handed out whose WebSocket was not opened yet, by the id in their URI.
        self.exec_sessions: dict[str, ExecSession] = {}
        #: Exec sessions whose WebSocket was opened with the right password, in order.
        self.exec_log: list[ExecSession] = []

    # -- validation -----------------------------------------------------------------------------------------------

    def check(self, what: str, definition: str, document: Any, *, strict: bool) -> list[str]:
        problems = self.validator.errors(definition, document, strict=strict)
        self.violations += [f"{what} ({definition}): {p}" for p in problems]
        return problems

    def answer(self, what: str, definition: str, document: Any, *, status: int = 200, **headers: str) -> web.Response:
        self.check(f"response to {what}", definition, document, strict=False)
        return web.json_response(document, status=status, headers=headers)

    def error(self, what: str, status: int, code: str, message: str, **headers: str) -> web.Response:
        return self.answer(what, "CloudError", {"error": {"code": code, "message": message}}, status=status, **headers)

    # -- the runtime: provisioning, containers that print and exit ------------------------------------------------

    def step(self) -> None:
        now = time.monotonic()
        for group in list(self.groups.values()):
            properties = group.body["properties"]
            script = self.script_for(group)
            state = properties.get("provisioningState")
            if state == "Creating" and now - group.created >= PROVISION_SECONDS:
                failure = script.get("fail")
                operation = self.operations.get(group.operation, {})
                if failure:
                    properties["provisioningState"] = "Failed"
                    properties["instanceView"] = {"state": "Failed", "events": []}
                    operation.update(status="Failed", error={"code": failure["code"], "message": failure["message"]})
                    continue
                properties["provisioningState"] = "Succeeded"
                operation.update(status="Succeeded")
                self._start(group, script)
            elif state == "Succeeded" and group.running_since is not None:
                exit_code = script.get("exit_code")
                if exit_code is not None and now - group.running_since >= EXIT_AFTER_SECONDS:
                    self._exit(group, int(exit_code))

    def script_for(self, group: Group) -> dict[str, Any]:
        """The group's script: by its pod's UID, else by its pod's ``namespace/name``."""
        tags = group.body.get("tags", {})
        by_uid = self.scripts.get(tags.get(UID_TAG, ""))
        if by_uid is not None:
            return by_uid
        return self.scripts.get(f"{tags.get(NAMESPACE_TAG, '')}/{tags.get(NAME_TAG, '')}", {})

    def group_of(self, uid: str) -> Group | None:
        """The container group of the pod with that UID, if it exists."""
        return next((g for g in list(self.groups.values()) if g.body.get("tags", {}).get(UID_TAG) == uid), None)

    def _start(self, group: Group, script: dict[str, Any]) -> None:
        properties = group.body["properties"]
        started = _now()
        for init in properties.get("initContainers", []):
            init["properties"]["instanceView"] = {
                "restartCount": 0,
                "currentState": {
                    "state": "Terminated",
                    "startTime": started,
                    "finishTime": started,
                    "exitCode": 0,
                    "detailStatus": "Completed",
                },
                "events": [],
            }
        for container in properties["containers"]:
            container["properties"]["instanceView"] = {
                "restartCount": int(script.get("restarts", 0)),
                "currentState": {"state": "Running", "startTime": started, "detailStatus": ""},
                "events": [],
            }
            lines = [f"{_now()} {line}" for line in script.get("stdout_lines", [])]
            group.logs[container["name"]] = lines
        properties["instanceView"] = {"state": "Running", "events": []}
        if "ipAddress" in properties:
            self.addresses += 1  # every group its own address
            properties["ipAddress"]["ip"] = str(ipaddress.ip_address("10.0.0.0") + self.addresses)
        group.running_since = time.monotonic()

    def _exit(self, group: Group, code: int) -> None:
        properties = group.body["properties"]
        for container in properties["containers"]:
            current = container["properties"]["instanceView"]["currentState"]
            if current["state"] == "Running":
                container["properties"]["instanceView"]["currentState"] = {
                    "state": "Terminated",
                    "startTime": current["startTime"],
                    "finishTime": _now(),
                    "exitCode": code,
                    "detailStatus": "Completed" if code == 0 else "Error",
                }
        properties["instanceView"]["state"] = "Succeeded" if code == 0 else "Failed"
        group.running_since = None

    # -- faults ---------------------------------------------------------------------------------------------------

    def fault(self, method: str) -> web.Response | None:
        for fault in self.faults:
            if fault["method"] == method and fault["times"] > 0:
                fault["times"] -= 1
                self.counts[f"fault-{fault['status']}"] += 1
                headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") is not None else {}
                code = "TooManyRequests" if fault["status"] == 429 else "InternalServerError"
                return self.error(f"{method} (scripted fault)", int(fault["status"]), code, "scripted", **headers)
        return None


def _app(standin: StandIn) -> web.Application:
    prefix = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ContainerInstance"
    groups_path = prefix + "/containerGroups"

    @web.middleware
    async def authorized(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/subscriptions/"):
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                standin.counts["unauthorized"] += 1
                return standin.error(request.path, 401, "AuthenticationFailed", "missing or wrong bearer token")
            if not request.query.get("api-version"):
                return standin.error(request.path, 400, "MissingApiVersionParameter", "api-version is required")
            fault = standin.fault(request.method)
            if fault is not None:
                return fault
        response: web.StreamResponse = await handler(request)
        return response

    async def token(request: web.Request) -> web.Response:
        standin.counts["token"] += 1
        form = await request.post()
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return web.json_response({"error": "invalid_client", "error_description": "wrong secret"}, status=401)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": TOKEN}
        )

    async def instance_discovery(request: web.Request) -> web.Response:
        standin.counts["instance-discovery"] += 1
        host = request.host
        return web.json_response(
            {
                "tenant_discovery_endpoint": f"https://{host}/{TENANT}/v2.0/.well-known/openid-configuration",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            }
        )

    async def openid(request: web.Request) -> web.Response:
        standin.counts["openid-configuration"] += 1
        base = f"https://{request.host}/{request.match_info['tenant']}"
        return web.json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
            }
        )

    async def list_groups(request: web.Request) -> web.Response:
        standin.counts["list"] += 1
        names = sorted(standin.groups)
        start = int(request.query.get("$skipToken", "0"))
        page = names[start : start + standin.page_size]
        document: dict[str, Any] = {
            "value": [_redacted(_resource(standin.groups[name])) for name in page],
        }
        if start + standin.page_size < len(names):
            document["nextLink"] = (
                f"{standin.base}{groups_path}?api-version={request.query['api-version']}"
                f"&$skipToken={start + standin.page_size}"
            )
        return standin.answer("list", "ContainerGroupListResult", document)

    def _resource(group: Group) -> dict[str, Any]:
        body = copy.deepcopy(group.body)
        body.update(
            id=f"{groups_path}/{group.name}", name=group.name, type="Microsoft.ContainerInstance/containerGroups"
        )
        return body

    async def get_group(request: web.Request) -> web.Response:
        standin.counts["get"] += 1
        group = standin.groups.get(request.match_info["name"])
        if group is None:
            return standin.error("get", 404, "ResourceNotFound", f"container group {request.match_info['name']}")
        return standin.answer("get", "ContainerGroup", _redacted(_resource(group)))

    async def put_group(request: web.Request) -> web.Response:
        standin.counts["put"] += 1
        name = request.match_info["name"]
        body = await request.json()
        problems = standin.check(f"PUT {name}", "ContainerGroup", body, strict=True)
        if problems:
            return standin.error("put", 400, "StandInSchemaViolation", "; ".join(problems))
        tags = body.get("tags", {})
        if any(set(key) & set("<>%&\\?/") for key in tags):
            return standin.error("put", 400, "InvalidTagNameCharacters", "tag names may not contain <>%&\\?/")
        for container in body["properties"]["containers"]:
            if container["properties"]["image"].startswith("invalid/"):
                return standin.error("put", 400, "InvalidImageName", f"image {container['properties']['image']}")
        existed = name in standin.groups
        body.setdefault("properties", {})["provisioningState"] = "Creating"
        group = Group(name, body)
        if existed:
            group.logs = standin.groups[name].logs
        group.operation = str(uuid.uuid4())
        standin.operations[group.operation] = {"status": "InProgress", "startTime": _now()}
        standin.groups[name] = group
        operation_url = (
            f"{standin.base}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.ContainerInstance/locations/"
            f"{REGION}/operations/{group.operation}?api-version={request.query['api-version']}"
        )
        return standin.answer(
            "put",
            "ContainerGroup",
            _redacted(_resource(group)),
            status=200 if existed else 201,
            **{"Azure-AsyncOperation": operation_url, "Retry-After": "1"},
        )

    async def delete_group(request: web.Request) -> web.Response:
        standin.counts["delete"] += 1
        group = standin.groups.pop(request.match_info["name"], None)
        if group is None:
            return web.Response(status=204)
        return standin.answer("delete", "ContainerGroup", _redacted(_resource(group)))

    async def operation(request: web.Request) -> web.Response:
        standin.counts["operation"] += 1
        found = standin.operations.get(request.match_info["id"])
        if found is None:
            return standin.error("operation", 404, "OperationNotFound", request.match_info["id"])
        return web.json_response(found)

    async def container_logs(request: web.Request) -> web.Response:
        standin.counts["logs"] += 1
        group = standin.groups.get(request.match_info["name"])
        if group is None:
            return standin.error("logs", 404, "ResourceNotFound", request.match_info["name"])
        lines = group.logs.get(request.match_info["container"], [])
        tail = request.query.get("tail")
        if tail is not None:
            lines = lines[-int(tail) :] if int(tail) > 0 else []
        if request.query.get("timestamps", "false").lower() != "true":
            lines = [line.partition(" ")[2] for line in lines]
        return standin.answer("logs", "Logs", {"content": "".join(line + "\n" for line in lines)})

    async def execute(request: web.Request) -> web.Response:
        standin.counts["exec"] += 1
        body = await request.json()
        problems = standin.check("exec", "ContainerExecRequest", body, strict=True)
        if problems:
            return standin.error("exec", 400, "StandInSchemaViolation", "; ".join(problems))
        group = standin.groups.get(request.match_info["name"])
        if group is None:
            return standin.error("exec", 404, "ResourceNotFound", f"container group {request.match_info['name']}")
        session = ExecSession(
            group=group.name,
            container=request.match_info["container"],
            command=str(body.get("command", "")),
            terminal_size=dict(body.get("terminalSize") or {}),
            password=secrets.token_urlsafe(24),
        )
        session_id = str(uuid.uuid4())
        standin.exec_sessions[session_id] = session
        return standin.answer(
            "exec",
            "ContainerExecResponse",
            {"webSocketUri": f"wss://{request.host}/exec/{session_id}", "password": session.password},
        )

    async def exec_socket(request: web.Request) -> web.WebSocketResponse:
        """The exec WebSocket: the password first, then the command runs (see :func:`_run_command`)."""
        session = standin.exec_sessions.pop(request.match_info["id"], None)
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        if session is None:
            standin.counts["exec-unknown-socket"] += 1
            await socket.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"unknown exec session")
            return socket
        first = await socket.receive()
        if first.type != aiohttp.WSMsgType.TEXT or first.data != session.password:
            standin.counts["exec-wrong-password"] += 1
            await socket.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"wrong password")
            return socket
        standin.counts["exec-socket"] += 1
        standin.exec_log.append(session)
        try:
            await _run_command(session.command, socket)
        finally:
            await socket.close()
        return socket

    app = web.Application(middlewares=[authorized])
    app.router.add_post("/{tenant}/oauth2/v2.0/token", token)
    app.router.add_get("/common/discovery/instance", instance_discovery)
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", openid)
    app.router.add_get(groups_path, list_groups)
    app.router.add_get(groups_path + "/{name}", get_group)
    app.router.add_put(groups_path + "/{name}", put_group)
    app.router.add_delete(groups_path + "/{name}", delete_group)
    app.router.add_get(groups_path + "/{name}/containers/{container}/logs", container_logs)
    app.router.add_post(groups_path + "/{name}/containers/{container}/exec", execute)
    app.router.add_get("/exec/{id}", exec_socket)
    app.router.add_get(
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.ContainerInstance/locations/{{location}}/operations/{{id}}",
        operation,
    )
    return app


def _control_app(standin: StandIn) -> web.Application:
    async def script(request: web.Request) -> web.Response:
        body = await request.json()
        standin.scripts[str(body.get("uid") or body["pod"])] = body
        return web.json_response({"ok": True})

    async def fault(request: web.Request) -> web.Response:
        standin.faults.append(await request.json())
        return web.json_response({"ok": True})

    async def page_size(request: web.Request) -> web.Response:
        standin.page_size = int((await request.json())["page_size"])
        return web.json_response({"ok": True})

    async def counts(request: web.Request) -> web.Response:
        return web.json_response(dict(standin.counts))

    app = web.Application()
    app.router.add_post("/script", script)
    app.router.add_post("/fault", fault)
    app.router.add_post("/page-size", page_size)
    app.router.add_get("/counts", counts)
    return app


@dataclass
class RunningStandIn:
    state: StandIn
    endpoint: str
    control: str
    ca_bundle: Path

    def environment(self) -> dict[str, str]:
        """What the provider process needs: azure-identity's environment, pointed at the stand-in."""
        return {
            "AZURE_AUTHORITY_HOST": self.endpoint,
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_CLIENT_SECRET": CLIENT_SECRET,
            CONTROL_ENV: self.control,
        }

    def provider_args(self, *extra: str) -> list[str]:
        return [
            "--subscription-id",
            SUBSCRIPTION,
            "--resource-group",
            RESOURCE_GROUP,
            "--region",
            REGION,
            "--endpoint-url",
            self.endpoint,
            "--ca-bundle",
            str(self.ca_bundle),
            "--poll-interval",
            "0.3",
            *extra,
        ]


@contextlib.contextmanager
def arm_standin(directory: Path) -> Iterator[RunningStandIn]:
    """The stand-in on two free loopback ports, in a thread with its own event loop."""
    import ssl

    ca, cert, key = make_certificates(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    standin = StandIn()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    ports: list[int] = []
    runners: list[web.AppRunner] = []

    async def start() -> None:
        for app, ssl_context in ((_app(standin), context), (_control_app(standin), None)):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
            await site.start()
            server = site._server
            assert server is not None
            ports.append(int(server.sockets[0].getsockname()[1]))  # type: ignore[attr-defined]
            runners.append(runner)

    async def tick() -> None:
        while True:
            standin.step()
            await asyncio.sleep(0.05)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ticker = loop.create_task(tick())
        ready.set()
        loop.run_forever()
        ticker.cancel()
        for runner in runners:
            loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="arm stand-in", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the ARM stand-in did not start")
    standin.base = f"https://127.0.0.1:{ports[0]}"
    try:
        yield RunningStandIn(standin, standin.base, f"http://127.0.0.1:{ports[1]}", ca)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert not standin.violations, "requests or responses that break the ACI OpenAPI spec:\n" + "\n".join(
        standin.violations
    )


class ConformanceHook:
    """The vk-conformance hook: scripts what each kit pod's container group does (``$VK_ACI_TEST_STANDIN_CONTROL``)."""

    async def before_create(self, pod: Any, expectation: Any) -> None:
        import os
        import urllib.request

        body = json.dumps(
            {
                "uid": pod.metadata.uid,
                "stdout_lines": list(expectation.stdout_lines),
                "exit_code": expectation.exit_code,
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            os.environ[CONTROL_ENV] + "/script", data=body, headers={"Content-Type": "application/json"}
        )

        def post() -> None:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
                pass

        await asyncio.to_thread(post)
