"""The model runtime: which model version serves, and swapping it without downtime.

A ``Served`` snapshot bundles everything one version needs on the request path (booster +
contract, generated request models, drift monitor, metric labels). A request reads
``runtime.current`` once and uses that snapshot to the end, so a reload never mixes two
versions in one answer. A reload builds the new snapshot off the event loop, checks it,
and then swaps one reference; a candidate that fails to load (artifact, contract, probe
prediction) or whose contract is incompatible with the served one is refused, and the old
version keeps serving. Reloads are serialised by a lock.

With ``baseline_model_uri`` set, the runtime also loads that model once (same loader and
checks) and pairs every served snapshot with it (``paired.PairedScorer``) when its
features encode alike; a baseline that cannot load or pair leaves the pod ready and
serving unpaired (``inference_baseline_loaded`` 0, no paired samples). A registry outage
is retried every ``load_retry_seconds`` (by the watcher), a baseline that does not exist
is not.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import anyio.to_thread
from loguru import logger

from services.core.contract import compatibility_issues
from services.core.model_store import LoadedModel, ModelGone, ModelLoadError, load_model
from services.inference.drift import DriftMonitor
from services.inference.metrics import InferenceMetrics, ModelLabels
from services.inference.paired import PairedScorer, baseline_columns
from services.inference.responses import ReloadStatus
from services.inference.schemas import RequestSchemas, build_schemas
from services.inference.settings import InferenceSettings


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def freeze_heap() -> None:
    """Take everything alive now (libraries, the served model) out of the cyclic GC's
    scans. Under concurrent load, request objects alive during collections get promoted,
    and every so often a full collection walked the ~350k objects of the imported
    libraries: 100-200 ms pauses that showed as p99 spikes. Frozen objects are still
    freed by reference counting; unfreezing first lets the collection reclaim the
    previous snapshot's reference cycles."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@dataclass(frozen=True, eq=False)
class Served:
    model: LoadedModel
    schemas: RequestSchemas
    drift: DriftMonitor
    labels: ModelLabels  # (model_name, model_version, track)
    loaded_at: str = field(default_factory=now)
    paired: PairedScorer | None = None  # the baseline scoring the same applicants

    @property
    def ref(self) -> dict[str, str]:
        return dict(zip(("name", "version", "track"), self.labels, strict=True))


