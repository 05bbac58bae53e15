"""The pod runner: the part of a kubelet that kwok does not simulate — running the pod.

For every Running inference pod of the namespace (kwok's ``inference-pod-start`` stage
makes it Running with ``Ready=False``, see ``harness.kwok``) it starts a real
``python -m services.inference`` with the pod's container environment on its own
loopback port, records the port on the pod (annotation ``e2e.mlops.creditrisk.io/port``)
and in Prometheus's target file, probes ``/readyz`` like a readiness probe and writes
the result to the pod's ``Ready``/``ContainersReady`` conditions through the status
subresource. A process that exits is restarted with back-off (``restartCount`` counts it),
as ``restartPolicy: Always`` would. When the pod is deleted the process is stopped.

Two threads: one follows the pods (list + watch, resuming from the last resourceVersion
and re-listing after ``410 Gone`` or any error), one probes. ``stop()`` kills every child.
"""

from __future__ import annotations

import atexit
import signal
import threading
import time
from pathlib import Path

import httpx
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.e2e.harness import kube
from tests.e2e.harness.kwok import COMPONENT, COMPONENT_LABEL
from tests.e2e.harness.podenv import Obj
from tests.e2e.harness.podprocess import PodProcess, is_ready, process_env, ready_patch
from tests.e2e.harness.prometheus import TargetFile
from tests.support.processes import free_port

PORT_ANNOTATION = "e2e.mlops.creditrisk.io/port"
SELECTOR = f"{COMPONENT_LABEL}={COMPONENT}"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


