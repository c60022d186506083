"""What the figures show, read from the figure dicts the browser receives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashapp.analytics import rfm
from dashapp.analytics.cohorts import cohort_tables
from dashapp.web.figures.base import SEQUENTIAL, month_axis
from dashapp.web.figures.clustering import agreement_heatmap
from dashapp.web.figures.cohorts import cohort_heatmap
from dashapp.web.figures.migration import sizes
from dashapp.web.figures.rfm import rf_heatmap, rfm_distributions


def _rgb(color: str) -> np.ndarray:
    color = color.lstrip("#")
    return np.array([int(color[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)


def _luminance(color: str) -> float:
    """Relative luminance (WCAG) of a #rrggbb colour: 0 black .. 1 white."""
    c = _rgb(color) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])


def _color_of(trace: dict, value: float) -> str:
    """The colour Plotly paints ``value`` with on a heatmap trace: its explicit colour scale
    (a named one is refused: plotly.js's "Blues" runs dark to light), zmin/zmax or the data's
    range, reversescale."""
    scale = trace["colorscale"]
    assert isinstance(scale, list), f"named colour scale {scale!r}: its direction is Plotly's"
    z = np.asarray(trace["z"], dtype=float)
    lo = trace.get("zmin", np.nanmin(z))
    hi = trace.get("zmax", np.nanmax(z))
    t = float(np.clip((value - lo) / (hi - lo), 0, 1)) if hi > lo else 0.0
    if trace.get("reversescale"):
        t = 1 - t
    stops = [s for s, _ in scale]
    rgbs = np.array([_rgb(c) for _, c in scale])
    rgb = [np.interp(t, stops, rgbs[:, i]) for i in range(3)]
    return "#" + "".join(f"{round(v):02x}" for v in rgb)


def _assert_more_is_darker(trace: dict) -> None:
    z = np.asarray(trace["z"], dtype=float)
    values = np.unique(z[np.isfinite(z)])
    assert len(values) >= 3
    lums = [_luminance(_color_of(trace, v)) for v in values]
    assert all(a >= b for a, b in zip(lums, lums[1:], strict=False)), lums
    assert lums[0] > 0.85 and lums[-1] < 0.1  # the smallest near white, the biggest dark


def test_the_app_has_one_sequential_scale_from_light_to_dark():
    stops = [s for s, _ in SEQUENTIAL]
    lums = [_luminance(c) for _, c in SEQUENTIAL]
    assert stops[0] == 0 and stops[-1] == 1 and stops == sorted(stops)
    assert lums == sorted(lums, reverse=True)


@pytest.mark.parametrize("show", ["customers", "revenue"])
def test_rf_heatmap_paints_the_biggest_cell_darkest(show):
    """The issue's case: Champions (R 5, F 5) hold most revenue and must be the darkest cell,
    not white, in both colourings."""
    counts = np.arange(1, 26).reshape(5, 5) * 3
    revenue = np.arange(1, 26, dtype=float).reshape(5, 5) ** 2 * 100
    revenue[4, 4] = 731_593.0
    fig = rf_heatmap(counts, revenue, rfm.segment_lookup(), show, "£")
    (trace,) = fig["data"]
    assert trace["colorscale"] == SEQUENTIAL
    _assert_more_is_darker(trace)
    z = np.asarray(trace["z"], dtype=float)
    champions = _color_of(trace, z[4, 4])
    assert _luminance(champions) == min(_luminance(_color_of(trace, v)) for v in z.ravel())
    assert _luminance(champions) < 0.1


def _orders() -> pd.DataFrame:
    rows = []
    for c in range(12):
        for m in range(1 + c % 4):
            rows.append((f"{c}-{m}", f"c{c}", f"2021-{1 + c % 3 + m:02d}-05", 10.0 * (c + 1)))
    df = pd.DataFrame(rows, columns=["invoice", "customer_id", "invoice_date", "revenue"])
    df["invoice_date"] = pd.to_datetime(df["invoice_date"])
    df["customer_id"] = df["customer_id"].astype("category")
    df["is_cancellation"] = False
    df["country"] = pd.Categorical(["United Kingdom"] * len(df))
    df["lines"] = 1
    return df


