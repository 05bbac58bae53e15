"""A real kube-apiserver (etcd + apiserver, RBAC on) shared by the cluster-side attack tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.controlplane import ControlPlane, build_if_missing


@pytest.fixture(scope="session")
def apiserver() -> Iterator[ControlPlane]:
    build_if_missing(["kube-apiserver"])
    plane = ControlPlane()
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()
