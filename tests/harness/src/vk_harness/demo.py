"""The README's demo: a local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), a
provider and the controller; an example pod scheduled onto the virtual node, Running, and its logs. Ctrl-C stops
everything.

``--once`` exits after showing the logs (the tests run it that way). ``--provider process`` runs the pod with the
Go process provider (``provider_process/``: real processes on this host) instead of the mock.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from vk_harness.controlplane import ControlPlane, ControlPlaneError
from vk_harness.goprovider import start_process_provider
from vk_harness.processes import Process
from vk_harness.rest import ApiError
from vk_harness.stack import ControllerIntervals, start_controller, start_mock_provider

NODE = "vk-demo"
EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "demo-pod.yaml"


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _show(plane: ControlPlane, *args: str) -> str:
    out = plane.kubectl(*args).stdout
    print(out.rstrip(), flush=True)
    return out


def _wait_registered(plane: ControlPlane, controller: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            plane.rest.get(f"/api/v1/nodes/{NODE}")
            return
        except ApiError:
            if not controller.running():
                raise ControlPlaneError(f"vk-controller exited:\n{controller.log_tail()}") from None
            time.sleep(0.2)
    raise ControlPlaneError(f"node {NODE} was not registered within {timeout:.0f}s:\n{controller.log_tail()}")


def run(workdir: Path, *, once: bool, example: Path, provider_kind: str = "mock") -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    plane = ControlPlane(workdir)
    try:
        _say("starting etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback")
        plane.start()
        plane.start_controller_manager()  # its node lifecycle controller lifts the not-ready taint of new nodes
        plane.start_scheduler()
        plane.create_namespace("default")
        _say(f"starting vk-provider-{provider_kind} and vk-controller (as system:node:{NODE})")
        if provider_kind == "process":
            provider = start_process_provider(workdir)
        else:
            provider = start_mock_provider(workdir, state_file=workdir / "mock-backend.json")
        controller = start_controller(
            plane,
            workdir,
            node_name=NODE,
            provider_address=provider.address,
            intervals=ControllerIntervals(lease_renew_interval=10, lease_duration=40, node_status_update_frequency=60),
        )
        _wait_registered(plane, controller.process)
        plane.kubectl("wait", "--for=condition=Ready", f"node/{NODE}", "--timeout=60s")
        _say(f"creating {example.name}")
        _show(plane, "apply", "-f", str(example))
        plane.kubectl("wait", "--for=condition=Ready", "pod/hello-virtual-node", "--timeout=120s")
        _say("kubectl get nodes,pods -o wide")
        _show(plane, "get", "nodes,pods", "-o", "wide")
        time.sleep(0.5)
        _say("kubectl logs hello-virtual-node")
        _show(plane, "logs", "hello-virtual-node")
        _say(f"try it yourself: export KUBECONFIG={plane.admin.kubeconfig}")
        if not once:
            print("Ctrl-C stops everything.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        _say("stopping")
        controller.process.stop()
        provider.process.stop()
        return 0
    finally:
        plane.stop()
        print(f"logs are in {workdir}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vk-demo", description=__doc__)
    parser.add_argument("--once", action="store_true", help="exit after showing the pod's logs")
    parser.add_argument("--workdir", help="where logs and kubeconfigs go (default: a new temp dir)")
    parser.add_argument("--example", default=str(EXAMPLE), help="the pod manifest to run")
    parser.add_argument(
        "--provider",
        choices=("mock", "process"),
        default="mock",
        help="mock: the in-memory mock provider; process: the Go provider running real processes on this host",
    )
    args = parser.parse_args(argv)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="vk-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    return run(workdir, once=args.once, example=Path(args.example), provider_kind=args.provider)


if __name__ == "__main__":
    sys.exit(main())