def test_cohort_heatmaps_use_the_same_scale_more_is_darker():
    tables = cohort_tables(_orders())
    for values in (tables.retention, tables.revenue_retention):
        trace = cohort_heatmap(values, tables, title="")["data"][0]
        assert trace["colorscale"] == SEQUENTIAL
        _assert_more_is_darker(trace)


def test_agreement_heatmap_uses_the_same_scale():
    agreement = pd.DataFrame(
        [[30, 5, 0], [2, 40, 8], [0, 1, 14]],
        index=["Big spenders", "Regulars", "Lapsed"],
        columns=["Champions", "Loyal Customers", "Hibernating"],
    )
    trace = agreement_heatmap(agreement, 0.5)["data"][0]
    assert trace["colorscale"] == SEQUENTIAL
    _assert_more_is_darker(trace)


def test_calibration_deciles_marks_the_recommended_model():
    from dashapp.web.figures.clv import calibration_deciles

    deciles = pd.DataFrame(
        {
            "model": ["bgnbd"] * 3 + ["baseline"] * 3,
            "label": ["BG/NBD"] * 3 + ["Naive baseline (x/T)"] * 3,
            "decile": [1, 2, 3] * 2,
            "predicted": [0.1, 0.5, 2.0, 0.0, 0.8, 4.0],
            "actual": [0.2, 0.6, 1.8, 0.2, 0.6, 1.8],
        }
    )
    fig = calibration_deciles(deciles, "bgnbd")
    names = [t["name"] for t in fig["data"]]
    assert names == ["perfect forecast", "BG/NBD (recommended)", "Naive baseline (x/T)"]
    assert fig["data"][0]["x"] == [0, 4.0]  # the diagonal spans the largest value
    assert fig["data"][1]["line"]["width"] > fig["data"][2]["line"]["width"]
    assert list(fig["data"][2]["y"]) == [0.2, 0.6, 1.8]
    assert calibration_deciles(None)["data"] == []


def test_clv_interval_bars_switch_to_a_log_axis_for_one_giant():
    from dashapp.web.figures.clv import clv_interval_bars

    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "clv": [60000.0, 900.0, 500.0],
            "clv_lo": [55000.0, 800.0, 450.0],
            "clv_hi": [66000.0, 1000.0, 560.0],
        }
    )
    fig = clv_interval_bars(customers, "£")
    trace = fig["data"][0]
    assert trace["y"] == ["c", "b", "a"]  # best at the top
    assert list(trace["error_x"]["array"]) == [60.0, 100.0, 6000.0]
    assert list(trace["error_x"]["arrayminus"]) == [50.0, 100.0, 5000.0]
    assert fig["layout"]["xaxis"]["type"] == "log"
    close = customers.assign(clv=[600.0, 550.0, 500.0], clv_lo=500.0, clv_hi=700.0)
    assert clv_interval_bars(close)["layout"]["xaxis"]["type"] == "linear"


def _scored() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for c in range(300):
        for m in range(int(rng.integers(1, 12))):
            day = pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(rng.integers(0, 700)))
            rows.append((f"{c}-{m}", f"c{c}", day, float(rng.gamma(2.0, 50.0))))
    df = pd.DataFrame(rows, columns=["invoice", "customer_id", "invoice_date", "revenue"])
    df["customer_id"] = df["customer_id"].astype("category")
    df["is_cancellation"] = False
    df["country"] = pd.Categorical(["United Kingdom"] * len(df))
    df["lines"] = 1
    return rfm.rfm_scores(rfm.customer_rfm(df))


