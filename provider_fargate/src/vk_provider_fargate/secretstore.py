"""A pod's sensitive values in AWS Secrets Manager: one secret per pod, which its task definition only references.

Why Secrets Manager (and not the task definition, nor SSM Parameter Store): a task definition is readable by anyone
with ``ecs:DescribeTaskDefinition`` and is kept (INACTIVE) after deregistration, so secret env values, secret volume
files and service-account tokens must not be in it. ECS can inject a *JSON key* of a Secrets Manager secret as an
environment variable (``secrets: [{"name": ..., "valueFrom": "<secret-arn>:<json-key>::"}]``), so one secret per
pod holds all of that pod's values (one API call to create, one to delete, one ARN to grant), where Parameter Store
would need a parameter per value and has a 4 KiB limit (8 KiB advanced) per value.

- **Name** ``virtual-kubelet/<node>/<pod UID>`` (:func:`secret_name`), **tags** ``virtual-kubelet.io/node``,
  ``/pod-uid``, ``/namespace``, ``/name`` plus ``--tag``\\s. The **value** is a JSON object of strings: env values as
  they are, file contents base64-encoded (the ``vk-files`` helper decodes them). At most 64 KiB (the service limit).
- **Registry credentials** (from imagePullSecrets) go into one more secret per distinct credential the pod's
  images use, ``<pod secret name>/registry-<n>`` (:func:`registry_secret_name`) holding ``{"username": ...,
  "password": ...}``, the format ECS's ``repositoryCredentials`` reads; tagged, deleted and adopted like the pod's
  secret (the IAM resources below cover them).
- **IAM.** The *task execution role* (``--execution-role-arn``, always required) needs ``secretsmanager:GetSecretValue``
  on ``arn:aws:secretsmanager:<region>:<account>:secret:virtual-kubelet/<node>/*`` (plus ``kms:Decrypt`` if the
  account's default key for Secrets Manager is replaced by a customer key); without it ECS fails the task with
  ``ResourceInitializationError``, which the pod reports. The *provider's* credentials need
  ``secretsmanager:CreateSecret``, ``PutSecretValue``, ``TagResource``, ``DeleteSecret`` on the same prefix and
  ``secretsmanager:ListSecrets``.
- **Lifecycle.** Created (or, on a retried create, overwritten) before the task definition is registered; deleted
  with ``ForceDeleteWithoutRecovery`` (no 7-day recovery window holding the name and the value) once the pod's
  task is stopped and the pod is forgotten, when a create fails before a task could exist, and, at adoption after
  a restart, when no task of the node carries the secret's pod UID (an orphan of a crash between the two steps).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from vk_provider_fargate import backend
from vk_provider_fargate.config import TAG_PREFIX

SECRET_PREFIX = "virtual-kubelet/"  # noqa: S105 - a name prefix, not a password
#: Secrets Manager's limit on a SecretString, in bytes.
MAX_SECRET_BYTES = 65536
_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9/_+=.@-]")


def node_prefix(node_name: str) -> str:
    """The name prefix of every secret of ``node_name`` (the resource the execution role must be able to read)."""
    return f"{SECRET_PREFIX}{_NAME_CHARACTERS.sub('_', node_name.replace('/', '_'))}/"


def secret_name(node_name: str, uid: str) -> str:
    return node_prefix(node_name) + _NAME_CHARACTERS.sub("_", uid.replace("/", "_"))


def registry_secret_name(node_name: str, uid: str, index: int) -> str:
    return f"{secret_name(node_name, uid)}/registry-{index}"


def encode(values: Mapping[str, str]) -> str:
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":"))


async def store(clients: backend.Clients, name: str, values: Mapping[str, str], tags: list[dict[str, str]]) -> str:
    """Create the secret ``name`` holding ``values`` (or put them as its new version if it exists); its ARN."""
    text = encode(values)
    client = clients.secrets

    def create() -> str:
        try:
            answer = client.create_secret(
                Name=name,
                SecretString=text,
                Description="values of one Kubernetes pod run by virtual-kubelet on AWS Fargate",
                Tags=[{"Key": t["key"], "Value": t["value"]} for t in tags],
            )
        except botocore.exceptions.ClientError as error:
            if backend.error_code(error) != "ResourceExistsException":
                raise
            answer = client.put_secret_value(SecretId=name, SecretString=text)
        return str(answer["ARN"])

    return await backend.call("CreateSecret", create)


async def delete(clients: backend.Clients, secret: str) -> None:
    """Delete the secret (name or ARN) at once, without a recovery window; a secret already gone is fine."""
    client = clients.secrets

    def remove() -> None:
        try:
            client.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
        except botocore.exceptions.ClientError as error:
            if backend.error_code(error) != "ResourceNotFoundException":
                raise

    await backend.call("DeleteSecret", remove)


async def of_node(clients: backend.Clients, node_name: str) -> dict[str, list[str]]:
    """The node's secrets: their ARNs by pod UID (from the tag, which must name this node)."""
    client = clients.secrets
    prefix = node_prefix(node_name)

    def listing() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        paginator = client.get_paginator("list_secrets")
        for page in paginator.paginate(Filters=[{"Key": "name", "Values": [prefix]}]):
            for entry in page.get("SecretList", []):
                if not str(entry.get("Name", "")).startswith(prefix):
                    continue
                tags: dict[str, Any] = {str(t.get("Key")): t.get("Value") for t in entry.get("Tags", [])}
                uid = tags.get(TAG_PREFIX + "pod-uid")
                if tags.get(TAG_PREFIX + "node") == node_name and uid:
                    found.setdefault(str(uid), []).append(str(entry["ARN"]))
        return found

    return await backend.call("ListSecrets", listing)


__all__ = [
    "MAX_SECRET_BYTES",
    "SECRET_PREFIX",
    "delete",
    "encode",
    "node_prefix",
    "of_node",
    "registry_secret_name",
    "secret_name",
    "store",
]
