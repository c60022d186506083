"""The CLV page: the fitted purchase and spend models, per-customer CLV, the holdout check.

The purchase log is the purchase invoices with a customer id of the filtered invoice table
(amount = invoice revenue); the models' time unit is the week (7 days). The analysed range is
the dataset's invoice span intersected with the date filter (``holdout.analysed_range``).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from dashapp.analytics import clv as models
from dashapp.analytics.clv import compare, holdout, ml, report, uncertainty
from dashapp.ingest.errors import DataLoadError
from dashapp.service import params, registry, store
from dashapp.service.caching import memoized
from dashapp.service.filters import Filters
from dashapp.service.results import View, empty_reason
from dashapp.service.store import DataPreparing, filtered_orders, filtered_products
from dashapp.service.views.dataset import analysed_range
from dashapp.service.views.rfm import rfm_table

log = logging.getLogger(__name__)

#: The invoice table's columns the purchase log and the models read.
PURCHASE_COLUMNS = {
    "customer_col": "customer_id",
    "date_col": "invoice_date",
    "amount_col": "revenue",
}
TIME_UNIT = "W"
#: Rows of the top-customers chart.
TOP_N = 20


@dataclass(frozen=True, kw_only=True)
class ClvFit(View):
    """Calibration summary and fitted models (``purchase``/``spend`` are None when no fit was
    tried). ``notes`` are warnings that do not block; ``reason`` blocks predictions (no
    customers, too few repeat customers, a fit that did not converge)."""

    model: str
    summary: pd.DataFrame | None = None
    purchase: Any = None
    spend: Any = None
    notes: list[str] = field(default_factory=list)
    n_customers: int = 0
    n_repeat: int = 0
    calibration_end: pd.Timestamp | None = None
    observation_end: pd.Timestamp | None = None
    fit_seconds: float = float("nan")  # wall time of the purchase-model fit


@dataclass(frozen=True, kw_only=True)
class ClvModelView(View):
    """The fitted model on the whole range: ``params`` (model, parameter, estimate,
    std_error, meaning), ``stats`` (log-likelihood, customers, convergence...), ``derived``
    (sentences), ``messages`` (the fits' own), ``p_alive`` (grid of P(alive) by repeat
    purchases and recency, ``attrs["T"]``) and ``independence`` (the Gamma-Gamma check).
    Unlike other views, a model that could not be fitted still reports what is known."""

    notes: list[str]
    messages: list[str]
    params: pd.DataFrame
    stats: pd.DataFrame
    derived: list[str]
    n_customers: int
    n_repeat: int
    calibration_end: pd.Timestamp | None
    p_alive: pd.DataFrame | None
    independence: report.Independence | None


@dataclass(frozen=True, kw_only=True)
class ClvView(View):
    """Per-customer CLV (basic and predicted) for the whole range: ``customers``
    (``report.CUSTOMER_COLUMNS``, best first), ``top`` (the first :data:`TOP_N`),
    ``pareto``, ``kpis`` (:class:`~dashapp.analytics.clv.report.ClvKpis`), ``basic`` (the
    measures compared), ``monthly_discount`` (rate per month)."""

    notes: list[str] = field(default_factory=list)
    customers: pd.DataFrame | None = None
    top: pd.DataFrame | None = None
    pareto: pd.DataFrame | None = None
    kpis: report.ClvKpis | None = None
    basic: pd.DataFrame | None = None
    monthly_discount: float | None = None


@dataclass(frozen=True, kw_only=True)
class ClvValidation(View):
    """The holdout check: ``scorecard`` (rows total_purchases, total_revenue, mae_purchases,
    spearman_purchases, spearman_revenue, top10_revenue_share, n_customers; columns model,
    baseline, actual), ``tracking`` (weekly repeat purchases, ``holdout`` marks the weeks
    after the cut), ``params`` of the calibration fit, dates as ``YYYY-MM-DD``."""

    calibration_end: str | None = None
    observation_end: str | None = None
    is_default: bool | None = None
    holdout_weeks: float | None = None
    n_customers: int = 0
    scorecard: pd.DataFrame | None = None
    tracking: pd.DataFrame | None = None
    params: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def clv_range(filters: Filters) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last day analysed (see :func:`~dashapp.service.views.dataset.analysed_range`);
    None when empty."""
    return analysed_range(filters)


