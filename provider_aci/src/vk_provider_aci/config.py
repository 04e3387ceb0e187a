"""vk-provider-aci's own flags (the common server flags come from the SDK's CLI).

Every flag can also be set through an environment variable ``VK_ACI_<FLAG>`` (``--resource-group`` is
``VK_ACI_RESOURCE_GROUP``); the flag wins. Secrets are never flags: Azure credentials come from azure-identity
(``AZURE_TENANT_ID``/``AZURE_CLIENT_ID``/``AZURE_CLIENT_SECRET``, workload identity, managed identity, the Azure
CLI, ... through ``DefaultAzureCredential``) and the Log Analytics workspace key from ``VK_ACI_LOG_ANALYTICS_KEY``.

=================================== ======== ===========================================================
flag                                required meaning
=================================== ======== ===========================================================
``--subscription-id``               yes      Azure subscription (a GUID)
``--resource-group``                yes      resource group the container groups are created in
``--region``                        yes      Azure region of the container groups, e.g. ``westeurope``
``--subnet-id``                     no       subnet resource ID: groups get private IPs in that VNet
``--dns-nameservers``               no       comma-separated resolvers for the groups (VNet only)
``--log-analytics-workspace-id``    no       Log Analytics workspace ID (the key from the environment)
``--gpu-sku``                       no       ``K80``, ``P100`` or ``V100`` for pods asking nvidia.com/gpu
``--tag key=value``                 no       extra tag on every container group (repeatable)
``--capacity``                      no       the Node's capacity, ``cpu=100,memory=400Gi,pods=500`` default
``--poll-interval``                 no       seconds between two listings of the resource group (default 5)
``--endpoint-url``                  no       Azure Resource Manager endpoint (tests: a local stand-in)
``--ca-bundle``                     no       CA bundle (PEM) to trust for ARM and Entra ID (tests)
=================================== ======== ===========================================================

All mistakes are reported at once, one sentence each, before anything is contacted.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from vk_provider_sdk.capacity import parse_capacity
from vk_provider_sdk.flags import add_env_flags, add_env_list_flag, parse_seconds, split_list

DEFAULT_CAPACITY = {"cpu": "100", "memory": "400Gi", "pods": "500"}
DEFAULT_ENDPOINT = "https://management.azure.com"
#: Tag keys this provider writes itself (ARM tag keys may not contain ``/``, so no ``virtual-kubelet.io/`` prefix).
TAG_PREFIX = "vk."
GPU_SKUS = ("K80", "P100", "V100")
LOG_ANALYTICS_KEY_ENV = "VK_ACI_LOG_ANALYTICS_KEY"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_RESOURCE_GROUP = re.compile(r"^[-\w._()]{0,89}[-\w_()]$")
_REGION = re.compile(r"^[a-z][a-z0-9]{2,40}$")
_SUBNET = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$",
    re.IGNORECASE,
)
_IPV4 = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$")
_TAG_KEY_FORBIDDEN = re.compile(r"[<>%&\\?/]")


@dataclass(frozen=True)
class AciConfig:
    subscription_id: str
    resource_group: str
    region: str
    subnet_id: str = ""
    dns_nameservers: tuple[str, ...] = ()
    log_analytics_workspace_id: str = ""
    #: From the environment only (never a flag, never logged).
    log_analytics_key: str = field(default="", repr=False)
    gpu_sku: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    capacity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    poll_interval: float = 5.0
    endpoint_url: str = DEFAULT_ENDPOINT
    ca_bundle: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Azure Container Instances (each also VK_ACI_<FLAG>, e.g. VK_ACI_REGION)")
    helps = {
        "subscription-id": "Azure subscription ID (required)",
        "resource-group": "resource group of the container groups (required)",
        "region": "Azure region of the container groups, e.g. westeurope (required)",
        "subnet-id": "subnet resource ID for VNet-injected groups with private IPs (optional)",
        "dns-nameservers": "comma-separated DNS servers for the groups; needs --subnet-id (optional)",
        "log-analytics-workspace-id": f"Log Analytics workspace ID; the key is read from ${LOG_ANALYTICS_KEY_ENV}",
        "gpu-sku": f"GPU SKU for pods that request nvidia.com/gpu: one of {', '.join(GPU_SKUS)}",
        "capacity": "Node capacity as resource=quantity pairs over cpu=100,memory=400Gi,pods=500",
        "poll-interval": "seconds between two listings of the resource group (default 5)",
        "endpoint-url": f"Azure Resource Manager endpoint (default {DEFAULT_ENDPOINT}; tests use a stand-in)",
        "ca-bundle": "CA bundle (PEM) trusted for ARM and Microsoft Entra ID (tests)",
    }
    add_env_flags(group, "ACI", helps)
    add_env_list_flag(
        group,
        "ACI",
        "tag",
        env="tags",
        help="key=value tag on every container group (repeatable; env VK_ACI_TAGS, comma-separated)",
    )


def from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> AciConfig:
    """The configuration the flags describe; ValueError listing every mistake."""
    environ = dict(os.environ) if environ is None else environ
    problems: list[str] = []
    subscription = (args.subscription_id or "").strip()
    if not subscription:
        problems.append("--subscription-id: required (the Azure subscription ID, a GUID)")
    elif not _GUID.match(subscription):
        problems.append(f"--subscription-id: {subscription!r} is not a subscription ID (a GUID)")
    group = (args.resource_group or "").strip()
    if not group:
        problems.append("--resource-group: required (the resource group the container groups live in)")
    elif not _RESOURCE_GROUP.match(group):
        problems.append(f"--resource-group: {group!r} is not a resource group name (1-90 of letters, digits, ._-())")
    region = (args.region or "").strip()
    if not region:
        problems.append("--region: required (an Azure region such as westeurope)")
    elif not _REGION.match(region):
        problems.append(f"--region: {region!r} is not an Azure region name such as westeurope (lowercase, no spaces)")
    subnet = (args.subnet_id or "").strip()
    if subnet and not _SUBNET.match(subnet):
        problems.append(
            f"--subnet-id: {subnet!r} is not a subnet resource ID "
            "(/subscriptions/.../resourceGroups/.../providers/Microsoft.Network/virtualNetworks/.../subnets/...)"
        )
    nameservers = split_list(args.dns_nameservers)
    problems += [f"--dns-nameservers: {s!r} is not an IPv4 address" for s in nameservers if not _IPV4.match(s)]
    if nameservers and not subnet:
        problems.append("--dns-nameservers: ACI accepts DNS settings only for groups in a VNet; set --subnet-id")
    workspace = (args.log_analytics_workspace_id or "").strip()
    key = environ.get(LOG_ANALYTICS_KEY_ENV, "")
    if workspace and not _GUID.match(workspace):
        problems.append(f"--log-analytics-workspace-id: {workspace!r} is not a workspace ID (a GUID)")
    elif workspace and not key:
        problems.append(f"--log-analytics-workspace-id: the workspace key must be set in ${LOG_ANALYTICS_KEY_ENV}")
    gpu = (args.gpu_sku or "").strip()
    if gpu and gpu not in GPU_SKUS:
        problems.append(f"--gpu-sku: {gpu!r} is not one of {', '.join(GPU_SKUS)}")
    tags = _tags(args.tag or [], problems)
    capacity = parse_capacity(args.capacity or "", DEFAULT_CAPACITY, problems)
    poll = parse_seconds(args.poll_interval, "poll-interval", 5.0, problems)
    endpoint = (args.endpoint_url or DEFAULT_ENDPOINT).rstrip("/")
    if not endpoint.startswith("https://"):
        problems.append(f"--endpoint-url: {endpoint!r} is not an https:// URL (ARM bearer tokens need TLS)")
    ca_bundle = args.ca_bundle or None
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        problems.append(f"--ca-bundle: {ca_bundle!r} is not a readable file")
    if problems:
        raise ValueError("invalid ACI configuration: " + "; ".join(problems))
    return AciConfig(
        subscription_id=subscription,
        resource_group=group,
        region=region,
        subnet_id=subnet,
        dns_nameservers=nameservers,
        log_analytics_workspace_id=workspace,
        log_analytics_key=key if workspace else "",
        gpu_sku=gpu,
        tags=tags,
        capacity=capacity,
        poll_interval=poll,
        endpoint_url=endpoint,
        ca_bundle=ca_bundle,
    )


def _tags(items: list[str], problems: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or len(key) > 512 or len(value) > 256 or _TAG_KEY_FORBIDDEN.search(key):
            problems.append(f"--tag: {item!r} is not key=value with an ARM tag key (no <>%&\\?/) and value")
        elif key.startswith((TAG_PREFIX, "microsoft", "azure", "windows")):
            problems.append(f"--tag: {key!r} uses a reserved prefix ({TAG_PREFIX}, microsoft, azure or windows)")
        else:
            tags[key] = value
    if len(tags) > 40:
        problems.append(f"--tag: {len(tags)} tags; ARM allows 50 and the provider needs 6 of them")
    return tags


__all__ = [
    "DEFAULT_CAPACITY",
    "GPU_SKUS",
    "LOG_ANALYTICS_KEY_ENV",
    "TAG_PREFIX",
    "AciConfig",
    "add_arguments",
    "from_args",
]
