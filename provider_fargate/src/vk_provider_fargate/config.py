"""vk-provider-fargate's own flags (the common server flags come from the SDK's CLI).

Every flag can also be set through an environment variable ``VK_FARGATE_<FLAG>`` (``--cluster`` is
``VK_FARGATE_CLUSTER``, ``--subnets`` is ``VK_FARGATE_SUBNETS``); the flag wins. Credentials are never flags: boto3
finds them through the standard AWS chain (environment, shared config and profiles, SSO, web identity, container
and instance roles).

=============================== ======== ================================================================
flag                            required meaning
=============================== ======== ================================================================
``--cluster``                   yes      ECS cluster name or ARN the tasks run in
``--region``                    yes*     AWS region (*or from the AWS chain: ``AWS_REGION``, profile)
``--subnets``                   yes      comma-separated ``subnet-...`` IDs for the tasks' ENIs
``--security-groups``           yes      comma-separated ``sg-...`` IDs for the tasks' ENIs
``--assign-public-ip``          no       ``ENABLED`` or ``DISABLED`` (default)
``--execution-role-arn``        yes      IAM role ECS uses to pull images, write logs and read pods' secrets
``--task-role-arn``             no       IAM role the containers get
``--log-group``                 yes      CloudWatch Logs group for every container (awslogs driver)
``--log-stream-prefix``         no       awslogs stream prefix (default ``vk``)
``--platform-version``          no       Fargate platform version (default ``LATEST``)
``--tag key=value``             no       extra tag on every task and task definition (repeatable)
``--capacity``                  no       the Node's capacity, ``cpu=16,memory=64Gi,pods=100`` by default
``--files-image``               no       image of the helper that writes configMap/downwardAPI files
``--poll-interval``             no       seconds between status polls while tasks change (default 2)
``--max-poll-interval``         no       the longest interval once nothing changes (default 15)
``--endpoint-url``              no       ECS, Logs, Secrets Manager endpoint (tests against moto, LocalStack)
=============================== ======== ================================================================

The execution role is required, not optional, also because every pod with a Secret-sourced env value, a secret
volume or a service-account token (the ``kube-api-access`` volume nearly every pod has) gets its values from
Secrets Manager through it (:mod:`secretstore`): it needs ``secretsmanager:GetSecretValue`` on
``arn:aws:secretsmanager:<region>:<account>:secret:virtual-kubelet/<node>/*``.

All mistakes are reported at once, one sentence each, before anything is contacted.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field

from vk_provider_sdk.capacity import parse_capacity
from vk_provider_sdk.flags import add_env_flags, add_env_list_flag, parse_seconds, split_list

DEFAULT_CAPACITY = {"cpu": "16", "memory": "64Gi", "pods": "100"}
DEFAULT_FILES_IMAGE = "public.ecr.aws/docker/library/busybox:1.36"
#: Tag keys this provider writes itself; users cannot set them with --tag.
TAG_PREFIX = "virtual-kubelet.io/"

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8,17}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_CLUSTER = re.compile(r"^([A-Za-z0-9_-]{1,255}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster/[A-Za-z0-9_-]{1,255})$")
_LOG_GROUP = re.compile(r"^[\w./#-]{1,512}$")
_TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
_TAG_VALUE = re.compile(r"^[\w .:/=+@-]{0,256}$")
_PLATFORM = re.compile(r"^(LATEST|\d+\.\d+\.\d+)$")


@dataclass(frozen=True)
class FargateConfig:
    cluster: str
    region: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    execution_role_arn: str
    log_group: str
    assign_public_ip: bool = False
    task_role_arn: str = ""
    log_stream_prefix: str = "vk"
    platform_version: str = "LATEST"
    tags: dict[str, str] = field(default_factory=dict)
    capacity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    files_image: str = DEFAULT_FILES_IMAGE
    poll_interval: float = 2.0
    max_poll_interval: float = 15.0
    endpoint_url: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS Fargate (each also VK_FARGATE_<FLAG>, e.g. VK_FARGATE_CLUSTER)")
    helps = {
        "cluster": "ECS cluster name or ARN (required)",
        "region": "AWS region (default: from the AWS configuration chain)",
        "subnets": "comma-separated subnet IDs for the tasks (required)",
        "security-groups": "comma-separated security group IDs for the tasks (required)",
        "assign-public-ip": "ENABLED or DISABLED (default DISABLED)",
        "execution-role-arn": "task execution role ARN: image pulls, CloudWatch logs, pod secrets (required)",
        "task-role-arn": "IAM role ARN the containers run with (optional)",
        "log-group": "CloudWatch Logs group for container logs (required)",
        "log-stream-prefix": "awslogs stream prefix (default vk)",
        "platform-version": "Fargate platform version (default LATEST)",
        "capacity": "Node capacity as resource=quantity pairs over cpu=16,memory=64Gi,pods=100",
        "files-image": f"image that writes configMap/downwardAPI files (default {DEFAULT_FILES_IMAGE})",
        "poll-interval": "seconds between status polls while tasks change (default 2)",
        "max-poll-interval": "longest seconds between status polls when nothing changes (default 15)",
        "endpoint-url": "ECS, CloudWatch Logs and Secrets Manager endpoint override, for tests (moto) and LocalStack",
    }
    add_env_flags(group, "FARGATE", helps)
    add_env_list_flag(
        group,
        "FARGATE",
        "tag",
        env="tags",
        help="key=value tag on every task and task definition (repeatable; env VK_FARGATE_TAGS, comma-separated)",
    )


def _default_region() -> str:
    import boto3.session

    return boto3.session.Session().region_name or ""


def from_args(args: argparse.Namespace) -> FargateConfig:
    """The configuration the flags describe; ValueError listing every mistake."""
    problems: list[str] = []
    cluster = args.cluster or ""
    if not cluster:
        problems.append("--cluster: required (the ECS cluster name or ARN)")
    elif not _CLUSTER.match(cluster):
        problems.append(f"--cluster: {cluster!r} is neither a cluster name nor an ECS cluster ARN")
    region = args.region or _default_region()
    if not region:
        problems.append("--region: required (or set AWS_REGION / a profile region)")
    elif not _REGION.match(region):
        problems.append(f"--region: {region!r} is not an AWS region name such as eu-west-1")
    subnets = split_list(args.subnets)
    if not subnets:
        problems.append("--subnets: at least one subnet ID is required (subnet-0123abcd)")
    problems += [f"--subnets: {s!r} is not a subnet ID (subnet-0123abcd)" for s in subnets if not _SUBNET.match(s)]
    groups = split_list(args.security_groups)
    if not groups:
        problems.append("--security-groups: at least one security group ID is required (sg-0123abcd)")
    problems += [
        f"--security-groups: {g!r} is not a security group ID (sg-0123abcd)"
        for g in groups
        if not _SECURITY_GROUP.match(g)
    ]
    public = (args.assign_public_ip or "DISABLED").upper()
    if public not in ("ENABLED", "DISABLED"):
        problems.append(f"--assign-public-ip: {args.assign_public_ip!r} is neither ENABLED nor DISABLED")
    execution_role = args.execution_role_arn or ""
    if not execution_role:
        problems.append(
            "--execution-role-arn: required (ECS needs it to pull images, to write CloudWatch logs and to read the "
            "pods' Secrets Manager secrets: secretsmanager:GetSecretValue on virtual-kubelet/<node>/*)"
        )
    elif not _ROLE_ARN.match(execution_role):
        problems.append(f"--execution-role-arn: {execution_role!r} is not an IAM role ARN")
    task_role = args.task_role_arn or ""
    if task_role and not _ROLE_ARN.match(task_role):
        problems.append(f"--task-role-arn: {task_role!r} is not an IAM role ARN")
    log_group = args.log_group or ""
    if not log_group:
        problems.append("--log-group: required (container logs are read from CloudWatch Logs)")
    elif not _LOG_GROUP.match(log_group):
        problems.append(f"--log-group: {log_group!r} is not a CloudWatch Logs group name")
    prefix = args.log_stream_prefix or "vk"
    if "/" in prefix or ":" in prefix or "*" in prefix:
        problems.append(f"--log-stream-prefix: {prefix!r} may not contain '/', ':' or '*'")
    platform = args.platform_version or "LATEST"
    if not _PLATFORM.match(platform):
        problems.append(f"--platform-version: {platform!r} is neither LATEST nor a version such as 1.4.0")
    tags = _tags(args.tag or [], problems)
    capacity = parse_capacity(args.capacity or "", DEFAULT_CAPACITY, problems)
    poll = parse_seconds(args.poll_interval, "poll-interval", 2.0, problems)
    max_poll = parse_seconds(args.max_poll_interval, "max-poll-interval", 15.0, problems)
    if max_poll < poll:
        problems.append(f"--max-poll-interval: {max_poll:g} is shorter than --poll-interval {poll:g}")
    endpoint = args.endpoint_url or None
    if endpoint is not None and not re.match(r"^https?://", endpoint):
        problems.append(f"--endpoint-url: {endpoint!r} is not an http:// or https:// URL")
    if problems:
        raise ValueError("invalid Fargate configuration: " + "; ".join(problems))
    return FargateConfig(
        cluster=cluster,
        region=region,
        subnets=subnets,
        security_groups=groups,
        execution_role_arn=execution_role,
        log_group=log_group,
        assign_public_ip=public == "ENABLED",
        task_role_arn=task_role,
        log_stream_prefix=prefix,
        platform_version=platform,
        tags=tags,
        capacity=capacity,
        files_image=args.files_image or DEFAULT_FILES_IMAGE,
        poll_interval=poll,
        max_poll_interval=max_poll,
        endpoint_url=endpoint,
    )


def _tags(items: list[str], problems: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _TAG_KEY.match(key) or not _TAG_VALUE.match(value):
            problems.append(f"--tag: {item!r} is not key=value with AWS tag characters")
        elif key.startswith((TAG_PREFIX, "aws:")):
            problems.append(f"--tag: {key!r} uses a reserved prefix ({TAG_PREFIX} or aws:)")
        else:
            tags[key] = value
    if len(tags) > 40:
        problems.append(f"--tag: {len(tags)} tags; at most 40 leave room for the provider's own")
    return tags


__all__ = ["DEFAULT_CAPACITY", "DEFAULT_FILES_IMAGE", "TAG_PREFIX", "FargateConfig", "add_arguments", "from_args"]
