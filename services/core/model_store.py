"""Load a model version (booster + contract) from MLflow or a local folder, all or nothing.

``MODEL_URI`` forms: ``models:/name@alias``, ``models:/name/3``, ``runs:/<run>/model``, or
a local folder that contains ``contract.json`` and ``booster.ubj`` (anywhere below it, as
in a downloaded MLflow model). Loading checks that the contract parses, the booster
loads, its features match the contract and a probe row scores to finite probabilities;
any failure raises ``ModelLoadError`` and nothing is returned half-loaded.
"""

from __future__ import annotations

import json
import tempfile
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import xgboost as xgb

from services.core.contract import CONTRACT_FILE, ModelContract
from services.core.fast_margin import MarginPredictor
from services.core.paths import find_below
from services.core.reason_groups import ReasonGroups
from services.core.reasons import Statements
from services.core.registry import client, drop_pooled_connections, is_local, pin
from services.core.split_bins import SplitBins

BOOSTER_FILE = "booster.ubj"


class ModelLoadError(RuntimeError):
    """The model at a URI cannot be served (missing, unreadable or inconsistent)."""


class ModelGone(ModelLoadError):
    """The model at a URI does not exist (a deleted registry version, run or folder): unlike
    a registry outage, trying again will not help."""


@dataclass(frozen=True)
class Predictions:
    probability: np.ndarray
    label: np.ndarray
    band: np.ndarray  # risk band names


