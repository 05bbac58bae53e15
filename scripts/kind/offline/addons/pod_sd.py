"""Pod discovery for the offline profile's Prometheus (Debian's package has no
kubernetes_sd: Debian builds it without Kubernetes service discovery).

Every few seconds lists the pods through the API server (in-cluster service account),
keeps the Running ones annotated ``prometheus.io/scrape: "true"`` and writes them as a
file_sd target file: address from the pod IP and ``prometheus.io/port``, metrics path from
``prometheus.io/path``, labels ``namespace``, ``pod`` and ``component``. Standard library
only (runs on creditrisk/base).
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
import urllib.request
from typing import Any

SA = "/var/run/secrets/kubernetes.io/serviceaccount"
API = "https://kubernetes.default.svc"


def targets(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for pod in pods:
        meta, status = pod.get("metadata", {}), pod.get("status", {})
        ann = meta.get("annotations") or {}
        if ann.get("prometheus.io/scrape") != "true" or status.get("phase") != "Running":
            continue
        ip, port = status.get("podIP"), ann.get("prometheus.io/port")
        if not ip or not port:
            continue
        labels = {
            "namespace": meta.get("namespace", ""),
            "pod": meta.get("name", ""),
            "component": (meta.get("labels") or {}).get("app.kubernetes.io/component", ""),
            "__metrics_path__": ann.get("prometheus.io/path", "/metrics"),
        }
        out.append({"targets": [f"{ip}:{port}"], "labels": labels})
    return sorted(out, key=lambda t: t["targets"][0])


def main() -> None:
    path, interval = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    ctx = ssl.create_default_context(cafile=f"{SA}/ca.crt")
    while True:
        try:
            with open(f"{SA}/token") as fh:
                token = fh.read().strip()
            req = urllib.request.Request(
                f"{API}/api/v1/pods", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
                pods = json.load(resp)["items"]
            tmp = f"{path}.tmp"
            with open(tmp, "w") as fh:
                json.dump(targets(pods), fh)
            os.replace(tmp, path)
        except Exception as exc:  # keep the last file; retry
            print(f"pod-sd: {exc}", file=sys.stderr, flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    main()
