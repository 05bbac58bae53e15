"""`make demo`: the platform's whole story on one machine with embedded defaults.

1. train v1 on the bundled Default data into the local MLflow store (`.mlflow/`), register
   it with its contract, make it `champion`;
2. serve `models:/credit-default@champion` with the real inference service, score a low-,
   a medium- and a high-risk applicant, show an excerpt of `/metrics`;
3. score 100,000 synthetic applicants through the batch service: a local `redis-server`
   when one is installed (else the in-process fallback, which says so);
4. train v2 (another seed) → `challenger`;
5. roll v2 out through the controller on a local control plane (`scripts/demo_rollout.py`
   says which parts are real and which are simulated): a shadow phase first (v2 scores
   mirrored copies of live requests beside v1, nobody sees its answers; decisions compared
   on the same applicants), then traffic steps → promoted, `champion` moves;
6. roll out a faulty v3 → rolled back automatically, with the reason;
7. print the rollout timeline and where to look.
Everything started here is stopped at the end, Ctrl-C (or SIGTERM) included.
`--hold` keeps the cluster up after step 6 until Enter or Ctrl-C, to look around.
Environment: MLFLOW_TRACKING_URI (default: the repo's `.mlflow/` store), DEMO_WORKDIR
(default `.cache/demo/`), DEMO_BATCH_ROWS (default 100000).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

from scripts import demo_rollout as rollout
from services.core.logs import configure_logging
from services.core.registry import client, set_alias
from services.core.settings import DEFAULT_TRACKING_URI, REPO_ROOT
from services.trainer.pipeline import TrainSummary, train
from services.trainer.settings import TrainerSettings
from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.models import ScenarioModels
from tests.e2e.harness.prometheus import PrometheusServer
from tests.support.postgres import postgres_server
from tests.support.processes import free_port, stop, wait_for_port

METRICS = ["roc_auc", "pr_auc", "ks", "brier", "precision", "recall", "f1", "threshold"]
TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
WORKDIR = Path(os.environ.get("DEMO_WORKDIR", REPO_ROOT / ".cache" / "demo"))
BATCH_ROWS = int(os.environ.get("DEMO_BATCH_ROWS", "100000"))
MODEL = "credit-default"
CHAMPION = f"models:/{MODEL}@champion"
APPLICANTS = {
    "low risk": {"student": "No", "balance": 300.0, "income": 52000.0},
    "medium risk": {"student": "Yes", "balance": 1650.0, "income": 18000.0},
    "high risk": {"student": "No", "balance": 2300.0, "income": 31000.0},
}
TIMINGS: dict[str, float] = {}


def banner(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 74 - len(text)), flush=True)


@contextmanager
def timed(step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        TIMINGS[step] = time.monotonic() - started


@contextmanager
def ticking(label: str) -> Iterator[None]:
    """An elapsed-seconds line while a long step runs (on a terminal only)."""
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(0.5):
            print(f"\r  {label} ... {time.monotonic() - started:4.0f} s", end="", flush=True)

    thread = threading.Thread(target=tick, daemon=True)
    if sys.stdout.isatty():
        thread.start()
    try:
        yield
    finally:
        done.set()
        if thread.is_alive():
            thread.join()
            print("\r" + " " * (len(label) + 16) + "\r", end="", flush=True)


def metrics_table(summary: TrainSummary) -> str:
    rows = [f"  {name:<10} {summary.metrics[name]:>8.4f}" for name in METRICS]
    m = summary.metrics
    rows.append(f"  confusion  tn={m['tn']:.0f} fp={m['fp']:.0f} fn={m['fn']:.0f} tp={m['tp']:.0f}")
    return "\n".join(rows)


def train_version(label: str, seed: int) -> TrainSummary:
    settings = TrainerSettings(log_json=False, log_level="WARNING", seed=seed)
    configure_logging(settings.log_level, json=False, service="demo")
    logging.getLogger("mlflow").setLevel(logging.ERROR)  # "Created version ..." is ours to say
    with ticking(f"training {label} (5-fold CV, calibration, quality gate)"):
        summary = train(settings)
    print(f"registered {summary.uri}  aliases={summary.aliases}  ({summary.seconds:.1f} s)")
    return summary


def step_train() -> TrainSummary:
    banner("1. Train v1 on the bundled Default data (10,000 applicants) -> champion")
    summary = train_version("v1", seed=42)
    if "champion" not in summary.aliases:  # a store left by an earlier demo run
        set_alias(TRACKING_URI, MODEL, "champion", summary.version)
        print(f"champion alias moved to version {summary.version} (earlier demo runs in store)")
    print(
        f"imbalance handling: {summary.imbalance['chosen']} "
        f"(CV PR-AUC {summary.imbalance['cv_pr_auc']})"
    )
    print("holdout metrics (20 % stratified split):")
    print(metrics_table(summary))
    return summary


@contextmanager
def process(args: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, timeout=90)
        yield proc
    finally:
        stop(proc)


def http(
    url: str, body: dict[str, object] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, headers=sent)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


ADMIN_KEY = "demo-admin-key"  # a local demo only: a real deployment takes it from a Secret


def step_serve() -> None:
    banner("2. Serve the champion over HTTP, score three applicants, record the decisions")
    port = free_port()
    env = {
        "MODEL_URI": CHAMPION,
        "MLFLOW_TRACKING_URI": TRACKING_URI,
        "INFERENCE_LOG_LEVEL": "WARNING",
        "INFERENCE_PORT": str(port),
        "INFERENCE_ADMIN_KEY_HASH": hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
    }
    args = [sys.executable, "-m", "services.inference", "--port", str(port)]
    with postgres_server() as pg:
        print(f"decision record: PostgreSQL on 127.0.0.1:{pg.port} (DECISIONS_DSN)")
        env["DECISIONS_DSN"] = pg.dsn
        env["DECISIONS_SPOOL_DIR"] = str(pg.root / "spool")
        with process(args, env, port):
            serve_and_score(f"http://127.0.0.1:{port}")


def serve_and_score(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http(f"{base}/readyz")[0] == 200:
                break
        except OSError:
            time.sleep(0.3)
    declined: dict[str, object] | None = None
    for label, applicant in APPLICANTS.items():
        print(f"\n{label}:  POST {base}/api/v1/predict  {json.dumps(applicant)}")
        answer = http(f"{base}/api/v1/predict", applicant)[1]
        print("  ->", answer)
        if json.loads(answer)["prediction"] == 1:
            declined = json.loads(answer)
    if declined is not None:
        print("\nDeclined: the principal reasons (exact TreeSHAP, for the adverse-action notice):")
        for reason in declined.get("reasons", []):  # type: ignore[attr-defined]
            print(
                f"  - {reason['statement']}  ({reason['feature']}={reason['value']}, "
                f"+{reason['contribution']:.3f} log-odds)"
            )
        look_up = f"{base}/api/v1/decisions/{declined['request_id']}"
        print(f"\nIts decision record:  GET {look_up}  (X-Admin-Key)")
        for _ in range(50):  # written off the request path within a fraction of a second
            try:
                print("  ->", http(look_up, headers={"X-Admin-Key": ADMIN_KEY})[1])
                break
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
                time.sleep(0.1)
    metrics = http(f"{base}/metrics")[1].splitlines()
    wanted = (
        "inference_predictions_total{",
        "http_requests_total{",
        "inference_score_psi{",
        "inference_drift_detected{",
        "inference_model_info{",
    )
    print("\n/metrics excerpt:")
    for line in metrics:
        if line.startswith(wanted):
            print("  " + line)


@contextmanager
def demo_redis() -> Iterator[str]:
    if not shutil.which("redis-server"):
        yield "redis://127.0.0.1:1/0"  # unreachable: the batch demo falls back in-process
        return
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    with tempfile.TemporaryDirectory() as tmp, process([*argv, "--dir", tmp], {}, port):
        yield f"redis://127.0.0.1:{port}/0"


def step_batch(rows: int) -> None:
    banner(f"3. Score {rows:,} synthetic applicants through the batch job queue")
    with demo_redis() as redis_url:
        env = {
            **os.environ,
            "MODEL_URI": CHAMPION,
            "MLFLOW_TRACKING_URI": TRACKING_URI,
            "REDIS_URL": redis_url,
            "BATCH_STORAGE_DIR": str(WORKDIR / "batch"),
            "BATCH_LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "-m", "services.batch", "demo", "--rows", str(rows)],
            env=env,
            check=True,
        )


def register_faulty(v2: TrainSummary) -> str:
    """v3: v2's artifacts registered again as a new version; its defect is simulated at
    serving time (see ``demo_rollout.FAULT``)."""
    version = client(TRACKING_URI).copy_model_version(v2.uri, MODEL).version
    return f"models:/{MODEL}/{version}"


def step_rollouts(v1: TrainSummary, v2: TrainSummary, hold: bool) -> list[rollout.RolloutReport]:
    banner("5. Roll v2 out through the controller on a local control plane")
    print(rollout.__doc__.split("\n\n", 1)[1].rstrip())  # what is real, what is simulated
    workdir = WORKDIR / "rollout"
    shutil.rmtree(workdir, ignore_errors=True)
    models = ScenarioModels(TRACKING_URI, MODEL, stable=v1.version, candidate=v2.version)
    reports: list[rollout.RolloutReport] = []
    with contextlib.ExitStack() as stack:
        cluster, _ = stack.enter_context(rollout.local_cluster(workdir, TRACKING_URI))
        prometheus = PrometheusServer(workdir / "prometheus").start()
        stack.callback(prometheus.stop)
        print(f"  Prometheus at {prometheus.url}")
        s = stack.enter_context(rollout.serving(cluster, prometheus, models, workdir))
        load = s.start_load(rate=50)
        print("  traffic: 50 req/s through the HTTPRoute")
        reports.append(rollout.roll_out(s, load, "v2", v2.uri, shadow=rollout.SHADOW))
        rollout.show_rollouts(cluster)

        banner("6. Roll out a faulty v3: the controller rolls it back on its own")
        v3 = register_faulty(v2)
        reports.append(rollout.roll_out(s, load, "v3 (faulty)", v3, fault=rollout.FAULT))
        rollout.show_rollouts(cluster)
        load.stop()
        champion = client(TRACKING_URI).get_model_version_by_alias(MODEL, "champion").version
        print(f"\nMLflow: champion is version {champion} (v2 is {v2.version})")
        print(f"        v2 tagged rollout.verdict={verdict_of(v2.uri)}")
        print(f"        v3 tagged rollout.verdict={verdict_of(v3)}")
        if hold:
            where_to_look(cluster, prometheus)
            wait_for_user()
    return reports


def verdict_of(uri: str) -> str:
    """The decision the controller wrote on the version (MLflow tags ``rollout.*``)."""
    tags = client(TRACKING_URI).get_model_version(MODEL, uri.rsplit("/", 1)[-1]).tags
    return f"{tags.get('rollout.verdict')} ({tags.get('rollout.message')})"


def where_to_look(cluster: Cluster | None = None, prom: PrometheusServer | None = None) -> None:
    print("\nwhere to look:")
    print(f"  MLflow UI:     mlflow ui --backend-store-uri {TRACKING_URI} --port 5000")
    print("                 (versions, aliases champion/challenger, rollout.* tags on each)")
    ns = rollout.NAMESPACE
    if cluster is not None and prom is not None:
        kubectl = f"kubectl --kubeconfig {cluster.cp.kubeconfig}"
        print(f"  rollouts:      {kubectl} get modelrollouts -n {ns}")
        print(f"                 {kubectl} describe modelrollout credit-default -n {ns}")
        print(f"  Prometheus:    {prom.url}/graph  (inference_*, http_request_duration_*)")
    else:
        print("  rollouts:      `python scripts/demo.py --hold` keeps the cluster up to look")
        print("  metrics:       GET /metrics on any inference pod (see docs/inference.md)")
    print(f"  operator log:  {WORKDIR / 'rollout' / 'operator' / 'operator.log'}")


def wait_for_user() -> None:
    print("\n--hold: the cluster stays up; press Enter (or Ctrl-C) to tear everything down.")
    with contextlib.suppress(EOFError):
        input()


def summary(reports: list[rollout.RolloutReport]) -> None:
    banner("7. Summary")
    rollout.print_summary(reports)
    print("\nstep durations:")
    for step, seconds in TIMINGS.items():
        print(f"  {step:<22} {seconds:6.1f} s")
    where_to_look()
    print("\nEverything the demo started has been stopped.")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwind through every context manager, as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hold", action="store_true", help="keep the cluster up at the end")
    args = parser.parse_args(argv)
    # Installed explicitly: a process started from a shell that ignores SIGINT (a background
    # job) inherits SIG_IGN, and Ctrl-C / `kill -INT` would then not stop the demo.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    warnings.filterwarnings("ignore", category=UserWarning)  # mlflow's schema hints
    try:
        with timed("1 train v1"):
            v1 = step_train()
        with timed("2 serve + score"):
            step_serve()
        with timed(f"3 batch {BATCH_ROWS:,} rows"):
            step_batch(BATCH_ROWS)
        with timed("4 train v2"):
            banner("4. Train v2 (another seed) -> challenger")
            v2 = train_version("v2", seed=7)
        with timed("5-6 rollouts"):
            reports = step_rollouts(v1, v2, args.hold)
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo started has been stopped.", file=sys.stderr)
        return 130
    summary(reports)
    return 0


if __name__ == "__main__":
    sys.exit(main())
