"""The model comparison on a holdout (dashapp.analytics.clv.compare): measures by hand,
the recommendation and what happens to a fit that did not converge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics import clv as cm
from dashapp.analytics.clv import compare
from tests.factories import simulate_histories


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    params = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    return simulate_histories("bgnbd", params, 2000, np.random.default_rng(3))


def test_measures_by_hand():
    pred = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    actual = np.array([0.0, 0.0, 2.0, 2.0, 4.0, 6.0, 6.0, 6.0, 9.0, 10.0])
    m = compare._measures(pred, actual)
    assert m["predicted_total"] == 45 and m["actual_total"] == 45
    assert m["total_error_pct"] == 0.0
    assert m["mae"] == pytest.approx(np.abs(pred - actual).mean())
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((pred - actual) ** 2)))
    assert m["top10_capture"] == pytest.approx(10 / 45)  # the top 10 % is one customer
    assert m["calibration_error"] == pytest.approx(np.abs(pred - actual).mean())  # 1 per decile


def test_comparison_ranks_models_and_baseline(data):
    fits = {
        k: (f(data["frequency"], data["recency"], data["T"]), 0.01) for k, f in cm.MODELS.items()
    }
    result = compare.compare_models(data, fits, cm.MODEL_LABELS)
    t = result.table
    assert list(t.index) == [*cm.MODELS, compare.BASELINE]
    assert (t["actual_total"] == data["frequency_holdout"].sum()).all()
    # on data generated from BG/NBD a purchase model beats the naive rate
    assert result.winner != compare.BASELINE
    assert t.loc[result.winner, "rmse"] < t.loc[compare.BASELINE, "rmse"]
    assert str(t.loc[result.winner, "label"]) in result.reason
    assert result.deciles.groupby("model").size().eq(10).all()
    assert result.n_customers == len(data) and result.holdout_weeks == pytest.approx(39.0)


def test_a_fit_that_did_not_converge_is_listed_but_not_recommended(data):
    good = cm.fit_bgnbd(data["frequency"], data["recency"], data["T"])
    bad = cm.fit_bgnbd([0, 0, 0], [0, 0, 0], [5, 6, 7])
    assert not bad.converged
    result = compare.compare_models(
        data, {"bgnbd": (good, 0.01), "mbgnbd": (bad, 0.02)}, cm.MODEL_LABELS
    )
    assert not result.table.loc["mbgnbd", "converged"]
    assert np.isnan(result.table.loc["mbgnbd", "mae"])
    assert result.winner in ("bgnbd", compare.BASELINE)


def test_recommendation_says_when_the_baseline_wins():
    table = pd.DataFrame(
        {
            "label": ["M", "Naive baseline (x/T)"],
            "converged": [True, True],
            "total_error_pct": [0.3, 0.01],
            "mae": [2.0, 1.0],
            "rmse": [3.0, 1.5],
            "spearman": [0.2, 0.5],
            "top10_capture": [0.2, 0.4],
            "calibration_error": [1.0, 0.1],
        },
        index=["bgnbd", compare.BASELINE],
    )
    winner, reason = compare.recommend(table)
    assert winner == compare.BASELINE
    assert "No purchase model beats the naive baseline" in reason
    none, why = compare.recommend(table.assign(converged=False))
    assert none is None and "none converged" in why


def test_churn_check_counts_customers_without_a_purchase(data):
    fit = cm.fit_bgnbd(data["frequency"], data["recency"], data["T"])
    check = compare.churn_check(data, {"bgnbd": fit}, 39.0)
    actual = float((data["frequency_holdout"] == 0).sum())
    assert (check["churn_actual"] == actual).all()
    # generated from BG/NBD itself: the expected count is close to the actual one
    assert check.loc["bgnbd", "churn_predicted"] == pytest.approx(actual, rel=0.05)
    assert check.loc["bgnbd", "churn_brier"] < check.loc[compare.BASELINE, "churn_brier"]