@dataclass(frozen=True)
class LoadedModel:
    uri: str
    name: str
    version: str
    contract: ModelContract
    booster: xgb.Booster

    def probabilities(self, data: np.ndarray | xgb.DMatrix) -> np.ndarray:
        """Calibrated default probabilities of an encoded (rows, features) matrix, or of
        the ``matrix()`` built from one (bit-identical margins either way)."""
        if isinstance(data, xgb.DMatrix):
            margin = self.booster.predict(data, output_margin=True, validate_features=False)
        else:  # inplace_predict's margins, bit for bit, without its per-call overhead
            margin = self._margins(data)
        return self.contract.calibration.apply(np.asarray(margin))

    def probabilities_of_many(
        self, encoded: np.ndarray, keys: np.ndarray | None = None
    ) -> np.ndarray:
        """``probabilities`` of a batch of encoded rows, the booster evaluated once per
        group of rows every tree treats alike (``split_bins``) when the model allows few
        such groups, and the margins copied to the group's rows: the same leaves summed in
        the same order, so bit-identical to ``probabilities``, at a fraction of the cost
        on a model with few split thresholds (the Default model: ~2,700 groups in 500,000
        rows). Otherwise every row is evaluated, as ``probabilities`` does. ``keys``: the
        rows' ``split_bins.keys`` when the caller has them (batch reasons need them too)."""
        if not self.split_bins.few_groups(len(encoded)):
            return self.probabilities(encoded)
        first, inverse = self.split_bins.distinct(encoded, keys)
        margin = self._margins(np.ascontiguousarray(encoded[first]))
        return self.contract.calibration.apply(np.asarray(margin)[inverse])

    def matrix(self, encoded: np.ndarray) -> xgb.DMatrix:
        """A DMatrix of encoded rows, built from the array itself (a one-row pandas frame
        costs ~5x more than the prediction), with the booster's feature types so that
        categorical codes read as categories, as ``inplace_predict`` reads them. Scoring
        and explaining the same rows from one matrix builds it once."""
        return xgb.DMatrix(
            encoded,
            feature_types=self.booster.feature_types,
            enable_categorical=True,
            nthread=self._nthread,
        )

    def contributions(self, data: np.ndarray | xgb.DMatrix) -> np.ndarray:
        """Exact TreeSHAP contributions: (rows, features + 1) float32, the last column the
        bias; each row sums to its margin (float32 rounding aside)."""
        matrix = data if isinstance(data, xgb.DMatrix) else self.matrix(data)
        return np.asarray(self.booster.predict(matrix, pred_contribs=True, validate_features=False))

    def contributions_of_many(self, encoded: np.ndarray) -> np.ndarray:
        """``contributions`` of many rows, computed once per group of rows that every
        tree treats alike (``split_bins``) and copied to the others: the same numbers,
        far fewer TreeSHAP evaluations when the model has few distinct split patterns."""
        grouped, inverse = self.grouped_contributions(encoded)
        return grouped if inverse is None else grouped[inverse]

    def grouped_contributions(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``contributions`` once per group of rows every tree treats alike, and each row's
        group (``contributions_of_many`` is ``grouped[inverse]``); ``(contributions of
        every row, None)`` when nearly all rows differ (grouping would not pay)."""
        first, inverse = self.split_bins.distinct(encoded)
        if len(first) * 10 > len(encoded) * 9:
            return self.contributions(encoded), None
        return self.contributions(encoded[first]), inverse

    @cached_property
    def split_bins(self) -> SplitBins:
        return SplitBins.from_booster_json(self.booster.save_raw("json"), self.contract.features)

    @cached_property
    def reason_groups(self) -> ReasonGroups:
        """Batch reasons ranked once per group of alike rows, their TreeSHAP contributions
        kept across chunks (``reason_groups``)."""
        return ReasonGroups(self.split_bins, self.statements, self.contributions)

    @cached_property
    def statements(self) -> Statements:
        """The contract's reason statements, numbered (built once per loaded model)."""
        return Statements(self.contract)

    def predict(self, encoded: np.ndarray | xgb.DMatrix) -> Predictions:
        proba = self.probabilities(encoded)
        return Predictions(
            proba, (proba >= self.contract.threshold).astype(np.int8), self.bands(proba)
        )

    def predict_one(self, encoded: np.ndarray | xgb.DMatrix) -> tuple[float, int, str]:
        """``predict`` of one encoded row as plain values (probability, label, band): the
        same calibrated probability, with label and band picked without further array work
        (servers scoring one applicant per request call this)."""
        probability = float(self.probabilities(encoded)[0])
        uppers = self._band_upper_list
        band = self._band_name_list[min(bisect_right(uppers, probability), len(uppers) - 1)]
        return probability, int(probability >= self.contract.threshold), band

    def bands(self, proba: np.ndarray) -> np.ndarray:
        return self._band_names[self.band_codes(proba)]

    def band_codes(self, proba: np.ndarray) -> np.ndarray:
        """Index of each probability's risk band in ``contract.risk_bands`` (int8)."""
        uppers = self._band_uppers
        idx = np.minimum(np.searchsorted(uppers, proba, side="right"), len(uppers) - 1)
        return idx.astype(np.int8)

    @cached_property
    def _margins(self) -> MarginPredictor:
        return MarginPredictor(self.booster)

    @cached_property
    def _nthread(self) -> int | None:  # the booster's thread setting, for its DMatrix
        config = json.loads(self.booster.save_config())
        return int(config["learner"]["generic_param"].get("nthread", 0)) or None

    @cached_property
    def _band_uppers(self) -> np.ndarray:  # built once: servers call bands() per request
        return np.array([b.upper for b in self.contract.risk_bands])

    @cached_property
    def _band_names(self) -> np.ndarray:
        return np.array([b.name for b in self.contract.risk_bands])

    @cached_property
    def _band_upper_list(self) -> list[float]:
        return [b.upper for b in self.contract.risk_bands]

    @cached_property
    def _band_name_list(self) -> list[str]:
        return [b.name for b in self.contract.risk_bands]


def load_model(uri: str, tracking_uri: str, nthread: int = 0) -> LoadedModel:
    """Load and check the model at ``uri``; raise ``ModelLoadError`` if it cannot serve."""
    try:
        name, version, folder = _materialise(uri, tracking_uri)
        return load_folder(uri, name, version, folder, nthread)
    except ModelLoadError:
        raise
    except Exception as exc:  # any failure of a dependency is a refusal to load
        if not is_local(uri):
            drop_pooled_connections()  # the next try dials MLflow afresh
        error = ModelGone if _does_not_exist(exc) else ModelLoadError
        raise error(f"cannot load model {uri!r}: {type(exc).__name__}: {exc}") from exc


def _does_not_exist(exc: Exception) -> bool:
    """MLflow's answer for a deleted (or never made) version or run."""
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"


def _materialise(uri: str, tracking_uri: str) -> tuple[str | None, str, Path]:
    if is_local(uri):
        local = Path(uri)
        if not local.exists():
            raise ModelGone(f"no model folder at {uri!r}")
        return None, "local", local
    pinned = pin(tracking_uri, uri)  # an alias resolved once: the download is that version
    client(tracking_uri)
    import mlflow.artifacts  # deferred: a local model folder needs no MLflow at all

    target = Path(tempfile.mkdtemp(prefix="model-"))
    return (
        pinned.name,
        pinned.version,
        Path(mlflow.artifacts.download_artifacts(artifact_uri=pinned.uri, dst_path=str(target))),
    )


def _find(folder: Path, filename: str) -> Path:
    found = find_below(folder, filename)
    if not found:
        raise ModelLoadError(f"{filename} not found under {folder}")
    return found[0]


def load_folder(
    uri: str, name: str | None, version: str, folder: Path, nthread: int
) -> LoadedModel:
    contract = ModelContract.load(_find(folder, CONTRACT_FILE))
    booster = xgb.Booster()
    booster.load_model(str(_find(folder, BOOSTER_FILE)))
    if nthread:
        booster.set_param({"nthread": nthread})
    if booster.feature_names and list(booster.feature_names) != contract.feature_names:
        raise ModelLoadError(f"booster features {booster.feature_names} differ from the contract")
    model = LoadedModel(uri, name or contract.model_name, version, contract, booster)
    probe = model.probabilities(np.full((1, len(contract.features)), np.nan, dtype=np.float32))
    if not np.all(np.isfinite(probe)):
        raise ModelLoadError("probe prediction is not finite")
    return model