def test_every_rfm_chart_element_drills_down_to_its_own_customers():
    """A click on a cell, a tile or a bar selects exactly the customers it counts: the
    selection each point carries (the last item of its customdata), applied by the service
    the way the grid and the export apply it."""
    from dashapp.service.selection import select_rows
    from dashapp.web.figures.rfm import segment_bars, segment_treemap

    scored = _scored()
    table = scored.reset_index()
    counts, revenue = rfm.rf_grid_counts(scored)
    assert counts.sum() == len(table) and (counts > 0).sum() >= 15
    (trace,) = rf_heatmap(counts, revenue, rfm.segment_lookup(), "customers", "£")["data"]
    for r in range(5):
        for f in range(5):
            picked = select_rows(table, trace["customdata"][r][f])
            assert len(picked) == counts[r, f] == trace["z"][r][f]
            assert set(picked["r_score"]) <= {trace["y"][r]}
            assert set(picked["f_score"]) <= {trace["x"][f]}
    summary = rfm.segment_summary(scored)
    sizes = dict(zip(summary["segment"], summary["customers"], strict=True))
    (tiles,) = segment_treemap(summary, "£")["data"]
    for label, custom in zip(tiles["labels"], tiles["customdata"], strict=True):
        assert len(select_rows(table, custom[-1])) == sizes[label] == custom[0]
    for bars in segment_bars(summary)["data"]:
        for label, pick in zip(bars["y"], bars["customdata"], strict=True):
            assert len(select_rows(table, pick)) == sizes[label]


def test_every_clv_chart_element_drills_down_to_its_own_customers():
    """A distribution bar selects the customers it counts; a point of a Pareto curve the
    top share of customers by that curve's measure; a top-customer bar that customer."""
    from dashapp.analytics.clv.report import pareto
    from dashapp.service.selection import select_rows
    from dashapp.web.figures.clv import clv_distribution, pareto_curve, top_customers

    rng = np.random.default_rng(5)
    n = 2_000
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "clv": np.round(rng.lognormal(5, 1.5, n), 2),
            "monetary": np.round(rng.lognormal(6, 1, n), 2),
        }
    )
    customers.loc[:9, "clv"] = 0.4  # below the log axis: not on the chart
    (bars,) = clv_distribution(customers, "£", 12)["data"]
    picked = [len(select_rows(customers, c[-1])) for c in bars["customdata"]]
    assert picked == bars["y"]
    assert sum(picked) == n - 10
    clv_desc = np.sort(customers["clv"].to_numpy())[::-1]
    rev_desc = np.sort(customers["monetary"].to_numpy())[::-1]
    fig = pareto_curve(pareto(clv_desc, rev_desc))
    measures = {"Predicted CLV": "clv", "Historic net revenue": "monetary"}
    for trace in fig["data"]:
        if trace["name"] not in measures:
            continue
        column = measures[trace["name"]]
        for share, pick in list(zip(trace["x"], trace["customdata"], strict=True))[5::40]:
            chosen = select_rows(customers, pick)
            assert len(chosen) == int(np.ceil(n * round(share, 1) / 100))
            assert chosen[column].min() >= customers[column].drop(chosen.index).max()
    top = customers.nlargest(5, "clv").assign(
        rank=range(1, 6), p_alive=0.9, expected_purchases=2.0, expected_aov=50.0, orders=3
    )
    fig = top_customers(top, "£", 12)
    (bars,) = fig["data"]
    for label, custom in zip(bars["y"], bars["customdata"], strict=True):
        assert select_rows(customers, custom[-1])["customer_id"].tolist() == [label.split()[-1]]
    # every bar says its value (one large customer leaves the others as slivers), and the
    # axis leaves room for the largest label
    assert bars["text"] == [f"£{v:,.0f}" for v in bars["x"]]
    assert fig["layout"]["xaxis"]["range"][1] > max(bars["x"])


def test_product_charts_name_the_currency_and_the_best_customers_plainly():
    from dashapp.web.figures.products import best_vs_rest, top_bars

    table = pd.DataFrame({"stock_code": ["A", "B"], "description": ["MUG", "BAG"],
                          "revenue": [10.0, 5.0], "customers": [3, 2],
                          "best_share": [0.6, 0.4], "rest_share": [0.3, 0.7]})  # fmt: skip
    assert top_bars(table, "revenue", "Net revenue", "£")["layout"]["xaxis"]["title"]["text"] == (
        "Net revenue (£)"
    )
    assert top_bars(table, "customers", "Customers")["layout"]["xaxis"]["title"]["text"] == (
        "Customers"
    )
    names = [t["name"] for t in best_vs_rest(table, "Champions")["data"]]
    assert names[0] == "share of spend by Champions"