def clv_calibration_end(filters: Filters, requested: str | None = None) -> tuple[str, bool]:
    """Calibration end of the holdout check and whether it is the default (ValueError with
    the allowed dates when ``requested`` cannot be used)."""
    return holdout.calibration_end(clv_range(filters), requested)


def clv_fit(filters: Filters, model="bgnbd", calibration_end=None) -> ClvFit:
    """Calibration summary and fitted purchase (``model``) and Gamma-Gamma spend models, on
    the whole range or, with ``calibration_end`` (``YYYY-MM-DD``), up to that day."""
    model = params.CLV_MODEL.parse(model)
    return _clv_fit(filters, model, params.CLV_CALIBRATION_END.parse(calibration_end))


@memoized
def _clv_fit(dataset, version, start, end, countries, rules, model, calibration_end) -> ClvFit:
    filters = Filters.of(dataset, start, end, countries, rules)
    rng = clv_range(filters)
    if rng is None:
        return ClvFit(model=model, reason=empty_reason(0))
    cal_end = pd.Timestamp(calibration_end) if calibration_end else rng[1]
    obs_end = rng[1] if calibration_end else None
    summary = _summary(filters, cal_end, obs_end)
    summary.index = summary.index.astype(str)
    n_repeat = int((summary["frequency"] > 0).sum())
    known = dict(
        model=model,
        summary=summary,
        n_customers=len(summary),
        n_repeat=n_repeat,
        calibration_end=cal_end,
        observation_end=obs_end,
    )
    if summary.empty:
        return ClvFit(reason=empty_reason(0), **known)
    if n_repeat < holdout.MIN_REPEAT_CUSTOMERS:
        before: str | None = f"{cal_end:%Y-%m-%d}" if calibration_end else None
        label = models.MODEL_LABELS[model]
        few = holdout.too_few_repeat(len(summary), n_repeat, label, before)
        return ClvFit(reason=few, **known)
    started = time.perf_counter()
    purchase = models.MODELS[model](
        summary["frequency"], summary["recency"], summary["T"], time_unit=TIME_UNIT
    )
    fit_seconds = time.perf_counter() - started
    spend = models.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    reason: str | None = None
    notes: list[str] = []
    for fit in (purchase, spend):
        if not fit.converged:
            reason = fit.message
            break
        # Converged, but with something the analyst should know: a penalty was needed, spend
        # rows were excluded, or q <= 1 (no population mean spend).
        excluded = int(getattr(fit, "n_excluded", 0))
        if fit.penalizer > 0 or excluded or (fit is spend and fit.params["q"] <= 1):
            notes.append(fit.message)
    return ClvFit(
        reason=reason,
        purchase=purchase,
        spend=spend,
        notes=notes,
        fit_seconds=fit_seconds,
        **known,
    )


def _summary(filters: Filters, cal_end: pd.Timestamp, obs_end: pd.Timestamp | None):
    """The calibration summary (weeks) of the filtered invoice table."""
    return models.calibration_summary(
        holdout.purchase_log(filtered_orders(filters)),
        **PURCHASE_COLUMNS,
        calibration_end=cal_end,
        observation_end=obs_end,
        time_unit=TIME_UNIT,
    )


def clv_model(filters: Filters, model="bgnbd") -> ClvModelView:
    """The fitted model on the whole range, as the CLV page shows it."""
    return _clv_model(filters, params.CLV_MODEL.parse(model))


