"""Figures of paired scoring (candidate and baseline on the same applicants), pure.

The canary pods count, per applicant, the baseline's and the candidate's decision and
band, the absolute score difference, and both scores' histograms (see
``services/core/telemetry.py``). These functions turn the Prometheus vectors of those
counters into the paired gates' figures (flip rate with a Wilson interval, mean absolute
score difference, score PSI candidate vs baseline, the band migration matrix) and judge
them: in the shadow phase and, with ``shadow.canaryGates``, at every canary analysis.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist

from controller.rollout.readings import PairedReadings
from controller.spec import ShadowGates
from controller.status import GateResult, PairedRecord
from services.core import telemetry as t

EPSILON = 1e-4  # floor of a bin's share, as services/core/psi.py (empty bins stay finite)
Vector = Iterable[tuple[Mapping[str, str], float]]


def wilson(successes: float, n: float, confidence: float) -> tuple[float, float]:
    """The two-sided Wilson score interval (lower, upper) of ``successes`` out of ``n``.

    Unlike p ± z·√(p(1−p)/n) it does not collapse to a point when no flip was seen: 0 of
    500 at 95 % gives (0, 0.0076), the most a clean sample of that size can vouch for."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = min(max(successes / n, 0.0), 1.0)
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    lower = 0.0 if p == 0 else max(0.0, (centre - spread) / scale)  # exact at the edges
    upper = 1.0 if p == 1 else min(1.0, (centre + spread) / scale)
    return lower, upper


def wilson_upper(successes: float, n: float, confidence: float) -> float:
    return wilson(successes, n, confidence)[1]


def flips(decisions: Vector) -> tuple[float, float]:
    """(pairs, flips): every paired decision, and those whose outcome differs from the
    baseline's (approve <-> decline)."""
    pairs = flipped = 0.0
    for labels, value in decisions:
        pairs += value
        if labels.get(t.BASELINE_OUTCOME_LABEL) != labels.get(t.OUTCOME_LABEL):
            flipped += value
    return pairs, flipped


def band_matrix(bands: Vector) -> dict[str, dict[str, float]]:
    """Baseline band -> candidate band -> applicants (rounded counts; empty cells left out)."""
    matrix: dict[str, dict[str, float]] = {}
    for labels, value in bands:
        count = round(value)
        if count <= 0:
            continue
        row = matrix.setdefault(labels.get(t.BASELINE_BAND_LABEL, "?"), {})
        band = labels.get(t.BAND_LABEL, "?")
        row[band] = row.get(band, 0) + count
    return matrix


def _le(labels: Mapping[str, str]) -> float:
    return float(labels.get("le", "+Inf"))


def bins(buckets: Vector) -> list[float]:
    """Per-bin counts of a cumulative histogram's buckets (any order, by ``le``)."""
    cumulative = sorted((_le(labels), value) for labels, value in buckets)
    found, below = [], 0.0
    for _, value in cumulative:
        found.append(max(value - below, 0.0))
        below = max(below, value)
    return found


def psi(expected: list[float], actual: list[float]) -> float | None:
    """PSI of ``actual`` against ``expected`` (counts in the same bins); None if empty."""
    total_e, total_a = sum(expected), sum(actual)
    if len(expected) != len(actual) or total_e <= 0 or total_a <= 0:
        return None
    value = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe, pa = max(e / total_e, EPSILON), max(a / total_a, EPSILON)
        value += (pa - pe) * math.log(pa / pe)
    return value


@dataclass(frozen=True)
class PairedFigures:
    pairs: float
    flips: float
    flip_rate: float | None
    flip_rate_lower: float | None
    flip_rate_upper: float | None
    mean_abs_diff: float | None
    score_psi: float | None
    bands: dict[str, dict[str, float]] = field(default_factory=dict)


def figures(readings: PairedReadings, confidence: float) -> PairedFigures:
    """Every figure the shadow gates judge, from one tick's paired readings."""
    pairs, flipped = flips(readings.decisions)
    rate = flipped / pairs if pairs > 0 else None
    lower, upper = wilson(flipped, pairs, confidence) if pairs > 0 else (None, None)
    count = readings.diff_count
    mean = readings.diff_sum / count if count and readings.diff_sum is not None else None
    score = psi(bins(readings.baseline_buckets), bins(readings.candidate_buckets))
    bands = band_matrix(readings.bands)
    return PairedFigures(pairs, flipped, rate, lower, upper, mean, score, bands)


def gate(name: str, value: float | None, limit: float | None) -> GateResult:
    if value is None:
        return GateResult(name=name, max=limit, verdict="NoData")
    ok = limit is None or value <= limit
    return GateResult(name=name, value=value, max=limit, verdict="Passed" if ok else "Failed")


def _values(found: PairedFigures) -> dict[str, float | None]:
    return {
        "flipRate": found.flip_rate_upper,
        "scoreDiff": found.mean_abs_diff,
        "scorePSI": found.score_psi,
    }


def flip_gate(found: PairedFigures, limit: float | None) -> GateResult:
    """The flip rate judged by its confidence interval: passed once the upper bound is
    within ``limit``, failed once the lower bound is above it, undecided in between (more
    pairs narrow the interval: the phase holds until ``timeout``). Its value is the upper
    bound."""
    result = gate("flipRate", found.flip_rate_upper, limit)
    lower = found.flip_rate_lower
    if result.verdict == "Failed" and lower is not None and limit is not None and lower <= limit:
        return result.model_copy(update={"verdict": "Undecided"})
    return result


def paired_gates(
    gates: ShadowGates,
    found: PairedFigures,
    prefix: str = "",
    only: Collection[str] | None = None,
) -> list[GateResult]:
    """The enabled paired gates (``only`` these, if given) judged on ``found``; names
    prefixed, e.g. ``pairedFlipRate`` at a canary analysis."""
    values = _values(found)
    judged = [
        flip_gate(found, limit) if name == "flipRate" else gate(name, values[name], limit)
        for name, limit in gates.enabled().items()
        if only is None or name in only
    ]
    if not prefix:
        return judged
    return [g.model_copy(update={"name": prefix + g.name[0].upper() + g.name[1:]}) for g in judged]


def paired_record(found: PairedFigures) -> PairedRecord:
    return PairedRecord(
        pairs=found.pairs,
        flips=found.flips,
        flip_rate=found.flip_rate,
        flip_rate_lower=found.flip_rate_lower,
        flip_rate_upper=found.flip_rate_upper,
        mean_abs_diff=found.mean_abs_diff,
        score_psi=found.score_psi,
        bands=found.bands,
    )
