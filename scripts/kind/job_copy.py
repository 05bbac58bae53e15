"""A new training Job like an existing one (the chart's trainer Job): same image, env and
security, a new name, optionally another command (the faulty v3 of the kind e2e).

Reads the Job's JSON (kubectl get job -o json) on stdin, prints the new Job's JSON.
The labels the Job controller added to the pod template (``job-name``,
``controller-uid`` and, since Kubernetes 1.27, ``batch.kubernetes.io/job-name`` and
``batch.kubernetes.io/controller-uid``) are dropped with the selector: the API server
rejects a Job whose template names another Job (found on the kind cluster).

usage: kubectl get job T -o json | python3 job_copy.py NEW_NAME ['["python", "x.py"]']
"""

from __future__ import annotations

import json
import sys
from typing import Any

CONTROLLER_LABELS = ("job-name", "controller-uid")


def controller_label(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in CONTROLLER_LABELS


def copy_job(job: dict[str, Any], name: str, command: list[str] | None = None) -> dict[str, Any]:
    meta = job["metadata"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if not controller_label(k)}
    spec = {k: v for k, v in job["spec"].items() if k not in ("selector", "manualSelector")}
    template = spec["template"]
    template["metadata"]["labels"] = {
        k: v
        for k, v in (template["metadata"].get("labels") or {}).items()
        if not controller_label(k)
    }
    if command:
        pod = template["spec"]
        pod["containers"][0]["command"] = command
        pod["containers"][0]["args"] = []
        pod["containers"][0].setdefault("volumeMounts", []).append(
            {"name": "e2e", "mountPath": "/opt/e2e"}
        )
        pod.setdefault("volumes", []).append(
            {"name": "e2e", "configMap": {"name": "creditrisk-e2e"}}
        )
    return {
        "apiVersion": job.get("apiVersion", "batch/v1"),
        "kind": "Job",
        "metadata": {"name": name, "namespace": meta["namespace"], "labels": labels},
        "spec": spec,
    }


def main(argv: list[str]) -> int:
    command = json.loads(argv[2]) if len(argv) > 2 and argv[2] else None
    print(json.dumps(copy_job(json.load(sys.stdin), argv[1], command)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