@memoized
def _clv_model(dataset, version, start, end, countries, rules, model) -> ClvModelView:
    fit = clv_fit(Filters.of(dataset, start, end, countries, rules), model)
    purchase, spend, summary = fit.purchase, fit.spend, fit.summary
    return ClvModelView(
        reason=fit.reason,
        notes=fit.notes,
        messages=[f.message for f in (purchase, spend) if f is not None],
        params=report.params_table(model, purchase, spend),
        stats=report.fit_stats(purchase, spend),
        derived=report.derived(model, purchase),
        n_customers=fit.n_customers,
        n_repeat=fit.n_repeat,
        calibration_end=fit.calibration_end,
        p_alive=report.p_alive_grid(purchase, summary) if purchase is not None else None,
        independence=report.independence(summary),
    )


def clv_view(
    filters: Filters,
    model=params.CLV_MODEL.default,
    horizon_months=params.CLV_HORIZON.default,
    margin_pct=params.CLV_MARGIN.default,
    annual_discount_pct=params.CLV_DISCOUNT.default,
    lifespan_years=params.CLV_LIFESPAN.default,
    churn_days=params.CLV_CHURN.default,
) -> ClvView:
    """Per-customer CLV (basic and predicted), the churn probabilities over ``churn_days``
    and their summaries, for the whole range.

    The models are fitted on the whole filtered range (a refit only when the filters or the
    model change) and predict the next ``horizon_months`` months of 30 days, discounted
    monthly at ``(1 + annual_discount_pct/100)^(1/12) - 1``, times ``margin_pct`` %. Every
    argument is validated against its declaration in :mod:`dashapp.service.params`.
    """
    raw = (model, horizon_months, margin_pct, annual_discount_pct, lifespan_years, churn_days)
    values = params.parse_all(zip(params.CLV_VALUE_PARAMS, raw, strict=True))
    return _clv_view(filters, *values)


@memoized
def _clv_view(
    dataset, version, start, end, countries, rules, model, horizon, margin, discount, lifespan,
    churn_days,
) -> ClvView:  # fmt: skip
    filters = Filters.of(dataset, start, end, countries, rules)
    fit = clv_fit(filters, model)
    monthly_discount = (1 + discount / 100) ** (1 / 12) - 1
    if fit.reason:
        return ClvView(reason=fit.reason, notes=fit.notes, monthly_discount=monthly_discount)
    values = report.customer_values(
        fit.purchase,
        fit.spend,
        fit.summary,
        rfm_table(filters),
        horizon_months=horizon,
        margin_pct=margin,
        annual_discount_pct=discount,
        lifespan_years=lifespan,
        n_repeat=fit.n_repeat,
        calibration_end=fit.calibration_end,
        churn_days=churn_days,
    )
    return ClvView(
        notes=fit.notes,
        customers=values.customers,
        top=values.customers.head(TOP_N),
        pareto=values.pareto,
        kpis=values.kpis,
        basic=values.basic,
        monthly_discount=monthly_discount,
    )


def clv_validation(filters: Filters, model="bgnbd", calibration_end=None) -> ClvValidation:
    """Holdout check: fit up to ``calibration_end`` (``YYYY-MM-DD``; None = the default of
    :func:`clv_calibration_end`), forecast the rest of the range, compare."""
    model = params.CLV_MODEL.parse(model)
    return _clv_validation(filters, model, params.CLV_CALIBRATION_END.parse(calibration_end))


@memoized
def _clv_validation(dataset, version, start, end, countries, rules, model, calibration_end):
    filters = Filters.of(dataset, start, end, countries, rules)
    try:
        cal, is_default = clv_calibration_end(filters, calibration_end)
    except ValueError as exc:
        return ClvValidation(reason=str(exc))
    fit = clv_fit(filters, model, cal)
    obs = fit.observation_end
    split = ClvValidation(
        calibration_end=cal,
        is_default=is_default,
        n_customers=fit.n_customers,
        observation_end=None if obs is None else f"{obs:%Y-%m-%d}",
        holdout_weeks=None if obs is None else (obs - pd.Timestamp(cal)).days / 7,
    )
    if fit.reason:
        return replace(split, reason=fit.reason)
    tracking = models.tracking_series(
        holdout.purchase_log(filtered_orders(filters)),
        customer_col="customer_id",
        date_col="invoice_date",
        fit=fit.purchase,
        calibration_end=cal,
        observation_end=obs,
        freq="W",
    )
    return replace(
        split,
        notes=fit.notes,
        params=report.params_table(model, fit.purchase, fit.spend),
        scorecard=models.holdout_scorecard(fit.summary, fit.purchase, fit.spend),
        tracking=tracking,
    )


