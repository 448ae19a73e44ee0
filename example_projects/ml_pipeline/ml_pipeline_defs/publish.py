"""Publish: the model the scoring job applies, gated by its evaluation.

``ml/model_published`` is the trained model as a scorecard, one row per
feature with its scaling and coefficient (and one for the intercept): a
parquet table any scoring job can apply, in Python or in SQL, without
unpickling a scikit-learn object. A blocking check holds it to
``MIN_ROC_AUC`` on the held-out split: a model that scores worse is
quarantined and the previously published scorecard stays the one served.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from assets_core import CheckResult, asset, check
from assets_core import checks as c
from ml_pipeline_defs.features import FEATURE_COLUMNS

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MIN_ROC_AUC = 0.75
INTERCEPT = "(intercept)"


@asset(key_prefix="ml", checks=[c.not_null("feature", "coefficient"), c.unique("feature")])
def model_published(model: Pipeline, evaluation: dict[str, Any]) -> pd.DataFrame:
    """The scorecard: churn probability = sigmoid(sum of coefficient * (x - mean) / scale)."""
    scaler, classifier = model.named_steps["scale"], model.named_steps["classify"]
    rows = [(INTERCEPT, 0.0, 1.0, float(classifier.intercept_[0]))]
    rows += zip(FEATURE_COLUMNS, scaler.mean_, scaler.scale_, classifier.coef_[0], strict=True)
    card = pd.DataFrame(rows, columns=["feature", "mean", "scale", "coefficient"])
    card["trained_rows"] = evaluation["train_rows"]
    return card


@check(model_published, blocking=True)
def roc_auc_meets_the_bar(model_published: pd.DataFrame, evaluation: dict[str, Any]) -> CheckResult:
    """The held-out ROC AUC of the model behind this scorecard is at least MIN_ROC_AUC."""
    auc = evaluation["roc_auc"]
    return CheckResult(
        passed=auc >= MIN_ROC_AUC,
        description=f"ROC AUC {auc:.4f} on {evaluation['test_rows']} held-out rows "
        f"(bar {MIN_ROC_AUC:.2f})",
        metadata={"roc_auc": auc, "min_roc_auc": MIN_ROC_AUC},
    )


def churn_probability(scorecard: pd.DataFrame, features: pd.DataFrame) -> pd.Series:
    """Apply a published scorecard to rows of features (what the scoring job runs)."""
    card = scorecard.set_index("feature")
    terms = card.drop(index=INTERCEPT)
    z = card.loc[INTERCEPT, "coefficient"] + sum(
        term["coefficient"] * (features[name] - term["mean"]) / term["scale"]
        for name, term in terms.iterrows()
    )
    return z.map(lambda v: 1 / (1 + math.exp(-v)))
