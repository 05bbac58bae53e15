"""Holdout metrics and diagnostic plots of a scored binary classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)


def ks_statistic(y: np.ndarray, proba: np.ndarray) -> float:
    """Kolmogorov-Smirnov: max distance between the score CDFs of bad and good."""
    fpr, tpr, _ = roc_curve(y, proba)
    return float(np.max(tpr - fpr))


def classification_metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = (proba >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, predicted, average="binary", zero_division=0
    )
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "ks": ks_statistic(y, proba),
        "brier": float(brier_score_loss(y, proba)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "threshold": float(threshold),
        "tn": float(tn),
        "fp": float(fp),
        "fn": float(fn),
        "tp": float(tp),
        "positive_rate": float(np.mean(y)),
        "predicted_positive_rate": float(np.mean(predicted)),
    }


def save_plots(y: np.ndarray, proba: np.ndarray, folder: Path) -> list[Path]:
    """ROC, precision-recall and calibration curves as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fpr, tpr, _ = roc_curve(y, proba)
    precision, recall, _ = precision_recall_curve(y, proba)
    frac_pos, mean_pred = calibration_curve(y, proba, n_bins=10, strategy="quantile")
    plots = {
        "roc.png": (fpr, tpr, "false positive rate", "true positive rate", "ROC"),
        "pr.png": (recall, precision, "recall", "precision", "Precision-recall"),
        "calibration.png": (
            mean_pred,
            frac_pos,
            "mean predicted",
            "observed default rate",
            "Calibration",
        ),
    }
    paths = []
    for filename, (xs, ys, xlabel, ylabel, title) in plots.items():
        fig, ax = plt.subplots(figsize=(4.5, 4))
        ax.plot(xs, ys, marker="." if filename == "calibration.png" else None)
        if filename != "pr.png":
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
        fig.tight_layout()
        fig.savefig(folder / filename, dpi=80)
        plt.close(fig)
        paths.append(folder / filename)
    return paths
