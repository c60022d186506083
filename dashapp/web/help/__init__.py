"""The documentation page's text (pure): Markdown files in ``dashapp/help/`` with
placeholders that are filled from the same data the code uses (segment grid, cleaning rules,
column aliases, cluster vocabulary, model formulas), so the documentation cannot drift from
the behaviour."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

HELP_DIR = Path(__file__).resolve().parent

#: (slug, title) of the documentation sections, in reading order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("cleaning", "Data and cleaning"),
    ("rfm", "RFM segments"),
    ("clv", "Customer lifetime value"),
    ("cohorts", "Cohorts"),
    ("clustering", "Clustering"),
    ("actions", "Action list"),
    ("campaigns", "Exports, CRM files and campaigns"),
    ("migration", "Segment migration"),
    ("customer", "Customer page"),
    ("countries", "Countries"),
    ("products", "Products"),
)


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table (cells' pipes escaped)."""

    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in rec) + " |" for rec in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _span(a: int, b: int) -> str:
    return f"{a}" if a == b else f"{a}-{b}"


def segment_grid() -> str:
    from dashapp.analytics.rfm import segment_lookup

    cells = segment_lookup()
    frame = pd.DataFrame(
        [[f"**R {r}**"] + [cells[r - 1, f - 1] for f in range(1, 6)] for r in range(5, 0, -1)],
        columns=["", "F 1", "F 2", "F 3", "F 4", "F 5"],
    )
    return markdown_table(frame)


def segment_actions() -> str:
    from dashapp.analytics.rfm import SEGMENT_GRID

    g = SEGMENT_GRID
    return markdown_table(
        pd.DataFrame(
            {
                "Segment": g["segment"],
                "R": [_span(*r) for r in g["r_range"]],
                "F": [_span(*f) for f in g["f_range"]],
                "Who they are": g["description"],
                "Recommended action": g["action"],
            }
        )
    )


def cleaning_rules() -> str:
    from dashapp.ingest.cleaning import RULES

    return markdown_table(
        pd.DataFrame(
            [
                (i + 1, title, meaning, action)
                for i, (_, title, meaning, action) in enumerate(RULES)
            ],
            columns=["#", "Rule", "What it means", "What happens to the lines"],
        )
    )


def non_product_codes() -> str:
    from dashapp.ingest.cleaning import DEFAULT_NON_PRODUCT_CODES

    return ", ".join(f"`{c}`" for c in DEFAULT_NON_PRODUCT_CODES)


def type_stop_words() -> str:
    from dashapp.ingest.engine.product_type import PRODUCT_TYPE_STOP_WORDS

    return ", ".join(f"`{w}`" for w in PRODUCT_TYPE_STOP_WORDS)


def column_aliases() -> str:
    from dashapp.ingest import schema

    rows = []
    for column, aliases in schema.ALIASES.items():
        rows.append(
            (
                f"`{column}`",
                "yes" if column in schema.REQUIRED_COLUMNS else "no",
                ", ".join(f"`{a}`" for a in aliases),
            )
        )
    return markdown_table(pd.DataFrame(rows, columns=["Column", "Required", "Accepted headers"]))


def clv_parameters() -> str:
    """The CLV models' parameters and what they mean (the table the CLV page shows)."""
    from dashapp.analytics.clv import MODEL_LABELS
    from dashapp.analytics.clv.report import PARAM_MEANING, PARAM_SYMBOL

    labels = {**MODEL_LABELS, "gamma_gamma": "Gamma-Gamma"}
    return markdown_table(
        pd.DataFrame(
            [
                (labels[model], PARAM_SYMBOL.get(name, name), meaning)
                for (model, name), meaning in PARAM_MEANING.items()
            ],
            columns=["Model", "Parameter", "Meaning"],
        )
    )


def _holdout_constant(name: str) -> Callable[[], str]:
    def value() -> str:
        from dashapp.analytics.clv import holdout

        return f"{getattr(holdout, name):g}"

    return value