class PodRunner:
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        tracking_uri: str,
        workdir: Path,
        targets: TargetFile | None = None,
        selector: str = SELECTOR,
        extra_env: dict[str, str] | None = None,
        probe_interval: float = 0.25,
    ) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace, self.selector = namespace, selector
        self.tracking_uri, self.targets = tracking_uri, targets
        self.workdir = workdir
        self.extra_env = dict(extra_env or {})
        self.probe_interval = probe_interval
        self.procs: dict[str, PodProcess] = {}
        self.errors: list[str] = []  # unexpected errors, for the scenario to show
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._watch = watch.Watch()
        self._threads: list[threading.Thread] = []
        self._http = httpx.Client(timeout=1.0)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> PodRunner:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for target, name in ((self._follow, "pods"), (self._probe_loop, "probe")):
            thread = threading.Thread(target=target, name=f"podrunner-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        atexit.register(self.stop)  # no orphan process even if a test never tears down
        return self

    def stop(self) -> None:
        atexit.unregister(self.stop)
        self._stopping.set()
        self._watch.stop()  # the follower ends at its next event or watch timeout
        for thread in self._threads:
            thread.join(timeout=2)
        with self._lock:
            procs = list(self.procs.values())
            self.procs.clear()
        for proc in procs:
            proc.signal(signal.SIGTERM)
        for proc in procs:
            proc.reap()
            if self.targets is not None:
                self.targets.remove(proc.uid)
        self._http.close()

    def __enter__(self) -> PodRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def ports(self, track: str | None = None) -> dict[str, int]:
        """Pod name → port of the processes running now (optionally of one track)."""
        with self._lock:
            return {
                p.name: p.port for p in self.procs.values() if track is None or p.track == track
            }

    # ------------------------------------------------------------------ following pods
    def _follow(self) -> None:
        version: str | None = None
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._relist()
                version = self._watch_from(version)
            except ApiException as err:
                if err.status != 410:
                    self._note(f"watch: {err.status} {err.reason}")
                    time.sleep(0.5)
                version = None  # expired or broken: list again
            except Exception as err:  # connection reset, API server restart, ...
                if not self._stopping.is_set():
                    self._note(f"watch: {err!r}")
                    time.sleep(0.5)
                version = None

    def _relist(self) -> str:
        listed = self.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector, _request_timeout=kube.TIMEOUT
        )
        pods = kube.items(self.core.api_client, listed)
        seen = {p["metadata"]["uid"] for p in pods}
        with self._lock:
            gone = [uid for uid in self.procs if uid not in seen]
        for uid in gone:
            self._terminate(uid)
        for pod in pods:
            self._on_pod("ADDED", pod)
        return str(kube.plain(self.core.api_client, listed)["metadata"]["resourceVersion"])

    def _watch_from(self, version: str) -> str:
        stream = self._watch.stream(
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=self.selector,
            resource_version=version,
            timeout_seconds=10,
            allow_watch_bookmarks=True,
            deserialize=False,
        )
        for event in stream:
            if self._stopping.is_set():
                break
            kind, pod = event["type"], event["object"]
            if kind == "ERROR":
                raise ApiException(status=pod.get("code", 500), reason=pod.get("message"))
            version = pod["metadata"]["resourceVersion"]
            if kind != "BOOKMARK":
                self._on_pod(kind, pod)
        return version

    def _on_pod(self, kind: str, pod: Obj) -> None:
        uid = pod["metadata"]["uid"]
        if kind == "DELETED":
            self._terminate(uid)
            return
        with self._lock:
            known = self.procs.get(uid)
            if known is not None:
                known.pod = pod
        running = pod.get("status", {}).get("phase") == "Running"
        if known is None and running and not pod["metadata"].get("deletionTimestamp"):
            self._launch(pod)
        elif known is not None and known.ready is not None and is_ready(pod) != known.ready:
            self._write_ready(known, known.ready)  # someone else rewrote it: ours wins

    # ------------------------------------------------------------------ processes
    def _launch(self, pod: Obj) -> None:
        meta = pod["metadata"]
        proc = PodProcess(
            meta["uid"], meta["name"], free_port(), pod, self.workdir / f"{meta['name']}.log"
        )
        with self._lock:  # spawned before it is visible: the prober never sees it half-made
            if self._stopping.is_set() or meta["uid"] in self.procs:
                return
            self._spawn(proc)
            self.procs[proc.uid] = proc
        try:
            self.core.patch_namespaced_pod(
                proc.name,
                self.namespace,
                {"metadata": {"annotations": {PORT_ANNOTATION: str(proc.port)}}},
                _content_type=MERGE,
                _request_timeout=kube.TIMEOUT,
            )
        except ApiException as err:
            if err.status == 404:
                self._terminate(proc.uid)
                return
            self._note(f"annotate {proc.name}: {err.status} {err.reason}")
        if self.targets is not None:
            labels = {"namespace": self.namespace, "pod": proc.name, "track": proc.track}
            self.targets.set(proc.uid, proc.address, labels)

    def _spawn(self, proc: PodProcess) -> None:
        env, unresolved = process_env(proc, self.tracking_uri, self.extra_env)
        if unresolved:
            self._note(f"{proc.name}: env not resolved by the runner: {unresolved}")
        proc.spawn(env)

    def _terminate(self, uid: str) -> None:
        with self._lock:
            proc = self.procs.pop(uid, None)
        if proc is None:
            return
        if self.targets is not None:
            self.targets.remove(uid)
        proc.signal(signal.SIGTERM)
        proc.reap()

    # ------------------------------------------------------------------ readiness
    def _probe_loop(self) -> None:
        while not self._stopping.wait(self.probe_interval):
            with self._lock:
                procs = list(self.procs.values())
            for proc in procs:
                try:
                    self._probe(proc)
                except Exception as err:  # keep probing the others
                    self._note(f"probe {proc.name}: {err!r}")

    def _probe(self, proc: PodProcess) -> None:
        if proc.crashed():  # back-off restart, as restartPolicy: Always
            proc.restarts += 1
            proc.restart_at = time.monotonic() + min(10.0, 0.5 * 2**proc.restarts)
            proc.popen = None
            self._write_ready(proc, False)
            return
        if proc.popen is None:
            with self._lock:  # not if the pod went away meanwhile
                if self.procs.get(proc.uid) is proc and time.monotonic() >= proc.restart_at:
                    self._spawn(proc)
            return
        try:
            ready = self._http.get(f"http://{proc.address}/readyz").status_code == 200
        except httpx.HTTPError:
            ready = False
        if ready != proc.ready:
            self._write_ready(proc, ready)

    def _write_ready(self, proc: PodProcess, ready: bool) -> None:
        body = ready_patch(proc.pod, ready, proc.restarts)
        proc.ready = ready  # before the patch: its own watch event must not look foreign
        try:
            self.core.patch_namespaced_pod_status(
                proc.name, self.namespace, body, _content_type=SMP, _request_timeout=kube.TIMEOUT
            )
        except ApiException as err:
            proc.ready = None  # probe again and rewrite
            if err.status != 404:
                self._note(f"readiness of {proc.name}: {err.status} {err.reason}")

    def _note(self, message: str) -> None:
        if len(self.errors) < 200:
            self.errors.append(f"{time.strftime('%H:%M:%S')} {message}")
