"""``vk-harness build`` fetches or builds the control-plane binaries; ``vk-harness up`` runs a control plane."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import threading
from pathlib import Path

from vk_harness import binaries
from vk_harness.controlplane import ControlPlane


def _build(args: argparse.Namespace) -> int:
    names = binaries.KUBERNETES_COMPONENTS if args.all else ("kube-apiserver", "kubectl")
    print(f"etcd: {binaries.etcd_binary()}")
    for name in names:
        print(f"{name}: {binaries.kubernetes_binary(name, args.kubernetes_version)}")
    if args.all:
        print(f"helm: {binaries.helm_binary()}")
    return 0


def _up(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="vk-harness-"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ControlPlane(workdir, kubernetes_version=args.kubernetes_version) as plane:
        plane.create_namespace("default")
        print(f"kube-apiserver: {plane.server}")
        print(f"admin kubeconfig: {plane.admin.kubeconfig}")
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vk-harness", description=__doc__)
    parser.add_argument("--kubernetes-version", default=binaries.KUBERNETES_VERSION)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build or find the binaries (cached)")
    build.add_argument("--all", action="store_true", help="also the controller manager, scheduler and helm")
    build.set_defaults(run=_build)
    up = commands.add_parser("up", help="run etcd and kube-apiserver until interrupted")
    up.add_argument("--workdir", help="where certificates, kubeconfigs and logs go (default: a new temp dir)")
    up.set_defaults(run=_up)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except binaries.BuildError as error:
        print(f"vk-harness: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