def settings_table(*keys: str) -> Callable[[], str]:
    """The table of some page settings, from their declarations (key, default, limits,
    help): the same declarations build the controls and validate the values."""

    def table() -> str:
        from dashapp.service import params

        return params.markdown_table([params.BY_KEY[k] for k in keys])

    return table


# Clustering
def cluster_vocabulary() -> str:
    """Cluster names by number of clusters (clustering.VOCABULARY), most valuable first."""
    from dashapp.analytics.clustering import VOCABULARY

    return markdown_table(
        pd.DataFrame(
            [(k, ", ".join(names)) for k, names in sorted(VOCABULARY.items())],
            columns=["Clusters", "Names, most valuable first"],
        )
    )


def cluster_methods() -> str:
    """Methods, their parameters and when they are fitted on a sample (clustering data)."""
    from dashapp.analytics import clustering as cl

    def fitted(method: str) -> str:
        limit = cl.METHOD_MAX_EXACT[method]
        if limit is None:
            return "always on all customers"
        return (
            f"all customers up to {limit:,}; above, a random sample of {limit:,}, the "
            "others assigned"
        )

    import inspect

    defaults = {
        name: p.default for name, p in inspect.signature(cl.cluster_customers).parameters.items()
    }
    k = f"{cl.MIN_K}-{cl.MAX_K} (default {defaults['k']})"
    rows = [
        ("kmeans", f"`k` clusters, {k}"),
        (
            "dbscan",
            "`eps` neighbourhood radius in scaled feature units (blank = automatic, "
            "at the knee of the k-distance curve); `min_samples` customers within eps "
            "for a core customer, the customer counted (blank = max(5, 2 × features))",
        ),
        (
            "hierarchical",
            f"`k` clusters, {k}; `linkage`: {', '.join(cl.LINKAGES)} "
            f"(default {defaults['linkage']})",
        ),
        (
            "gmm",
            f"`k` components, {k}; `covariance type`: "
            f"{', '.join(cl.COVARIANCE_TYPES)} (default {defaults['covariance_type']})",
        ),
    ]
    return markdown_table(
        pd.DataFrame(
            [(cl.METHOD_LABELS[m], params, fitted(m)) for m, params in rows],
            columns=["Method", "Parameters", "Fitted on"],
        )
    )


def _cluster_value(module: str, name: str) -> Callable[[], str]:
    """A constant of ``dashapp.<module>`` as text (numbers with thousands separators)."""

    def value() -> str:
        import importlib

        v = getattr(importlib.import_module(module), name)
        return f"{v:,}" if isinstance(v, int) else str(v)

    return value


def _schema_value(name: str):
    """A constant of the loader's schema (what it accepts)."""
    from dashapp.ingest import schema

    return getattr(schema, name)


# Action list
def lapsed_below() -> str:
    """The P(alive) below which an active segment's action becomes a win-back, in %."""
    from dashapp.analytics.actions import LAPSED_BELOW

    return f"{LAPSED_BELOW:.0%}"


def active_segments() -> str:
    """The segments whose action presumes an active customer, in the grid's order."""
    from dashapp.analytics.actions import ACTIVE_SEGMENTS
    from dashapp.analytics.rfm import SEGMENT_ORDER

    return ", ".join(s for s in SEGMENT_ORDER if s in ACTIVE_SEGMENTS)


def unplaced_countries() -> str:
    """The country names the map cannot place, with the reason (analytics.geo.UNPLACED)."""
    from dashapp.analytics.geo import UNPLACED

    return markdown_table(pd.DataFrame(list(UNPLACED.items()), columns=["Name", "Why"]))


