"""Container benchmark: image sizes, and cold start (start → first ``/readyz`` 200) of the
inference service and the batch API with a local model folder, in a container run as the
chart runs it versus the same service started as a plain process on the host.

5 runs each (``--runs``), median and max. Needs a Docker engine and the images
(``make images``); writes ``bench/results/containers.{json,md}``. Run:
``python bench/containers/bench_containers.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402

IMAGES = ("inference", "batch", "trainer", "controller")
# docker image inspect sizes of the images before per-service extras (issue 13: every
# image carried every dependency of the project), on the same Debian-built base
BEFORE_MB = {"inference": 1260, "batch": 1260, "trainer": 1270, "controller": 1260}
# the same sizes after per-service extras, before pruning scipy (issue 13, first pass)
PREVIOUS_MB = {"inference": 462, "batch": 580, "trainer": 794, "controller": 297}
TARGET_MB = {"inference": 450, "batch": 550, "controller": 300}
HARDENED = [
    "--read-only", "--user", "10001:10001", "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges", "--tmpfs", "/tmp:rw,size=512m,uid=10001,gid=10001",
]  # fmt: skip


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True, timeout=300
    ).stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready_after(url: str, started: float, timeout: float = 120.0) -> float:
    """Seconds from ``started`` to the first 200 of ``url`` (polled every 20 ms)."""
    deadline = started + timeout
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} not ready within {timeout:.0f} s")


def model_folder(work: Path) -> Path:
    """A freshly trained default model's artifacts as a folder any UID can read."""
    import mlflow.artifacts

    from services.core.registry import client
    from services.trainer.pipeline import train
    from services.trainer.settings import TrainerSettings

    uri = f"sqlite:///{work / 'mlflow.db'}"
    summary = train(
        TrainerSettings(  # type: ignore[call-arg]
            dataset="default", mlflow_tracking_uri=uri, model_name="bench", experiment="bench",
            cv_folds=3, imbalance="scale_pos_weight", nthread=2,
        )
    )  # fmt: skip
    client(uri)
    found = Path(mlflow.artifacts.download_artifacts(summary.uri, dst_path=str(work / "dl")))
    folder = work / "model"
    shutil.copytree(found, folder)
    for path in [work, folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


@contextmanager
def redis_container(network: str) -> Iterator[str]:
    name = f"bench-redis-{os.getpid()}"
    docker("run", "-d", "--name", name, "--network", network, "--network-alias", "redis",
           "--read-only", "--cap-drop", "ALL", "--tmpfs", "/data:uid=999,gid=999",
           f"creditrisk/redis:{os.environ.get('IMAGE_TAG', 'dev')}")  # fmt: skip
    try:
        yield "redis://redis:6379/0"
    finally:
        docker("rm", "-f", "-v", name)


@contextmanager
def redis_process(work: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def in_container(
    image: str, network: str, env: dict[str, str], mount: str, args: list[str]
) -> float:
    envs = [a for k, v in env.items() for a in ("--env", f"{k}={v}")]
    started = time.perf_counter()
    cid = docker("run", "-d", "--network", network, *HARDENED, *envs, "--volume", mount,
                 "--publish", "127.0.0.1::8080", image, *args)  # fmt: skip
    try:
        port = docker("port", cid, "8080/tcp").splitlines()[0].rpartition(":")[2]
        return ready_after(f"http://127.0.0.1:{port}/readyz", started)
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", cid], capture_output=True, check=False)


def as_process(module: list[str], env: dict[str, str], port_var: str) -> float:
    port = free_port()
    full_env = {**os.environ, **env, port_var: str(port), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", *module], env=full_env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        return ready_after(f"http://127.0.0.1:{port}/readyz", started)
    finally:
        proc.terminate()
        proc.wait(30)


def summary(service: str, how: str, runs: list[float], target: str = "") -> dict[str, Any]:
    return {
        "service": service,
        "how": how,
        "runs": len(runs),
        "median_s": round(statistics.median(runs), 2),
        "max_s": round(max(runs), 2),
        "all_s": [round(r, 2) for r in runs],
        "target": target,
    }


def measure(n: int, make: Callable[[], float]) -> list[float]:
    make()  # one unmeasured run: page cache and image layers warm, as on a running node
    return [make() for _ in range(n)]


def build_times() -> dict[str, float]:
    path = ROOT / ".cache" / "docker" / "build-times.tsv"
    if not path.exists():
        return {}
    pairs = (line.split("\t") for line in path.read_text().splitlines() if "\t" in line)
    return {step: float(seconds) for step, seconds in pairs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    tag = os.environ.get("IMAGE_TAG", "dev")
    sizes = {
        name: round(
            int(docker("image", "inspect", "-f", "{{.Size}}", f"creditrisk/{name}:{tag}")) / 1e6
        )
        for name in IMAGES
    }
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-containers-"))
    network = f"bench-{os.getpid()}"
    docker("network", "create", network)
    try:
        folder = model_folder(work)
        mount = f"{folder}:/models/m:ro"
        inf_env = {"MODEL_URI": "/models/m", "INFERENCE_RATE_LIMIT": ""}
        rows = [
            summary("inference", "container", measure(args.runs, lambda: in_container(
                f"creditrisk/inference:{tag}", network, inf_env, mount, [])), "≤ 2.5 s median"),
            summary("inference", "process", measure(args.runs, lambda: as_process(
                ["services.inference"], {**inf_env, "MODEL_URI": str(folder)}, "INFERENCE_PORT"))),
        ]  # fmt: skip
        with redis_container(network) as url:
            batch_env = {"MODEL_URI": "/models/m", "REDIS_URL": url}
            rows.append(summary("batch API", "container", measure(args.runs, lambda: in_container(
                f"creditrisk/batch:{tag}", network, batch_env, mount, ["api"]))))  # fmt: skip
        with redis_process(work) as url:
            env = {"MODEL_URI": str(folder), "REDIS_URL": url,
                   "BATCH_STORAGE_DIR": str(work / "batch")}  # fmt: skip
            rows.append(summary("batch API", "process", measure(args.runs, lambda: as_process(
                ["services.batch", "api"], env, "BATCH_PORT"))))  # fmt: skip
    finally:
        docker("network", "rm", network)
        shutil.rmtree(work, ignore_errors=True)
    size_rows = [
        {
            "service": f"image {name}",
            "how": "size MB",
            "median_s": "",
            "max_s": "",
            "size_mb": sizes[name],
            "before_mb": BEFORE_MB[name],
            "previous_mb": PREVIOUS_MB[name],
            "target": f"≤ {TARGET_MB[name]} MB" if name in TARGET_MB else "",
            "build_s": build_times().get(name, ""),
        }
        for name in IMAGES
    ]
    load = f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
    notes = (
        "Cold start = `docker run` (or process spawn) → first `/readyz` 200, model from a "
        "local folder, after one unmeasured warm-up run. Containers run as the chart runs "
        "them (read-only root, UID 10001, no capabilities, /tmp tmpfs). Sizes from `docker "
        "image inspect` on the Debian-built base; 'before' = every image with every "
        "dependency (issue 13); 'previous' = per-service extras before scipy was trimmed. "
        "build_s = the last `make images` (.cache/docker/build-times.tsv). Load average "
        f"(1 min) of the shared 2-core machine: {load}."
    )
    columns = [
        "service",
        "how",
        "median_s",
        "max_s",
        "all_s",
        "size_mb",
        "before_mb",
        "previous_mb",
        "build_s",
        "target",
    ]
    print(write_results("containers", rows + size_rows, columns, notes).read_text())
    print(json.dumps(build_times()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