def test_the_diagnostics_chart_marks_the_suggested_k_and_the_page_offers_it():
    from dashapp.analytics.clustering import suggest_k
    from dashapp.service import ClusterDiagnostics
    from dashapp.web.components.clustering import k_advice
    from dashapp.web.figures.clustering_diagnostics import diagnostics_figure

    curve = pd.DataFrame({"k": [2, 3, 4, 5], "inertia": [9.0, 6.0, 5.0, 4.5],
                          "silhouette": [0.30, 0.41, 0.33, 0.25], "n_points": 100})  # fmt: skip
    diag = ClusterDiagnostics(kind="elbow", k=4, curve=curve,
                              suggestion=suggest_k(curve, "elbow", 4))  # fmt: skip
    marked = [t for t in diagnostics_figure(diag)["data"] if "Suggested" in t.get("name", "")]
    assert len(marked) == 1 and marked[0]["x"] == [3] and marked[0]["yaxis"] == "y2"
    text, button, style = k_advice(diag.suggestion)
    assert "k = 4 is a poor fit" in text and "0.41" in text and "0.33" in text
    assert button == "Use k = 3" and style == {}
    text, _, style = k_advice(suggest_k(curve, "elbow", 3))
    assert "the k chosen" in text and style == {"display": "none"}


def test_a_cohort_cell_drills_down_to_the_customers_it_counts():
    """Each retention cell [c, k] carries the selection of cohort c's customers who bought in
    month k: applied to the page's customer table it gives the cell's count."""
    from dashapp.analytics.cohorts import customer_cohorts
    from dashapp.service.selection import select_rows

    orders = _orders()
    tables = cohort_tables(orders)
    customers = customer_cohorts(orders)
    assert len(customers) == tables.sizes.sum()
    (trace, *_) = cohort_heatmap(tables.retention, tables, title="")["data"]
    checked = 0
    for r, row in enumerate(trace["customdata"]):
        for c, cell in enumerate(row):
            active = tables.active.iloc[r, c]
            if np.isnan(active):
                continue
            assert len(select_rows(customers, cell)) == active, cell
            checked += 1
    assert checked >= 6


def test_log_axes_tick_at_powers_of_ten_when_the_values_span_two_decades():
    from dashapp.web.figures.base import log_axis

    wide = log_axis([3.0, 40.0, 25_000.0], title={"text": "Monetary"})
    assert wide == {"type": "log", "title": {"text": "Monetary"}, "dtick": 1, "tickformat": "~s"}
    # a narrow span keeps Plotly's own ticks (powers of ten alone would leave one tick)
    assert log_axis([1.0, 2.0, 9.0]) == {"type": "log"}
    assert log_axis([0.0, -1.0, float("nan")]) == {"type": "log"}
    scored = _scored()
    fig = rfm_distributions(scored, "£")
    assert fig["layout"]["xaxis3"]["dtick"] == 1  # monetary spans several decades