#: Placeholder name -> function producing its Markdown. Sections may add their own.
PLACEHOLDERS: dict[str, Callable[[], str]] = {
    "segment_grid": segment_grid,
    "segment_actions": segment_actions,
    "cleaning_rules": cleaning_rules,
    "non_product_codes": non_product_codes,
    "type_stop_words": type_stop_words,
    "column_aliases": column_aliases,
    # CLV and cohorts
    "clv_parameters": clv_parameters,
    "clv_min_repeat": _holdout_constant("MIN_REPEAT_CUSTOMERS"),
    "clv_min_holdout": _holdout_constant("MIN_HOLDOUT_WEEKS"),
    "clv_min_calibration": _holdout_constant("MIN_CALIBRATION_WEEKS"),
    "clv_settings": settings_table(
        "clv_model",
        "clv_horizon",
        "clv_margin",
        "clv_discount",
        "clv_lifespan",
        "clv_churn",
        "clv_cal",
        "clv_track",
        "clv_level",
    ),
    "migration_settings": settings_table("mig_period", "mig_from", "mig_to", "mig_window"),
    "unplaced_countries": unplaced_countries,
    "product_settings": settings_table("prod_best", "prod_segment", "prod_min_buyers"),
    "rfm_settings": settings_table("as_of", "r_cuts", "f_cuts", "m_cuts", "heat"),
    "cluster_settings": settings_table(
        "cl_method",
        "cl_k",
        "cl_eps",
        "cl_min_samples",
        "cl_linkage",
        "cl_cov",
        "cl_transform",
        "cl_scale",
        "cl_features",
    ),
    # Clustering
    "cluster_vocabulary": cluster_vocabulary,
    "cluster_methods": cluster_methods,
    "cluster_outlier_name": _cluster_value("dashapp.analytics.clustering", "OUTLIER_NAME"),
    "cluster_potential_name": _cluster_value("dashapp.analytics.clustering", "POTENTIAL_NAME"),
    "cluster_potential_fallback": _cluster_value(
        "dashapp.analytics.clustering", "POTENTIAL_FALLBACK"
    ),
    "cluster_silhouette_sample": _cluster_value(
        "dashapp.analytics.clustering", "SILHOUETTE_SAMPLE"
    ),
    "cluster_dendrogram_points": _cluster_value(
        "dashapp.analytics.clustering", "DENDROGRAM_MAX_POINTS"
    ),
    "cluster_scatter_points": _cluster_value(
        "dashapp.service.views.clustering", "SCATTER_MAX_POINTS"
    ),
    "cluster_elbow_points": _cluster_value("dashapp.service.views.clustering", "ELBOW_MAX_POINTS"),
    "cluster_elbow_silhouette": _cluster_value(
        "dashapp.service.views.clustering", "ELBOW_SILHOUETTE_SAMPLE"
    ),
    "cluster_bic_points": _cluster_value("dashapp.service.views.clustering", "BIC_MAX_POINTS"),
    # Exports and campaigns
    "campaign_settings": settings_table(
        "cp_segments",
        "cp_pmin",
        "cp_pmax",
        "cp_clvmin",
        "cp_clvmax",
        "cp_cost",
        "cp_response",
        "cp_uplift",
        "cp_control",
        "cp_seed",
        "cp_start",
    ),  # fmt: skip
    "campaign_source": _cluster_value("dashapp.analytics.campaign", "DEFAULTS_SOURCE"),
    "assumed_date_order": lambda: _schema_value("DATE_ORDERS")[_schema_value("ASSUMED_DATE_ORDER")],
    "earliest_date": lambda: _schema_value("EARLIEST_DATE"),
    "latest_days_ahead": lambda: str(_schema_value("LATEST_DAYS_AHEAD")),
    "max_abs_price": lambda: f"{_schema_value('MAX_ABS_PRICE'):,.0f}",
    "actions_lapsed_below": lapsed_below,
    "actions_active_segments": active_segments,
}


def section_markdown(slug: str, currency: str = "£") -> str:
    """The Markdown of one documentation section with its placeholders filled."""
    titles = dict(SECTIONS)
    if slug not in titles:
        raise KeyError(f"No documentation section '{slug}'.")
    path = HELP_DIR / f"{slug}.md"
    text = path.read_text(encoding="utf-8") if path.exists() else f"# {titles[slug]}\n\n"
    values = {"currency": currency}
    for name, fn in PLACEHOLDERS.items():
        if "{" + name + "}" in text:
            values[name] = fn()
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text