# ------------------------------------------------------------------------------------------
# Model comparison and intervals (computed when their panels are opened)
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ClvComparison(View):
    """Every purchase model and the naive baseline on the holdout
    (:func:`dashapp.analytics.clv.compare.compare_models`): ``table`` (one row per
    candidate, the measures and, when the holdout is long enough, the churn check over
    ``churn_days``), ``deciles`` (calibration by decile), ``winner`` / ``recommendation``.
    ``notes`` say which models could not be fitted or why the churn check is missing."""

    calibration_end: str | None = None
    observation_end: str | None = None
    churn_days: int = 0
    table: pd.DataFrame | None = None
    deciles: pd.DataFrame | None = None
    winner: str | None = None
    recommendation: str = ""
    n_customers: int = 0
    notes: list[str] = field(default_factory=list)
    importance: pd.DataFrame | None = None  # the ML model's global SHAP importance


#: Key and label of the machine-learned candidate in the comparison.
ML_KEY, ML_LABEL = "ml", "Gradient boosting (ML)"


def clv_comparison(
    filters: Filters, calibration_end=None, churn_days=params.CLV_CHURN.default
) -> ClvComparison:
    """Fit every purchase model up to ``calibration_end`` (None = the default split) and
    compare their holdout forecasts, and their churn probabilities over ``churn_days``."""
    cal = params.CLV_CALIBRATION_END.parse(calibration_end)
    return _clv_comparison(filters, cal, params.CLV_CHURN.parse(churn_days))


@memoized
def _clv_comparison(dataset, version, start, end, countries, rules, calibration_end, churn):
    filters = Filters.of(dataset, start, end, countries, rules)
    try:
        cal, _ = clv_calibration_end(filters, calibration_end)
    except ValueError as exc:
        return ClvComparison(reason=str(exc))
    fits = {key: clv_fit(filters, key, cal) for key in models.MODELS}
    usable = {k: f for k, f in fits.items() if f.purchase is not None and f.summary is not None}
    if not usable:
        return ClvComparison(reason=next(iter(fits.values())).reason, calibration_end=cal)
    first = next(iter(usable.values()))
    obs = first.observation_end
    notes = [
        f.reason or f.purchase.message  # the fits' messages start with the model's name
        for f in usable.values()
        if not f.purchase.converged or f.purchase.penalizer > 0
    ]
    forecast = clv_ml(filters, cal)
    if not forecast.converged:
        notes.append(forecast.message)
    comparison = compare.compare_models(
        first.summary,
        {k: (f.purchase, f.fit_seconds) for k, f in usable.items()},
        models.MODEL_LABELS,
        {ML_KEY: (ML_LABEL, forecast.predictions, forecast.fit_seconds)},
    )
    table = comparison.table
    holdout_days = (obs - pd.Timestamp(cal)).days
    if holdout_days < churn:
        notes.append(
            f"The holdout ({holdout_days} days) is shorter than the churn horizon H "
            f"({churn} days), so the churn probabilities cannot be checked on it: choose a "
            "shorter horizon or an earlier calibration date."
        )
    else:
        cut = pd.Timestamp(cal) + pd.Timedelta(days=churn)
        short = _summary(filters, pd.Timestamp(cal), cut)
        converged = {k: f.purchase for k, f in usable.items() if f.purchase.converged}
        churn_table = compare.churn_check(short, converged, churn / 7.0)
        table = table.join(churn_table)
    return ClvComparison(
        calibration_end=cal,
        observation_end=f"{obs:%Y-%m-%d}",
        churn_days=churn,
        table=table,
        deciles=comparison.deciles,
        winner=comparison.winner,
        recommendation=comparison.reason,
        n_customers=comparison.n_customers,
        notes=notes,
        importance=ml.importance(forecast) if forecast.converged else None,
    )


