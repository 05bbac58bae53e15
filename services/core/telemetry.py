"""The names other components read: route templates and Prometheus metric names.

The inference service serves these routes and exports these metrics; the rollout
controller's PromQL (``controller/queries.py``), fault injection, the access log's probe
list, and — checked by ``tests/unit/test_telemetry.py``, since YAML and JSON cannot import
Python — the chart's alert rules and Grafana dashboard read them. Renaming one here is
renaming it everywhere, or a test fails. Pure: no imports.
"""

from __future__ import annotations

# --- routes (path templates, as in the ``route`` label) ---------------------------------
API = "/api/v1"
PREDICT = f"{API}/predict"
PREDICT_BULK = f"{API}/predict/bulk"
MODEL_INFO = f"{API}/model/info"
ADMIN_RELOAD = f"{API}/admin/reload"
HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"

SCORING_ROUTES = (PREDICT, PREDICT_BULK)  # what the rollout gates and alerts judge
SCORING_PREFIX = PREDICT  # every scoring path starts with it (fault injection)
SCORING_ROUTE_REGEX = f"{SCORING_PREFIX}.*"  # the dashboard's and alerts' route matcher
PROBE_PATHS = frozenset({HEALTHZ, READYZ, METRICS})  # kubelet probes, Prometheus scrapes
# ``method`` label values: these, and OTHER_METHOD for any other token a client sends, so an
# anonymous request cannot add series (``curl -X "$(head -c 2000 ...)"``)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"

# --- metrics -----------------------------------------------------------------------------
MODEL_LABELS = ("model_name", "model_version", "track")  # on every inference series
TRACK_LABEL, ROUTE_LABEL, STATUS_LABEL, OUTCOME_LABEL = "track", "route", "status", "outcome"
DEFAULT_OUTCOME, NO_DEFAULT_OUTCOME = "default", "no_default"  # ``outcome`` values

HTTP_REQUESTS = "http_requests"  # counter: exposed as ``http_requests_total``
# histogram of the API routes only (``API``/...): Flagger's built-in request-success-rate
# and request-duration queries read it unfiltered, so probes and scrapes stay out of it
HTTP_DURATION = "http_request_duration_seconds"
PREDICTIONS = "inference_predictions"  # counter: ``inference_predictions_total``
SCORE = "inference_score"  # histogram of the predicted probability
FEATURE_PSI = "inference_feature_psi"
SCORE_PSI = "inference_score_psi"
DRIFT_SAMPLES = "inference_drift_samples"
DRIFT_DETECTED = "inference_drift_detected"
MODEL_INFO_METRIC = "inference_model_info"

# paired scoring: a pod given a baseline model (the stable version) also scores every
# applicant with it and counts how the two compare on the same applicant; the rollout's
# shadow phase and paired gates read these from the canary's pods
BASELINE_VERSION_LABEL = "baseline_version"
BASELINE_OUTCOME_LABEL, BAND_LABEL, BASELINE_BAND_LABEL = (
    "baseline_outcome",
    "band",
    "baseline_band",
)
# counter, MODEL_LABELS + baseline_version, baseline_outcome, outcome: a flip is a sample
# whose baseline_outcome differs from its outcome
PAIRED_DECISIONS = "inference_paired_decisions"
# counter, MODEL_LABELS + baseline_version, baseline_band, band: the band migration matrix
PAIRED_BANDS = "inference_paired_band_migrations"
# histogram, MODEL_LABELS + baseline_version: |probability - baseline probability|
PAIRED_SCORE_DIFF = "inference_paired_score_abs_diff"
# histogram (SCORE's buckets), MODEL_LABELS + baseline_version: the baseline's probability on
# the same applicants (score PSI candidate vs baseline without sampling noise)
BASELINE_SCORE = "inference_baseline_score"
# gauge, MODEL_LABELS + baseline_uri, only on pods given a baseline: 1 while the served model
# is paired with it, 0 while it is not (still loading, failed to load, incompatible feature
# contract); with 0 the paired series above get no samples: "no data", never a pass
BASELINE_URI_LABEL = "baseline_uri"
BASELINE_LOADED = "inference_baseline_loaded"

COUNTERS = (HTTP_REQUESTS, PREDICTIONS, PAIRED_DECISIONS, PAIRED_BANDS)
HISTOGRAMS = (HTTP_DURATION, SCORE, PAIRED_SCORE_DIFF, BASELINE_SCORE)
GAUGES = (
    FEATURE_PSI,
    SCORE_PSI,
    DRIFT_SAMPLES,
    DRIFT_DETECTED,
    MODEL_INFO_METRIC,
    BASELINE_LOADED,
)


def total(counter: str) -> str:
    """The exposed name of a counter's samples (``<name>_total``)."""
    return f"{counter}_total"


def bucket(histogram: str) -> str:
    return f"{histogram}_bucket"


def exposed_names() -> frozenset[str]:
    """Every series name the inference service exports (as PromQL sees them). The client
    library adds ``_created`` to counters and to the latency histogram; the score
    histograms (served score, baseline score, paired difference) are the service's own
    collector, without it."""
    histograms = {f"{h}{suffix}" for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
    counters = {f"{c}{suffix}" for c in COUNTERS for suffix in ("_total", "_created")}
    return frozenset({*counters, *histograms, f"{HTTP_DURATION}_created", *GAUGES})
