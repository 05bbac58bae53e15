"""A deliberately faulty candidate for the kind e2e: trains on synthetic applicants whose
income is 50 % lower and balance 50 % higher than the real data, so its training
reference no longer matches live traffic and the canary's feature PSI gate fails.
Runs inside the trainer image (mounted from a ConfigMap); prints the trainer's summary.
"""

import json
import sys

from services.core.datasets import load_config
from services.core.logs import configure_logging
from services.core.synthetic import ApplicantGenerator, Drift
from services.trainer.pipeline import train
from services.trainer.settings import TrainerSettings

settings = TrainerSettings(
    cv_folds=3, imbalance="scale_pos_weight", gate_min_roc_auc=0.0, gate_max_auc_drop=1.0
)
configure_logging(settings.log_level, settings.log_json, service="trainer-drifted")
config = load_config(settings.dataset)
generator = ApplicantGenerator.from_config(config)
encoded, labels = generator.sample_encoded(
    10_000, seed=3, drift=[Drift("income", shift=-0.5), Drift("balance", shift=0.5)]
)
frame = generator.to_frame(encoded)
for spec in config.features:  # as read from a CSV: categoricals are strings
    if spec.is_categorical:
        frame[spec.name] = frame[spec.name].astype("string")
summary = train(settings, data=(frame, labels))
print(json.dumps(summary.as_dict()))
sys.exit(0)