def clv_ml(filters: Filters, calibration_end=None) -> ml.MLForecast:
    """The machine-learned forecast (:mod:`dashapp.analytics.clv.ml`). With
    ``calibration_end`` it forecasts the holdout after that day (the comparison); without,
    the customers' next ``L`` days after the end of the range, ``L`` being the default
    holdout's length, trained on the split ``(end - L, end]``. The default view's (no
    filter, default rules) is trained once per data version and process, in the background
    once the product lines are prepared (:func:`train_default_ml_later`), and kept in the
    process: a customer's explanation then costs its SHAP values only."""
    cal = params.CLV_CALIBRATION_END.parse(calibration_end)
    if not cal and filters == Filters(dataset=filters.dataset):
        version = registry.dataset_version(filters.dataset)
        key = ("ml", filters.dataset, version, filters.rules)
        return store.held(key, lambda: _train_ml(filters, cal))
    return _clv_ml(filters, cal)


_ml_trainer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ml")


def train_default_ml_later(dataset: str, rules: str) -> None:
    """Train the default view's machine-learned model in the background (a hook of the
    store, called once a file's product lines are prepared)."""
    if rules == Filters(dataset=dataset).rules:
        _ml_trainer.submit(_train_default_ml, dataset)


def _train_default_ml(dataset: str) -> None:
    try:
        clv_ml(Filters(dataset=dataset))
    except Exception as exc:  # the request that needs it says why (DataLoadError, ...)
        log.info("the default machine-learned model of %s was not trained: %s", dataset, exc)


store.when_products_ready(train_default_ml_later)


@memoized
def _clv_ml(dataset, version, start, end, countries, rules, calibration_end) -> ml.MLForecast:
    return _train_ml(Filters.of(dataset, start, end, countries, rules), calibration_end)


def _train_ml(filters: Filters, calibration_end) -> ml.MLForecast:
    rng = clv_range(filters)
    if rng is None:
        return ml.MLForecast(model=None, message=empty_reason(0) or "No customers.")
    if calibration_end:
        cal = pd.Timestamp(calibration_end)
        days = (rng[1] - cal).days
    else:
        try:
            default, _ = clv_calibration_end(filters, None)
        except ValueError as exc:
            message = f"The machine-learned model trains on an earlier split of the range: {exc}"
            return ml.MLForecast(model=None, message=message)
        cal, days = rng[1], (rng[1] - pd.Timestamp(default)).days
    summary = clv_fit(filters, "bgnbd", calibration_end).summary
    if summary is None or summary.empty:
        return ml.MLForecast(model=None, message=empty_reason(0) or "No customers.")
    return ml.ml_forecast(
        _ml_sources(filters),
        summary,
        calibration_end=cal,
        holdout_days=days,
        data_start=rng[0],
    )


def _ml_sources(filters: Filters) -> ml.Sources:
    """The machine-learned model's tables: the purchase log, the invoice table (returns,
    country) and the product lines. Product lines still being prepared (a database or Spark
    table's first request) raise DataPreparing: the page says so and nothing is cached; when
    they cannot be made (the engine's memory), the model is fitted without the product mix
    and says so."""
    orders = filtered_orders(filters)
    try:
        lines, note = filtered_products(filters), ""
    except DataPreparing:
        raise
    except DataLoadError as exc:
        lines, note = None, str(exc)
    return ml.Sources(
        holdout.purchase_log(orders),
        **PURCHASE_COLUMNS,
        orders=orders,
        lines=lines,
        lines_note=note,
    )


