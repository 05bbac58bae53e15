"""The rollout loop on one machine: the pieces that turn a control plane of real parts into
a place where models serve traffic (issue 7; see ``tests/e2e/README.md``).

- ``cluster``: control plane + kwok + CRDs + the operator's ServiceAccount and RBAC;
- ``kwok``: kwok Stages that leave inference pods unready until their process answers;
- ``podrunner`` (+ ``podprocess``, ``podenv``): a real inference process per Running pod,
  readiness mirrored on the pod;
- ``prometheus``: a real Prometheus scraping those processes (file_sd, 1 s interval);
- ``routing`` + ``loadgen`` (+ ``applicants``): traffic split by the HTTPRoute weights;
- ``operator``: ``python -m controller`` as its own process, killable and restartable;
- ``models``, ``manifests``, ``scenario``, ``recorder``: one scenario's world and timeline;
- ``kube``, ``waits``: plain dicts from the API client; bounded polling everywhere.
"""
