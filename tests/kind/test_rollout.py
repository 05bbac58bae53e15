"""The rollout loop on real kubelets, with scoring traffic through the gateway the whole
time: v2 promoted by a ModelRollout, a faulty v3 rolled back with its reason, (almost) no
failed requests (scripts/kind/e2e.sh, the script of ``make e2e-kind``)."""

from __future__ import annotations

import os
import subprocess

from tests.kind.cluster import REPO_ROOT, Cluster


def test_canary_promoted_then_faulty_rolled_back(cluster: Cluster) -> None:
    env = {
        **os.environ,
        "CLUSTER_NAME": cluster.name,
        "NAMESPACE": cluster.namespace,
        "RELEASE": cluster.release,
    }
    done = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "kind" / "e2e.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    log = REPO_ROOT / ".cache" / "kind-logs" / "e2e-output.log"  # whole output, for a look
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    # the script's own lines ([kind] ..., the traffic summary), not the dumped diagnostics
    said = "\n".join(line for line in done.stderr.splitlines() if "[kind]" in line)
    assert done.returncode == 0, f"{said}\n(whole output: {log})"
    assert "e2e passed" in done.stderr
    mro = cluster.json("get", "modelrollout", cluster.name_of("e2e"))
    assert mro["status"]["phase"] == "Failed", mro["status"]