def customer_explanation(filters: Filters, customer_id) -> pd.DataFrame:
    """Why the machine-learned model expects what it does of one customer, for a waterfall:
    the features' values and exact SHAP contributions (log scale), largest first; ``attrs``
    ``base``, ``raw``, ``prediction`` (expected purchase days in the next ``horizon_days``),
    ``horizon_days`` and ``message`` (how the model was trained, the features left out).
    ValueError (the model could not be trained: the reason) or
    KeyError (unknown customer) otherwise. For the customer page."""
    forecast = clv_ml(filters)
    out = ml.explain(forecast, str(customer_id))
    assert forecast.train_cutoff is not None  # a trained model has its split
    rng = clv_range(filters)
    assert rng is not None
    out.attrs["horizon_days"] = (rng[1] - forecast.train_cutoff).days
    out.attrs["message"] = forecast.message
    return out


@dataclass(frozen=True, kw_only=True)
class ClvIntervalsView(View):
    """Intervals of the CLV prediction from the parameters' uncertainty
    (:func:`dashapp.analytics.clv.uncertainty.clv_intervals`): ``totals`` (total CLV,
    total expected purchases, mean P(alive): estimate, lo, hi), ``customers`` (per customer,
    best predicted CLV first: customer_id and each measure with ``_lo`` / ``_hi``), ``level``
    and ``n_draws``; ``holdout`` is the check of the holdout total's prediction interval on
    the default split (None when the split is not possible), ``notes`` anything skipped."""

    level: float = 0.9
    n_draws: int = 0
    totals: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    holdout: dict | None = None
    notes: list[str] = field(default_factory=list)


def clv_intervals(
    filters: Filters,
    model=params.CLV_MODEL.default,
    horizon_months=params.CLV_HORIZON.default,
    margin_pct=params.CLV_MARGIN.default,
    annual_discount_pct=params.CLV_DISCOUNT.default,
    level_pct=params.CLV_LEVEL.default,
) -> ClvIntervalsView:
    """The intervals of predicted CLV, expected purchases and P(alive) for the CLV page's
    settings, per customer and in total, at ``level_pct`` % (80 or 90)."""
    raw = (model, horizon_months, margin_pct, annual_discount_pct)
    values = params.parse_all(zip(params.CLV_VALUE_PARAMS[:4], raw, strict=True))
    return _clv_intervals(filters, *values, params.CLV_LEVEL.parse(level_pct))


@memoized
def _clv_intervals(dataset, version, start, end, countries, rules, model, horizon, margin,
                   discount, level_pct) -> ClvIntervalsView:  # fmt: skip
    filters = Filters.of(dataset, start, end, countries, rules)
    fit = clv_fit(filters, model)
    level = int(level_pct) / 100
    if fit.reason:
        return ClvIntervalsView(reason=fit.reason, level=level)
    try:
        result = uncertainty.clv_intervals(
            fit.purchase,
            fit.spend,
            fit.summary,
            horizon_months=horizon,
            annual_discount_rate=discount / 100,
            margin=margin / 100,
            level=level,
        )
    except ValueError as exc:
        return ClvIntervalsView(reason=f"No intervals: {exc}.", level=level)
    customers = result.customers.sort_values("clv", ascending=False, kind="stable")
    customers = customers.rename_axis("customer_id").reset_index()
    holdout_check, notes = _holdout_interval(filters, model, level)
    return ClvIntervalsView(
        level=level,
        n_draws=result.n_draws,
        totals=result.totals,
        customers=customers,
        holdout=holdout_check,
        notes=notes,
    )


def _holdout_interval(filters: Filters, model: str, level: float) -> tuple[dict | None, list]:
    """Does the actual holdout total fall in the prediction interval (default split)?"""
    try:
        cal, _ = clv_calibration_end(filters, None)
    except ValueError as exc:
        return None, [f"No holdout check of the intervals: {exc}"]
    fit = clv_fit(filters, model, cal)
    if fit.reason:
        return None, [f"No holdout check of the intervals: {fit.reason}"]
    try:
        check = uncertainty.holdout_total_interval(fit.purchase, fit.summary, level=level)
    except ValueError as exc:
        return None, [f"No holdout check of the intervals: {exc}."]
    return {**check, "calibration_end": cal}, []
