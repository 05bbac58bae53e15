"""The rollout loop's fixtures (``tests/support/rollout_fixtures.py``, shared with
``tests/e2e``): per module one control plane, Prometheus and operator; per test a
namespace with the stable workload serving real inference processes."""

from __future__ import annotations

from tests.support.rollout_fixtures import (
    base_models,
    cluster,
    make_scenario,
    operator,
    prometheus,
)

__all__ = ["base_models", "cluster", "make_scenario", "operator", "prometheus"]