# ------------------------------------------------------------------------------------------
# The customer's waterfall (the machine-learned forecast taken apart)
# ------------------------------------------------------------------------------------------
def _explained_customer(n_features: int = 11):
    """A Poisson gradient boosting model on the ML model's features (random data), and the
    explanation of one customer."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from dashapp.analytics.clv import ml

    names = list(ml.FEATURES[:n_features])
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.random((600, n_features)), columns=names)
    X.index = [f"c{i}" for i in range(len(X))]
    y = rng.poisson(np.exp(2 * X.iloc[:, 0] - X.iloc[:, 1] + X.iloc[:, 2] * X.iloc[:, 3]))
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=30, random_state=0)
    model.fit(X.to_numpy(), y)
    forecast = ml.MLForecast(model=model, message="", features=X)
    return ml.explain(forecast, "c7"), float(model.predict(X.loc[["c7"]].to_numpy())[0])


def test_waterfall_steps_add_up_to_the_prediction():
    from dashapp.web.figures.customer import explanation_waterfall

    explanation, predicted = _explained_customer()
    base, prediction = explanation.attrs["base_purchases"], explanation.attrs["prediction"]
    assert prediction == pytest.approx(predicted, rel=1e-9)
    fig = explanation_waterfall(explanation, 245, "£", top=6)
    (trace,) = fig["data"]
    assert trace["type"] == "waterfall"
    x, measure, labels = np.asarray(trace["x"]), trace["measure"], trace["y"]
    assert measure == ["absolute"] + ["relative"] * 7 + ["total"]
    assert labels[0] == "Average customer" and labels[-1] == "This customer"
    assert labels[-2] == "other 5 features"  # 11 features: 6 shown, 5 grouped
    assert x[0] == pytest.approx(base, abs=1e-4) and x[-1] == pytest.approx(prediction, abs=1e-4)
    # the steps add up to prediction - base, and the largest comes first
    assert x[1:-1].sum() == pytest.approx(prediction - base, abs=1e-3)
    assert explanation["purchases"].sum() == pytest.approx(prediction - base, rel=1e-9)
    assert explanation["shap"].abs().is_monotonic_decreasing
    # plain labels with the feature's value; the axis names the unit and the horizon
    first = explanation.iloc[0]
    assert labels[1].replace("<br>", " ").startswith(f"{first['label']} = ")
    assert all(len(line) <= 26 for label in labels for line in label.split("<br>"))
    assert fig["layout"]["xaxis"]["title"]["text"] == "Expected purchase days, next 245 days"


def test_waterfall_with_few_features_groups_nothing_and_formats_values():
    from dashapp.web.figures.customer import explanation_waterfall

    explanation, _ = _explained_customer(4)
    (trace,) = explanation_waterfall(explanation, 90)["data"]
    assert len(trace["y"]) == 6 and not any(s.startswith("other") for s in trace["y"])
    assert explanation_waterfall(None, 90)["data"] == []


def test_monthly_revenue_shows_no_empty_month_at_either_end():
    from dashapp.web.figures.overview import monthly_revenue

    months = pd.date_range("2010-01-01", periods=6, freq="MS")
    monthly = pd.DataFrame({"month": months, "revenue": [5.0, 6, 7, 8, 9, 4],
                            "customer_revenue": [4.0, 5, 6, 7, 8, 3],
                            "partial": [False] * 5 + [True]})  # fmt: skip
    low, high = pd.to_datetime(monthly_revenue(monthly)["layout"]["xaxis"]["range"])
    # half a month either side of the first and last bars' centres, no more
    assert pd.Timestamp("2009-12-01") < low < months[0] - pd.Timedelta(days=12)
    assert months[-1] + pd.Timedelta(days=12) < high < pd.Timestamp("2010-07-01")


@pytest.mark.parametrize("months", [1, 2, 8, 9, 24, 25, 48, 49, 96, 97, 250])
def test_month_axis_labels_at_most_nine_periods(months):
    """A fixed label step (Plotly's automatic one fed a loop with its automatic margins):
    a phone fits the labels of any range, and the step is a whole number of months."""
    axis = month_axis(months)
    step = int(axis["dtick"].removeprefix("M"))
    assert step >= 1 and (step in (1, 3, 6, 12) or step % 12 == 0)
    assert -(-months // step) <= 9  # labels (periods) shown
    assert axis["tickformat"] == "%b<br>%Y" and axis["ticklabelmode"] == "period"


def test_migration_sizes_use_a_fixed_month_step():
    ends = pd.date_range("2010-01-31", periods=25, freq="ME")
    monthly = pd.DataFrame(
        [(e, s, 10 + i) for i, e in enumerate(ends) for s in ("Champions", "Lapsed")],
        columns=["month_end", "state", "customers"],
    )
    fig = sizes(monthly)
    assert fig["layout"]["xaxis"]["dtick"] == "M6"
    assert fig["layout"]["xaxis"]["title"]["text"] == "Month end"
    assert [t["x"][0] for t in fig["data"]] == ["2010-01-31"] * len(fig["data"])


def test_label_room_holds_the_longest_line_of_the_labels():
    from dashapp.web.figures.base import CHAR_PX, label_room

    labels = ["Average customer", "Purchases in the<br>last ninety days = 12", "x"]
    assert label_room(labels, pad=0) == int(np.ceil(len("last ninety days = 12") * CHAR_PX))
    assert label_room([], pad=12) == 12
    assert label_room(["abc"]) > label_room(["ab"])
