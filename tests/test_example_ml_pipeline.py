"""End to end: the ml_pipeline example through the CLI, in a fresh copy.

Trains and publishes from nothing, shows that reformatting retrains nothing,
that a feature change rebuilds features and everything downstream (not the
ingest), that moving the evaluation bar only re-runs the check, that a model
trained on corrupted labels is quarantined while the previous scorecard stays
published byte for byte, and that fixing the input publishes again.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from example_story import (
    EXAMPLES,
    check_results,
    copy_example,
    dump,
    edit,
    planned,
    published,
    quarantined_keys,
    statuses,
)

ASSETS = ["ml/subscribers", "ml/features", "ml/model", "ml/evaluation", "ml/model_published"]


def _flip_labels_of_even_ids(text: str) -> str:
    """The export's churned column, wrong for every other subscriber."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for r in rows:
        if int(r["subscriber_id"][1:]) % 2 == 0:
            r["churned"] = str(1 - int(r["churned"]))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def test_ml_example_publishes_only_a_model_that_meets_the_bar(
    tmp_path, cli_json, catalog_rows
) -> None:
    proj = copy_example("ml_pipeline", tmp_path)
    defs = proj / "ml_pipeline_defs"

    # from nothing: ingest, features, train, evaluate, publish
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run) == dict.fromkeys(ASSETS, "success"), dump(run)
    assert check_results(run, "ml/model_published")["roc_auc_meets_the_bar"] is True
    assert planned(cli_json, proj) == {}

    # formatting only: a comment and different line breaks in the feature code
    edit(
        defs / "features.py",
        '            "tickets_per_month": (subscribers["support_tickets_90d"] / 3).round(3),\n',
        "            # three months of tickets, per month\n"
        '            "tickets_per_month": (\n'
        '                subscribers["support_tickets_90d"] / 3\n'
        "            ).round(3),\n",
    )
    assert planned(cli_json, proj) == {}

    # a feature change: features and everything downstream, not the ingest
    edit(
        defs / "features.py",
        "logins_30d.fillna(logins_30d.median())",
        "logins_30d.fillna(0)",
    )
    assert planned(cli_json, proj) == {
        "ml/features": {"code_changed"},
        "ml/model": {"upstream_will_change"},
        "ml/evaluation": {"upstream_will_change"},
        "ml/model_published": {"upstream_will_change"},
    }
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run) == dict.fromkeys(ASSETS[1:], "success"), dump(run)

    # only the evaluation bar moves: the check runs again on the published model
    model_before = published(catalog_rows, proj, "ml/model_published")
    edit(defs / "publish.py", "MIN_ROC_AUC = 0.75", "MIN_ROC_AUC = 0.78")
    assert planned(cli_json, proj) == {"ml/model_published": {"checks_changed"}}
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run) == {"ml/model_published": "checked"}, dump(run)
    assert check_results(run, "ml/model_published")["roc_auc_meets_the_bar"] is True
    assert published(catalog_rows, proj, "ml/model_published") == model_before
    assert planned(cli_json, proj) == {}

    # corrupted labels: the retrained model is worse and is not published
    export = proj / "data" / "subscribers.csv"
    good = export.read_text(encoding="utf-8")
    export.write_text(_flip_labels_of_even_ids(good), encoding="utf-8")
    run = cli_json(proj, "materialize", "--json", expect=1)
    assert statuses(run) == {
        "ml/subscribers": "success",
        "ml/features": "success",
        "ml/model": "success",
        "ml/evaluation": "success",
        "ml/model_published": "quarantined",
    }, dump(run)
    assert check_results(run, "ml/model_published")["roc_auc_meets_the_bar"] is False
    assert quarantined_keys(cli_json, proj) == ["ml/model_published"]
    assert published(catalog_rows, proj, "ml/model_published") == model_before

    # the fix: the same export as before trains the same model, which is published
    export.write_text(good, encoding="utf-8")
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run)["ml/model_published"] == "success", dump(run)
    assert published(catalog_rows, proj, "ml/model_published") == model_before
    assert planned(cli_json, proj) == {}


def test_ml_generate_data_writes_the_committed_csv(tmp_path) -> None:
    subprocess.run(
        [sys.executable, str(EXAMPLES / "ml_pipeline" / "generate_data.py"), str(tmp_path)],
        check=True,
        timeout=60,
    )
    committed = EXAMPLES / "ml_pipeline" / "data" / "subscribers.csv"
    assert (tmp_path / "subscribers.csv").read_bytes() == committed.read_bytes()


def test_ml_published_scorecard_scores_like_the_trained_model() -> None:
    """The scorecard the scoring job applies gives the scikit-learn model's probabilities."""
    import numpy as np

    root = str(EXAMPLES / "ml_pipeline")
    sys.path.insert(0, root)
    try:
        from ml_pipeline_defs import features, ingest, publish, train

        subs = ingest.subscribers([Path(root) / "data" / "subscribers.csv"])
        feats = features.features(subs)
        model = train.model(feats)
        evaluation = train.evaluation(model, feats)
        card = publish.model_published(model, evaluation)
        got = publish.churn_probability(card, feats).to_numpy()
        want = model.predict_proba(feats[features.FEATURE_COLUMNS])[:, 1]
        assert np.abs(got - want).max() < 1e-9
        assert list(card["feature"]) == ["(intercept)", *features.FEATURE_COLUMNS]
        assert evaluation["roc_auc"] >= publish.MIN_ROC_AUC
    finally:
        sys.path.remove(root)
        for name in [m for m in sys.modules if m.split(".")[0] == "ml_pipeline_defs"]:
            del sys.modules[name]
