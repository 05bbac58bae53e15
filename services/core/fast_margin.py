"""``inplace_predict(x, predict_type="margin")`` without its per-call Python overhead.

For a one-row array, XGBoost's Python wrapper costs about as much as the prediction: it
re-checks the input's type against a dozen frame libraries, JSON-encodes the same
prediction arguments and the array interface on every call, and wraps the result through
a freshly built class. ``MarginPredictor`` calls the very same C entry point
(``XGBoosterPredictFromDense``) with the arguments ``inplace_predict`` would send — built
once — and an array interface formatted directly, then copies the result out: the same
bits, less Python. Anything other than a C-contiguous 2-D float32 array of the booster's
width, or an XGBoost without these internals, takes ``inplace_predict`` itself.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
import xgboost as xgb

try:  # the wrapper's own internals: present in every 2.x/3.x release; else the public path
    from xgboost.core import _LIB, _check_call, c_bst_ulong, make_jcargs
except ImportError:  # pragma: no cover
    _LIB = None  # type: ignore[assignment]

INTERFACE = (  # what xgboost's array_interface() writes for such an array
    b'{"data": [%d, false], "strides": null, "typestr": "<f4", "shape": [%d, %d], "version": 3}'
)


class MarginPredictor:
    def __init__(self, booster: xgb.Booster) -> None:
        self.booster = booster
        self.width = booster.num_features()
        self.direct = _LIB is not None
        if self.direct:
            self.args = make_jcargs(
                type=1,
                training=False,
                iteration_begin=0,
                iteration_end=0,
                missing=np.nan,
                strict_shape=False,
                cache_id=0,
            )

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Margins (float32, one per row) of an encoded (rows, features) matrix."""
        if not (
            self.direct
            and data.dtype == np.float32
            and data.ndim == 2
            and data.shape[1] == self.width
            and data.shape[0] > 0
            and data.flags.c_contiguous
        ):
            return np.asarray(self.booster.inplace_predict(data, predict_type="margin"))
        return self._predict(data)

    def _predict(self, data: np.ndarray) -> np.ndarray:
        rows, cols = data.shape
        interface = INTERFACE % (data.ctypes.data, rows, cols)
        preds = ctypes.POINTER(ctypes.c_float)()
        shape = ctypes.POINTER(c_bst_ulong)()
        dims = c_bst_ulong()
        _check_call(
            _LIB.XGBoosterPredictFromDense(
                self.booster.handle,
                interface,
                self.args,
                ctypes.c_void_p(),
                ctypes.byref(shape),
                ctypes.byref(dims),
                ctypes.byref(preds),
            )
        )
        size = 1
        for i in range(dims.value):
            size *= int(shape[i])
        out: Any = np.ctypeslib.as_array(preds, shape=(size,)).copy()  # the buffer is reused
        return out  # type: ignore[no-any-return]
