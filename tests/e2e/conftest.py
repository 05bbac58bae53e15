"""Fixtures of the rollout loop on one machine (issue 7), defined in
``tests/support/rollout_fixtures.py`` and shared with ``tests/system/controller``.

Per session: two real trained model versions. Per module: one control plane (etcd,
kube-apiserver, controller-manager, scheduler, kwok), one Prometheus and one operator
process. Per test: a namespace with the stable workload serving real inference
processes, and its own registered model.
"""

from __future__ import annotations

from tests.support.rollout_fixtures import (
    base_models,
    cluster,
    make_scenario,
    operator,
    prometheus,
)

__all__ = ["base_models", "cluster", "make_scenario", "operator", "prometheus"]
