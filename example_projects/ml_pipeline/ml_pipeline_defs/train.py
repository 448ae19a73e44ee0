"""Train and evaluate: a scaled logistic regression, scored on the held-out split.

Training is deterministic (a fixed solver and seed on fixed data), so the same
features always give the same model and the same data version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from assets_core import asset
from ml_pipeline_defs.features import FEATURE_COLUMNS

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

REGULARIZATION_C = 1.0
SEED = 7


@asset(key_prefix="ml")
def model(features: pd.DataFrame) -> Pipeline:
    """A churn classifier fitted on the training split."""
    # scikit-learn is imported here, not at the top: `assets plan` and `status` load
    # this module and should not pay for it
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    train = features[features["split"] == "train"]
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=REGULARIZATION_C, max_iter=1000, random_state=SEED)),
        ]
    )
    return pipeline.fit(train[FEATURE_COLUMNS], train["churned"])


@asset(key_prefix="ml")
def evaluation(model: Pipeline, features: pd.DataFrame) -> dict[str, Any]:
    """Metrics of the model on the test split (never seen in training)."""
    from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

    test = features[features["split"] == "test"]
    scores = model.predict_proba(test[FEATURE_COLUMNS])[:, 1]
    predicted = (scores >= 0.5).astype(int)
    truth = test["churned"]
    return {
        "roc_auc": round(float(roc_auc_score(truth, scores)), 4),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "precision": round(float(precision_score(truth, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(truth, predicted, zero_division=0)), 4),
        "test_rows": int(len(test)),
        "train_rows": int((features["split"] == "train").sum()),
        "churn_rate": round(float(truth.mean()), 4),
    }
