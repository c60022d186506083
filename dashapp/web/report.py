"""A self-contained HTML summary for e-mailing (``python -m dashapp report``): the Overview
KPIs and the key chart of each page, drawn from the same views and figure builders as the
pages, as static pictures (no zoom or hover: ``staticPlot``). plotly.js is embedded once, so
the file opens offline and loads nothing from the network."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

from dashapp import service
from dashapp.service import params
from dashapp.web.figures.clustering import revenue_treemap
from dashapp.web.figures.clv import clv_distribution
from dashapp.web.figures.cohorts import cohort_heatmap
from dashapp.web.figures.overview import monthly_revenue
from dashapp.web.figures.rfm import segment_treemap
from dashapp.web.format import money, number, percent

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:1100px;padding:16px;color:#212529}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #dee2e6;padding-bottom:4px;
margin-top:2rem}.kpis{display:flex;flex-wrap:wrap;gap:12px}.kpi{border:1px solid #dee2e6;
border-radius:6px;padding:8px 12px;min-width:150px}.kpi b{display:block;font-size:1.3rem}
.muted{color:#6c757d;font-size:.9rem}table{border-collapse:collapse;font-size:.9rem}
td,th{border-bottom:1px solid #dee2e6;padding:3px 8px;text-align:left}
.scroll{overflow-x:auto}
"""
#: Static charts: no mode bar, no hover, no zoom; the picture is what is mailed.
_CONFIG = {"staticPlot": True, "responsive": True}


def _kpis(items: list[tuple[str, str, str]]) -> str:
    cells = "".join(
        f'<div class="kpi"><span class="muted">{html.escape(title)}</span>'
        f'<b>{html.escape(value)}</b><span class="muted">{html.escape(hint)}</span></div>'
        for title, value, hint in items
    )
    return f'<div class="kpis">{cells}</div>'


def _chart(figure: dict) -> str:
    body = pio.to_html(figure, include_plotlyjs=False, full_html=False, config=_CONFIG)
    return f'<div class="chart">{body}</div>'


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f'<div class="scroll"><table><tr>{head}</tr>{rows}</table></div>'


def _section(title: str, reason: str | None, body: str) -> str:
    inner = f'<p class="muted">{html.escape(reason)}</p>' if reason else body
    return f"<section><h2>{html.escape(title)}</h2>{inner}</section>"


def _overview(filters, currency: str) -> str:
    view = service.overview(filters)
    k = view.kpis
    cards = _kpis(
        [
            ("Net revenue", money(k.net_revenue, currency), "returns netted"),
            ("Customers", number(k.customers), "with a purchase"),
            ("Orders", number(k.orders), "purchase invoices"),
            ("Average order value", money(k.aov, currency, 2), "per invoice"),
            ("Repeat customers", percent(k.repeat_rate), "2+ orders in the range"),
        ]
    )
    return _section(
        "Overview", view.reason, cards + _chart(monthly_revenue(view.monthly, currency))
    )


def _rfm(filters, currency: str) -> str:
    view = service.rfm_view(filters)
    if view.reason:
        return _section("RFM segments", view.reason, "")
    summary = view.summary
    table = pd.DataFrame(
        {
            "Segment": summary["segment"],
            "Customers": [number(v) for v in summary["customers"]],
            "Revenue": [money(v, currency) for v in summary["revenue"]],
        }
    )
    return _section(
        "RFM segments", None, _chart(segment_treemap(summary, currency)) + _table(table)
    )


def _clv(filters, currency: str, settings: tuple) -> str:
    model, horizon, margin, discount = settings
    view = service.clv_view(filters, model, horizon, margin, discount)
    if view.reason or view.kpis is None:
        return _section("Predicted CLV", view.reason or "No prediction.", "")
    k = view.kpis
    label = dict(params.CLV_MODEL.choices)[params.CLV_MODEL.parse(model)]
    cards = _kpis(
        [
            ("Total predicted CLV", money(k.total_clv, currency), f"next {horizon} months"),
            ("Median CLV", money(k.median_clv, currency, 2), "per customer"),
            ("Mean P(alive)", percent(k.mean_p_alive), "chance still a customer"),
            ("Top 20% share", percent(k.top20_share), "of predicted CLV"),
        ]
    )
    note = (
        f'<p class="muted">{html.escape(label)} + Gamma-Gamma, margin {float(margin):g}%, '
        f"discount {float(discount):g}% a year.</p>"
    )
    chart = _chart(clv_distribution(view.customers, currency, int(horizon)))
    return _section("Predicted CLV", None, cards + note + chart)


def _cohorts(filters) -> str:
    view = service.cohorts_view(filters)
    if view.reason or view.tables is None:
        return _section("Cohorts", view.reason or "No cohorts.", "")
    t = view.tables
    chart = cohort_heatmap(t.retention, t, title="", zmax=None, hover_value="customers active")
    return _section("Cohort retention", None, _chart(chart))


def _clusters(filters, currency: str, method, k) -> str:
    view = service.cluster_view(filters, method=method, k=k)
    if view.reason or view.profiles is None:
        return _section("Clusters", view.reason or "No clusters.", "")
    note = f'<p class="muted">{html.escape(view.method_label)}, {view.n_clusters} clusters.</p>'
    return _section("Clusters", None, note + _chart(revenue_treemap(view.profiles, currency)))


def _actions(filters, currency: str, settings: tuple) -> str:
    result = service.action_list(filters, *settings)
    if result.reason or result.table is None:
        return _section("Action list", result.reason or "No customers.", "")
    top = result.table.head(10)
    table = pd.DataFrame(
        {
            "Customer": top["customer_id"],
            "Value at stake": [money(v, currency, 2) for v in top["value_at_stake"]],
            "Predicted CLV": [money(v, currency, 2) for v in top["clv"]],
            "P(alive)": [number(v, 3) for v in top["p_alive"]],
            "Segment": top["segment"],
            "Recommended action": top["recommended_action"],
        }
    )
    total = money(result.table["value_at_stake"].sum(), currency)
    intro = (
        f"<p>{number(len(result.table))} customers; total value at stake "
        f"<b>{html.escape(total)}</b>. The ten with most at stake:</p>"
    )
    return _section("Action list", None, intro + _table(table))


def report_html(filters: service.Filters, settings: tuple) -> str:
    """The report of ``filters`` with ``settings`` = (CLV model, horizon, margin, discount,
    clustering method, k, churn horizon), as one HTML document."""
    currency = service.currency(filters.dataset)
    label = service.dataset_info(filters.dataset).label
    rng = f"{filters.start or 'first invoice'} to {filters.end or 'last invoice'}"
    where = ", ".join(filters.countries) or "all countries"
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        _overview(filters, currency),
        _rfm(filters, currency),
        _clv(filters, currency, settings[:4]),
        _cohorts(filters),
        _clusters(filters, currency, *settings[4:6]),
        _actions(filters, currency, settings),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Customer summary: {html.escape(label)}</title><style>{_STYLE}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>Customer summary: {html.escape(label)}</h1>"
        f'<p class="muted">{html.escape(rng)}; {html.escape(where)}. Made {made}.</p>'
        + "".join(parts)
        + "</body></html>"
    )
