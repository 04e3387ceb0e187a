"""Everything a pod references, fetched from the API server as the node, so the provider needs no credentials.

Reads only the objects the pod names (one GET each, which is all the Node authorizer allows a kubelet anyway):
configMaps and secrets for env and volumes, service-account tokens through the TokenRequest API (bound to the
pod), image pull secrets, and the namespace's services for the service-link variables. Nothing cluster-wide is
listed or watched.

A mandatory configMap or secret that does not exist raises :class:`MissingReference`: the pod stays Pending with
its containers waiting on ``CreateContainerConfigError`` and is looked at again until the object appears. Optional
ones are skipped, as the kubelet does. Secret values never appear in messages raised from here.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from vk_controller.pods.fieldrefs import field_ref_value, format_map, pod_env_var, resource_field_ref_value
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

log = logging.getLogger(__name__)

Json = dict[str, Any]

DEFAULT_MODE = 0o644
DEFAULT_TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class _TokenFile(ResolvedFile):
    """A service-account token file; ``identity`` (account, audience, lifetime) stands for it in the digest."""

    identity: str = ""


def _digest(resolved: ResolvedPod) -> str:
    def stable(value: Any) -> Any:
        if isinstance(value, _TokenFile):
            return ("token", value.path, value.mode, value.identity)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return tuple(stable(getattr(value, f.name)) for f in dataclasses.fields(value))
        if isinstance(value, Mapping):
            return tuple(sorted((str(k), stable(v)) for k, v in value.items()))
        if isinstance(value, list | tuple):
            return tuple(stable(v) for v in value)
        return value

    return hashlib.blake2b(repr(stable(resolved)).encode(), digest_size=8).hexdigest()


class MissingReference(Exception):
    """A mandatory configMap or secret does not exist (yet). ``container`` is the one waiting, if any."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ObjectReader(Protocol):
    """The API reads resolution needs; ``None`` means the object does not exist."""

    async def config_map(self, namespace: str, name: str) -> Json | None: ...

    async def secret(self, namespace: str, name: str) -> Json | None: ...

    async def services(self, namespace: str) -> list[Json]: ...

    async def service_account_token(
        self, namespace: str, service_account: str, *, pod: Json, audience: str | None, seconds: int
    ) -> str: ...


@dataclass(frozen=True)
class ResolverSettings:
    cluster_dns: ClusterDNS | None = None
    node_allocatable: Mapping[str, str] | None = None
    # Where pods reach the API server (KUBERNETES_SERVICE_HOST/PORT); None: the `kubernetes` service's cluster IP.
    api_server_host: str | None = None
    api_server_port: int | None = None


def _decode(value: str) -> str:
    return base64.b64decode(value).decode("utf-8", errors="replace")


def _secret_values(secret: Json) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def _config_map_values(config_map: Json) -> dict[str, bytes]:
    values = {k: v.encode() for k, v in (config_map.get("data") or {}).items()}
    values.update({k: base64.b64decode(v) for k, v in (config_map.get("binaryData") or {}).items()})
    return values


_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def _service_env(services: list[Json], *, links: bool) -> dict[str, str]:
    """FOO_SERVICE_HOST/PORT (and the docker-link variables when service links are on) for each service."""
    env: dict[str, str] = {}
    for service in sorted(services, key=lambda s: s["metadata"]["name"]):
        spec = service.get("spec", {})
        ip = spec.get("clusterIP")
        if not ip or ip == "None" or spec.get("type") == "ExternalName":
            continue
        name = service["metadata"]["name"]
        is_master = name == "kubernetes" and service["metadata"].get("namespace") == "default"
        if not links and not is_master:
            continue
        prefix = name.upper().replace("-", "_")
        ports = spec.get("ports") or []
        env[f"{prefix}_SERVICE_HOST"] = ip
        if ports:
            env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(port["port"])
        if links and ports:
            first = ports[0]
            proto = first.get("protocol", "TCP").lower()
            env[f"{prefix}_PORT"] = f"{proto}://{ip}:{first['port']}"
            for port in ports:
                p = port.get("protocol", "TCP")
                base = f"{prefix}_PORT_{port['port']}_{p}"
                env[base] = f"{p.lower()}://{ip}:{port['port']}"
                env[f"{base}_PROTO"] = p.lower()
                env[f"{base}_PORT"] = str(port["port"])
                env[f"{base}_ADDR"] = ip
    return env