class ModelRuntime:
    def __init__(self, settings: InferenceSettings, metrics: InferenceMetrics) -> None:
        self.settings, self.metrics = settings, metrics
        self.current: Served | None = None
        self.uri = settings.model_uri  # what the served version was loaded from
        self.generation = 0  # bumped on every swap (e.g. to refresh the OpenAPI document)
        self.last_reload: ReloadStatus | None = None
        self.baseline: LoadedModel | None = None
        self.baseline_pending = bool(settings.baseline_model_uri)  # configured, to (re)try
        self.baseline_message = "loading" if self.baseline_pending else "off"
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self.current is not None

    async def reload(self, uri: str | None = None, force: bool = False) -> ReloadStatus:
        """Load ``uri`` (default: the served URI) and swap it in if it is fit to serve."""
        uri = uri or self.uri
        async with self._lock:
            await anyio.to_thread.run_sync(self._load_baseline)
            try:
                served = await anyio.to_thread.run_sync(self._prepare, uri)
                status = self._adopt(served, uri, force)
            except ModelLoadError as exc:
                status = ReloadStatus(ok=False, at=now(), uri=uri, message=str(exc))
            self.last_reload = status
            self._pair_current()
        log = logger.info if status.ok else logger.error
        log("reload {}: {}", "ok" if status.ok else "refused", status.message)
        return status

    async def load_baseline(self) -> None:
        """Try the baseline again (the watcher, while ``baseline_pending``)."""
        async with self._lock:
            await anyio.to_thread.run_sync(self._load_baseline)
            self._pair_current()
            if self.baseline is not None and self.settings.gc_freeze:
                freeze_heap()  # the baseline joins the served model out of the GC's scans

    def _load_baseline(self) -> None:
        uri, s = self.settings.baseline_model_uri, self.settings
        if not self.baseline_pending:
            return
        try:
            self.baseline = load_model(uri, s.mlflow_tracking_uri, s.nthread)
        except ModelGone as exc:
            self.baseline_pending = False
            self.baseline_message = f"baseline {uri} not found, serving unpaired: {exc}"
            logger.error(self.baseline_message)
            return
        except ModelLoadError as exc:
            self.baseline_message = f"baseline {uri} failed to load, retrying: {exc}"
            logger.error(self.baseline_message)
            return
        self.baseline_pending = False
        self.baseline_message = f"baseline {self.baseline.name} v{self.baseline.version} loaded"
        logger.info(self.baseline_message)

    def _pair_current(self) -> None:
        """Pair the served snapshot with a baseline loaded after it was adopted."""
        current = self.current
        if current is not None and current.paired is None and self.baseline is not None:
            self.current = self._pair(current)

    def _pair(self, served: Served) -> Served:
        """``served`` with the baseline scoring alongside it, if one is configured, loaded
        and reads the same encoded rows; sets ``inference_baseline_loaded`` accordingly."""
        uri = self.settings.baseline_model_uri
        if not uri:
            return served
        paired, baseline = None, self.baseline
        if baseline is not None:
            model = served.model
            columns = baseline_columns(model.contract, baseline.contract)
            if columns.ok:
                series = self.metrics.paired(
                    (*served.labels, baseline.version),
                    [b.name for b in model.contract.risk_bands],
                    [b.name for b in baseline.contract.risk_bands],
                )
                paired = PairedScorer(model, baseline, columns, series)
                self.baseline_message = (
                    f"baseline {baseline.name} v{baseline.version} paired with "
                    f"{model.name} v{model.version}"
                )
            else:
                self.baseline_message = (
                    f"baseline {baseline.name} v{baseline.version} cannot score the rows of "
                    f"{model.name} v{model.version}, serving unpaired: {'; '.join(columns.issues)}"
                )
                logger.error(self.baseline_message)
        self.metrics.baseline_status(served.labels, uri, paired is not None)
        return replace(served, paired=paired)

    def _prepare(self, uri: str) -> Served:
        s = self.settings
        model = load_model(uri, s.mlflow_tracking_uri, s.nthread)
        try:
            schemas = build_schemas(model.contract, s.bulk_max_rows)
        except Exception as exc:
            raise ModelLoadError(f"cannot build request models from the contract: {exc}") from exc
        labels = (model.name, model.version, s.track)
        drift = DriftMonitor(
            model.contract,
            window=s.drift_window,
            threshold=s.drift_threshold,
            min_samples=s.drift_min_samples,
            flush_rows=s.drift_flush_rows,
            on_reading=lambda r: self.metrics.set_drift(
                labels, r.features, r.score, r.detected, r.samples
            ),
        )
        return Served(model, schemas, drift, labels)

    def _adopt(self, served: Served, uri: str, force: bool) -> ReloadStatus:
        old, new = self.current, served.model
        version = new.version
        if old is not None and old.labels == served.labels and version != "local":
            return ReloadStatus(
                ok=True,
                at=now(),
                uri=uri,
                version=version,
                message=f"already serving {new.name} v{version}",
            )
        issues = compatibility_issues(old.model.contract, new.contract) if old else []
        if issues and not force:
            kept = f"; still serving v{old.labels[1]}" if old else ""
            return ReloadStatus(
                ok=False,
                at=now(),
                uri=uri,
                version=version,
                message=f"incompatible contract: {'; '.join(issues)}{kept}",
            )
        self.metrics.serve(served.labels, new.contract.feature_names, new.contract.dataset, uri)
        self.current, self.uri = self._pair(served), uri
        self.generation += 1
        if self.settings.gc_freeze:
            freeze_heap()
        previous = f" (was v{old.labels[1]})" if old else ""
        return ReloadStatus(
            ok=True,
            at=now(),
            uri=uri,
            version=version,
            message=f"serving {new.name} v{version}{previous}",
        )
