"""The MLflow pyfunc face of a model version, for MLflow tooling and ad-hoc scoring.

Servers do not go through pyfunc (they load ``booster.ubj`` + ``contract.json`` directly,
see ``model_store``), but anyone can ``mlflow.pyfunc.load_model("models:/name/3")`` and
``predict`` a DataFrame of raw applicants (strings for categoricals, NaN/None for
missing): the same encoding and calibration apply, because they come from the contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel, load_folder


class CreditDefaultModel(PythonModel):
    def load_context(self, context: Any) -> None:
        folder = Path(context.artifacts["contract"]).parent
        self._model: LoadedModel = load_folder("pyfunc", None, "pyfunc", folder, 0)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        features = self._model.contract.features
        frame = pd.DataFrame(model_input)
        out = self._model.predict(encode_frame(features, frame))
        return pd.DataFrame(
            {"probability": out.probability, "prediction": out.label, "risk_band": out.band}
        )
