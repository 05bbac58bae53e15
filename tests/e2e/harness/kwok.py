"""kwok Stages that hand the readiness of inference pods to the pod runner.

kwok's stock ``pod-ready`` stage turns a scheduled pod Running *and* Ready in one step,
before any process serves it: a canary would look ready while its model is still
loading, a rolling update would retire old pods too early, and "never ready" could not
be shown at all. Its selector only matches ``phase: Pending``, so kwok never rewrites
readiness afterwards — the trouble is only that first write.

``kwok_stages/inference-pod-*.yaml`` match inference pods (label
``app.kubernetes.io/component=inference``) with a weight above the stock stages (0), so
kwok picks them for those pods and the stock stages for every other pod:

- ``inference-pod-start``: Pending → Running with an IP, containers running but
  ``ready: false``, conditions ``Ready``/``ContainersReady`` False; the pod runner flips
  them from the real process's ``/readyz`` (the kubelet's readiness probe);
- ``inference-pod-delete``: a terminating pod is removed after a short grace
  (annotation ``e2e.mlops.creditrisk.io/grace-ms``, default 5000 ms: the chart's
  ``inference.preStopSleepSeconds``) instead of at once, so EndpointSlices drop it and
  traffic drains before the runner stops its process. 1500 ms was too short on a loaded
  machine: the route table's refresh lagged the deletion and a request reached a stopped
  process (a ``connect`` failure in a fresh-clone CI run).

The control plane starts kwok with the stock "fast" stages (``--config``); kwok also
loads ``$KWOK_WORKDIR/kwok.yaml``, so :func:`environment` writes these two there and sets
``KWOK_WORKDIR`` while the control plane spawns kwok (it inherits the environment).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

COMPONENT_LABEL = "app.kubernetes.io/component"
COMPONENT = "inference"
GRACE_ANNOTATION = "e2e.mlops.creditrisk.io/grace-ms"
STAGES = Path(__file__).with_name("kwok_stages")


def stages_yaml() -> str:
    """The inference Stages as one multi-document YAML text."""
    return "\n---\n".join(p.read_text().strip() for p in sorted(STAGES.glob("*.yaml"))) + "\n"


@contextlib.contextmanager
def environment(workdir: Path) -> Iterator[Path]:
    """While active, ``$KWOK_WORKDIR/kwok.yaml`` holds the stages: start kwok inside it.
    Yields the stage file."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "kwok.yaml"
    path.write_text(stages_yaml())
    values = {"KWOK_WORKDIR": str(workdir)}
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield path
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