class Resolver:
    def __init__(self, reader: ObjectReader, settings: ResolverSettings | None = None) -> None:
        self._reader = reader
        self._settings = settings or ResolverSettings()

    async def resolve(self, pod: Json) -> ResolvedPod:
        spec = pod["spec"]
        namespace = pod["metadata"]["namespace"]
        env = {}
        for kind in ("initContainers", "containers"):
            for index, container in enumerate(spec.get(kind) or []):
                env[container["name"]] = await self._container_env(pod, container, f"spec.{kind}[{index}]")
        files: dict[str, ResolvedFiles] = {}
        azure: dict[str, AzureFileCredentials] = {}
        for index, volume in enumerate(spec.get("volumes") or []):
            where = f"spec.volumes[{index}]"
            if "azureFile" in volume:
                azure[volume["name"]] = await self._azure_file(namespace, volume["azureFile"], where)
                continue
            resolved = await self._volume_files(pod, volume, where)
            if resolved is not None:
                files[volume["name"]] = resolved
        result = ResolvedPod(
            env=env,
            service_env=await self._services_env(pod),
            files=files,
            azure_files=azure,
            pull_credentials=await self._pull_credentials(namespace, spec),
            cluster_dns=self._settings.cluster_dns,
            node_allocatable=dict(self._settings.node_allocatable or {}),
        )
        return dataclasses.replace(result, digest=_digest(result))

    # -- env ----------------------------------------------------------------------------------------------------

    async def _container_env(self, pod: Json, container: Json, where: str) -> list[ResolvedEnvVar]:
        namespace = pod["metadata"]["namespace"]
        entries: list[ResolvedEnvVar] = []
        for index, source in enumerate(container.get("envFrom") or []):
            field = f"{where}.envFrom[{index}]"
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                ref = source["configMapRef"]
                obj = await self._reader.config_map(namespace, ref["name"])
                if obj is None:
                    self._missing(ref, field, "configmap", ref["name"])
                    continue
                pairs = [(k, v, False) for k, v in (obj.get("data") or {}).items()]
            elif "secretRef" in source:
                ref = source["secretRef"]
                obj = await self._reader.secret(namespace, ref["name"])
                if obj is None:
                    self._missing(ref, field, "secret", ref["name"])
                    continue
                pairs = [(k, _decode(v), True) for k, v in (obj.get("data") or {}).items()]
            else:
                raise InvalidPodSpec(field, "neither configMapRef nor secretRef")
            for key, value, sensitive in sorted(pairs):
                name = prefix + key
                if _ENV_NAME.match(name):
                    entries.append(ResolvedEnvVar(name, value, sensitive=sensitive))
        allocatable = dict(self._settings.node_allocatable or {})
        for index, var in enumerate(container.get("env") or []):
            field = f"{where}.env[{index}].valueFrom"
            source = var.get("valueFrom") or {}
            if not var.get("value") and "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                obj = await self._reader.config_map(namespace, ref["name"])
                value = None if obj is None else (obj.get("data") or {}).get(ref["key"])
                if value is None:
                    self._missing_key(ref, f"{field}.configMapKeyRef", "configmap", obj is None)
                    continue
                entries.append(ResolvedEnvVar(var["name"], value))
            elif not var.get("value") and "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                obj = await self._reader.secret(namespace, ref["name"])
                raw = None if obj is None else (obj.get("data") or {}).get(ref["key"])
                if raw is None:
                    self._missing_key(ref, f"{field}.secretKeyRef", "secret", obj is None)
                    continue
                entries.append(ResolvedEnvVar(var["name"], _decode(raw), sensitive=True))
            else:
                entries.append(pod_env_var(pod, container, index, where=where, allocatable=allocatable))
        return entries

    @staticmethod
    def _missing(ref: Json, field: str, kind: str, name: str) -> None:
        if not ref.get("optional"):
            raise MissingReference(field, f'{kind} "{name}" not found')

    @staticmethod
    def _missing_key(ref: Json, field: str, kind: str, object_missing: bool) -> None:
        if ref.get("optional"):
            return
        if object_missing:
            raise MissingReference(field, f'{kind} "{ref["name"]}" not found')
        raise MissingReference(field, f"couldn't find key {ref['key']} in {kind} {ref['name']}")

    async def _services_env(self, pod: Json) -> dict[str, str]:
        links = pod["spec"].get("enableServiceLinks", True)
        namespace = pod["metadata"]["namespace"]
        services = await self._reader.services(namespace) if links else []
        if namespace != "default" or not links:
            services += [s for s in await self._reader.services("default") if s["metadata"]["name"] == "kubernetes"]
        env = _service_env(services, links=links)
        if self._settings.api_server_host:
            env["KUBERNETES_SERVICE_HOST"] = self._settings.api_server_host
        if self._settings.api_server_port:
            env["KUBERNETES_SERVICE_PORT"] = str(self._settings.api_server_port)
            env["KUBERNETES_SERVICE_PORT_HTTPS"] = str(self._settings.api_server_port)
        return env

    # -- volumes ------------------------------------------------------------------------------------------------

    async def _volume_files(self, pod: Json, volume: Json, where: str) -> ResolvedFiles | None:
        namespace = pod["metadata"]["namespace"]
        if "configMap" in volume:
            source = volume["configMap"]
            files = await self._object_files(namespace, "configmap", source, f"{where}.configMap")
            return ResolvedFiles(tuple(files))
        if "secret" in volume:
            source = {**volume["secret"], "name": volume["secret"].get("secretName", "")}
            files = await self._object_files(namespace, "secret", source, f"{where}.secret")
            return ResolvedFiles(tuple(files))
        if "downwardAPI" in volume:
            source = volume["downwardAPI"]
            mode = source.get("defaultMode", DEFAULT_MODE)
            return ResolvedFiles(
                tuple(self._downward_files(pod, source.get("items") or [], mode, f"{where}.downwardAPI"))
            )
        if "projected" in volume:
            return ResolvedFiles(tuple(await self._projected_files(pod, volume["projected"], f"{where}.projected")))
        return None

    async def _object_files(
        self, namespace: str, kind: str, source: Json, where: str, default_mode: int | None = None
    ) -> list[ResolvedFile]:
        name = source.get("name", "")
        mode = source.get("defaultMode", default_mode if default_mode is not None else DEFAULT_MODE)
        obj = await (
            self._reader.secret(namespace, name) if kind == "secret" else self._reader.config_map(namespace, name)
        )
        if obj is None:
            if source.get("optional"):
                return []
            raise MissingReference(where, f'{kind} "{name}" not found')
        values = _secret_values(obj) if kind == "secret" else _config_map_values(obj)
        items = source.get("items")
        sensitive = kind == "secret"
        if not items:
            return [ResolvedFile(key, data, mode, sensitive) for key, data in sorted(values.items())]
        files = []
        for index, item in enumerate(items):
            if item["key"] not in values:
                if source.get("optional"):
                    continue
                raise MissingReference(f"{where}.items[{index}]", f'{kind} "{name}" has no key {item["key"]}')
            files.append(ResolvedFile(item["path"], values[item["key"]], item.get("mode", mode), sensitive))
        return files

    def _downward_files(self, pod: Json, items: list[Json], mode: int, where: str) -> list[ResolvedFile]:
        files = []
        for index, item in enumerate(items):
            field = f"{where}.items[{index}]"
            if "fieldRef" in item:
                path = item["fieldRef"].get("fieldPath", "")
                if path in ("metadata.labels", "metadata.annotations"):
                    key = path.split(".")[1]
                    value: str | RuntimeValue = format_map(pod["metadata"].get(key) or {})
                else:
                    value = field_ref_value(pod, item["fieldRef"], field=f"{field}.fieldRef")
                if isinstance(value, RuntimeValue):
                    raise InvalidPodSpec(f"{field}.fieldRef", f"{value.value} is not available in downwardAPI volumes")
            elif "resourceFieldRef" in item:
                value = resource_field_ref_value(
                    pod,
                    item["resourceFieldRef"],
                    container_name=item["resourceFieldRef"].get("containerName", ""),
                    allocatable=dict(self._settings.node_allocatable or {}),
                    field=f"{field}.resourceFieldRef",
                )
            else:
                raise InvalidPodSpec(field, "neither fieldRef nor resourceFieldRef")
            files.append(ResolvedFile(item["path"], value.encode(), item.get("mode", mode)))
        return files

    async def _projected_files(self, pod: Json, projected: Json, where: str) -> list[ResolvedFile]:
        namespace = pod["metadata"]["namespace"]
        mode = projected.get("defaultMode", DEFAULT_MODE)
        files: list[ResolvedFile] = []
        for index, source in enumerate(projected.get("sources") or []):
            field = f"{where}.sources[{index}]"
            if "serviceAccountToken" in source:
                token = source["serviceAccountToken"]
                account = pod["spec"].get("serviceAccountName") or "default"
                value = await self._reader.service_account_token(
                    namespace,
                    account,
                    pod=pod,
                    audience=token.get("audience") or None,
                    seconds=int(token.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS),
                )
                audience = token.get("audience") or ""
                identity = f"{account}|{audience}|{token.get('expirationSeconds') or DEFAULT_TOKEN_SECONDS}"
                files.append(_TokenFile(token["path"], value.encode(), mode, sensitive=True, identity=identity))
            elif "configMap" in source:
                files += await self._object_files(
                    namespace, "configmap", source["configMap"], f"{field}.configMap", mode
                )
            elif "secret" in source:
                files += await self._object_files(namespace, "secret", source["secret"], f"{field}.secret", mode)
            elif "downwardAPI" in source:
                files += self._downward_files(
                    pod, source["downwardAPI"].get("items") or [], mode, f"{field}.downwardAPI"
                )
            else:
                kinds = ", ".join(sorted(source)) or "nothing"
                raise InvalidPodSpec(field, f"projected source {kinds} is not supported on a virtual node")
        return files

    async def _azure_file(self, namespace: str, source: Json, where: str) -> AzureFileCredentials:
        name = source.get("secretName", "")
        secret = await self._reader.secret(namespace, name)
        if secret is None:
            raise MissingReference(f"{where}.azureFile.secretName", f'secret "{name}" not found')
        values = _secret_values(secret)
        try:
            return AzureFileCredentials(
                values["azurestorageaccountname"].decode(), values["azurestorageaccountkey"].decode()
            )
        except KeyError as missing:
            raise MissingReference(f"{where}.azureFile.secretName", f'secret "{name}" has no key {missing}') from None

    # -- registry credentials -----------------------------------------------------------------------------------

    async def _pull_credentials(self, namespace: str, spec: Json) -> list[PullCredential]:
        credentials: list[PullCredential] = []
        for ref in spec.get("imagePullSecrets") or []:
            secret = await self._reader.secret(namespace, ref.get("name", ""))
            if secret is None:
                log.warning("image pull secret %s/%s not found; pulling without it", namespace, ref.get("name"))
                continue
            values = _secret_values(secret)
            raw = values.get(".dockerconfigjson") or values.get(".dockercfg")
            if raw is None:
                continue
            try:
                config = json.loads(raw)
            except ValueError:
                log.warning("image pull secret %s/%s is not valid JSON; ignored", namespace, ref.get("name"))
                continue
            auths = config.get("auths", config) if isinstance(config, dict) else {}
            for server, entry in sorted(auths.items()):
                if not isinstance(entry, dict):
                    continue
                credentials.append(
                    PullCredential(
                        server=server,
                        username=entry.get("username", ""),
                        password=entry.get("password", ""),
                        auth=entry.get("auth", ""),
                        identity_token=entry.get("identitytoken", ""),
                        registry_token=entry.get("registrytoken", ""),
                    )
                )
        return credentials


__all__ = ["MissingReference", "ObjectReader", "Resolver", "ResolverSettings", "UnresolvedReference"]
