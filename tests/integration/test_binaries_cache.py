"""The second run finds the control-plane binaries in the cache and builds nothing."""

from __future__ import annotations

import pytest

from vk_harness import ControlPlane, binaries


def test_a_second_run_uses_the_cached_binaries(control_plane: ControlPlane, monkeypatch: pytest.MonkeyPatch) -> None:
    # The session's control plane is up, so the binaries exist. From here on, any Go command but the version
    # query would mean a rebuild.
    def no_go(args: list[str], cwd: object) -> str:
        raise AssertionError(f"rebuilt: go {' '.join(args)}")

    monkeypatch.setattr(binaries, "_go", no_go)

    found = binaries.ensure_all()

    assert set(found) == {"etcd", "kube-apiserver", "kubectl"}
    assert all(path.is_file() for path in found.values())
