"""Every user-facing parameter, declared once: URL key, type, default, limits, help.

Everything else is built from these declarations: the page controls (``dashapp.web.controls``),
the validation at the service boundary (each view function calls :meth:`Param.parse` on its
arguments, the way scikit-learn's ``validate_params`` guards its estimators), the error
messages, the URL parsing (``Param.initial``) and the parameter tables on ``/docs``
(:func:`markdown_table`). An out-of-range or malformed value raises :class:`ParamError`,
whose text is the same on every page that takes the parameter.

The limits that belong to a model or an engine (the purchase models, the clustering methods,
k between ``MIN_K`` and ``MAX_K``) are read from the analytics modules that enforce them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashapp.analytics import campaign, clustering, rfm
from dashapp.analytics.clv import MODEL_LABELS
from dashapp.analytics.rfm import SEGMENT_ORDER
from dashapp.service.declarations import KINDS, Param, ParamError, parse_all

__all__ = ["KINDS", "Param", "ParamError", "parse_all"]  # and the declarations below


# ------------------------------------------------------------------------------------------
# CLV
# ------------------------------------------------------------------------------------------
CLV_MODEL = Param(
    "clv_model",
    "model",
    "Purchase model",
    "choice",
    "bgnbd",
    choices=tuple(MODEL_LABELS.items()),
    aliases=(
        ("bg/nbd", "bgnbd"),
        ("pareto/nbd", "pareto_nbd"),
        ("pareto", "pareto_nbd"),
        ("mbg/nbd", "mbgnbd"),
        ("mbg", "mbgnbd"),
    ),
    help="The model of repeat purchases and dropout (Gamma-Gamma models the spend); "
    "MBG/NBD also lets customers drop out right after their first purchase.",
)
CLV_HORIZON = Param(
    "clv_horizon",
    "horizon_months",
    "Horizon",
    "int",
    12,
    unit="months of 30 days",
    low=1,
    high=120,
    help="How far ahead predicted CLV looks.",
)
CLV_MARGIN = Param(
    "clv_margin",
    "margin_pct",
    "Margin",
    "float",
    30.0,
    unit="% of revenue",
    low=0,
    high=100,
    help="Share of revenue kept as profit; CLV is revenue x margin.",
)
CLV_DISCOUNT = Param(
    "clv_discount",
    "annual_discount_pct",
    "Annual discount rate",
    "float",
    10.0,
    unit="%",
    low=0,
    high=100,
    help="Converted to a monthly rate (1 + annual)^(1/12) - 1; future months count less.",
)
CLV_LIFESPAN = Param(
    "clv_lifespan",
    "lifespan_years",
    "Expected lifespan, historic CLV",
    "float",
    3.0,
    unit="years",
    low=0,
    high=50,
    help="How long historic CLV assumes a customer keeps buying at their past rate.",
)
CLV_CHURN = Param(
    "clv_churn",
    "churn_days",
    "Churn horizon H",
    "int",
    90,
    unit="days",
    low=7,
    high=730,
    help="P(churn) is the chance that a customer makes no purchase in the next H days, "
    "given their history; P(not alive) the chance they have already dropped out.",
)
CLV_CALIBRATION_END = Param(
    "clv_cal",
    "calibration_end",
    "Calibration end",
    "date",
    None,
    optional=True,
    blank="default",
    hint="fit up to this day, forecast the rest",
    help="The holdout check fits the models up to this day and forecasts the rest; blank "
    "keeps the last third of the range (at least 8 weeks) as the holdout.",
)
CLV_TRACKING = Param(
    "clv_track",
    "tracking",
    "Tracking plot",
    "choice",
    "weekly",
    choices=(("weekly", "Weekly"), ("cumulative", "Cumulative")),
    help="Repeat purchases per week, or added up since the start.",
)
CLV_LEVEL = Param(
    "clv_level",
    "level_pct",
    "Interval",
    "choice",
    "90",
    choices=(("90", "90 %"), ("80", "80 %")),
    help="Central probability of the intervals drawn from the parameters' uncertainty.",
)
#: The parameters of predicted CLV, in the service's argument order.
CLV_VALUE_PARAMS = (CLV_MODEL, CLV_HORIZON, CLV_MARGIN, CLV_DISCOUNT, CLV_LIFESPAN, CLV_CHURN)

# ------------------------------------------------------------------------------------------
# Clustering
# ------------------------------------------------------------------------------------------
CLUSTER_METHOD = Param(
    "cl_method",
    "method",
    "Method",
    "choice",
    "kmeans",
    choices=tuple((m, clustering.METHOD_LABELS[m]) for m in clustering.METHODS),
    aliases=tuple(clustering.METHOD_ALIASES.items()),
    help="K-Means, DBSCAN (density), hierarchical (agglomerative) or a Gaussian mixture.",
)
CLUSTER_K = Param(
    "cl_k",
    "k",
    "Clusters k",
    "int",
    4,
    low=clustering.MIN_K,
    high=clustering.MAX_K,
    hint=f"{clustering.MIN_K}-{clustering.MAX_K}",
    help="Number of clusters (K-Means, hierarchical, Gaussian mixture).",
)
CLUSTER_EPS = Param(
    "cl_eps",
    "eps",
    "eps",
    "float",
    None,
    low=0,
    low_open=True,
    optional=True,
    blank="automatic",
    help="DBSCAN's neighbourhood radius, in scaled feature units; blank = the knee of the "
    "k-distance curve.",
)
CLUSTER_MIN_SAMPLES = Param(
    "cl_min_samples",
    "min_samples",
    "min_samples",
    "int",
    None,
    low=1,
    optional=True,
    blank="automatic",
    help="DBSCAN: customers within eps (the customer counted) that make a dense core; "
    "blank = twice the number of features, at least 5.",
)
CLUSTER_LINKAGE = Param(
    "cl_linkage",
    "linkage",
    "Linkage",
    "choice",
    "ward",
    choices=tuple((v, v) for v in clustering.LINKAGES),
    help="Hierarchical clustering: how the distance between two groups is measured.",
)
CLUSTER_COVARIANCE = Param(
    "cl_cov",
    "covariance_type",
    "Covariance type",
    "choice",
    "full",
    choices=tuple((v, v) for v in clustering.COVARIANCE_TYPES),
    help="Gaussian mixture: the shape each component may take.",
)
CLUSTER_TRANSFORM = Param(
    "cl_transform",
    "transform",
    "Transform",
    "choice",
    "log1p",
    choices=(("log1p", "log1p (heavy tails)"), ("none", "none")),
    help="A signed log1p tames the heavy tails of frequency and monetary.",
)
CLUSTER_SCALE = Param(
    "cl_scale",
    "scale",
    "Scaling",
    "choice",
    "standard",
    choices=tuple((v, v) for v in clustering.SCALES),
    help="Standard (mean 0, sd 1), robust (median, IQR) or none.",
)
CLUSTER_FEATURES = Param(
    "cl_features",
    "features",
    "Features",
    "choices",
    clustering.DEFAULT_FEATURES,
    choices=(
        ("recency", "Recency"),
        ("frequency", "Frequency"),
        ("monetary", "Monetary"),
        ("tenure", "Tenure"),
        ("aov", "Avg order value"),
    ),
    hint="none ticked = R, F, M",
    help="Customer measures the distances are computed on (none ticked = R, F, M).",
)
#: The clustering's parameters, in the service's argument order.
CLUSTER_PARAMS = (
    CLUSTER_METHOD,
    CLUSTER_K,
    CLUSTER_EPS,
    CLUSTER_MIN_SAMPLES,
    CLUSTER_LINKAGE,
    CLUSTER_COVARIANCE,
    CLUSTER_TRANSFORM,
    CLUSTER_SCALE,
    CLUSTER_FEATURES,
)
#: Which parameters each method uses (the others are ignored and hidden).
METHOD_PARAMS: Mapping[str, tuple[Param, ...]] = {
    "kmeans": (CLUSTER_K,),
    "dbscan": (CLUSTER_EPS, CLUSTER_MIN_SAMPLES),
    "hierarchical": (CLUSTER_K, CLUSTER_LINKAGE),
    "gmm": (CLUSTER_K, CLUSTER_COVARIANCE),
}

# ------------------------------------------------------------------------------------------
# RFM
# ------------------------------------------------------------------------------------------
RFM_AS_OF = Param(
    "as_of",
    "as_of",
    "As-of date",
    "date",
    None,
    optional=True,
    blank="day after the date range",
    hint="recency counted to it",
    help=(
        "Recency is counted in days up to this date; blank = the day after the end of the "
        "date range (the last invoice of all countries), so a country filter does not move it. "
        "Allowed: from that day to 10 years later (an earlier day would give negative recencies)."
    ),
)
#: How far after the last day analysed an as-of date may lie.
RFM_AS_OF_MAX_YEARS = 10
RFM_R_CUTS = Param(
    "r_cuts",
    "recency",
    "Custom R cut points",
    "cuts",
    None,
    unit="days",
    optional=True,
    hint="4 values",
    blank="scores from average ranks",
    example="e.g. 14,30,90,180",
    help="Days since the last purchase that separate the recency scores.",
)
RFM_F_CUTS = Param(
    "f_cuts",
    "frequency",
    "Custom F cut points",
    "cuts",
    None,
    unit="invoices",
    optional=True,
    blank="scores from average ranks",
    example="e.g. 2,3,5,10",
    help="Purchase invoices that separate the frequency scores.",
)
RFM_M_CUTS = Param(
    "m_cuts",
    "monetary",
    "Custom M cut points",
    "cuts",
    None,
    unit="currency",
    optional=True,
    blank="scores from average ranks",
    example="e.g. 250,500,1000,3000",
    help="Net revenue that separates the monetary scores.",
)
RFM_HEAT = Param(
    "heat",
    "heat",
    "R x F grid colour",
    "choice",
    "customers",
    choices=(("customers", "Colour by customers"), ("revenue", "Colour by revenue")),
    help="What the colour of each cell of the R x F grid shows.",
)
RFM_CUTS = (RFM_R_CUTS, RFM_F_CUTS, RFM_M_CUTS)
RFM_PARAMS = (RFM_AS_OF, *RFM_CUTS, RFM_HEAT)

# ------------------------------------------------------------------------------------------
# Campaign planner and tracking
# ------------------------------------------------------------------------------------------
#: Where the default response rate and uplift come from (page and /docs).
CAMPAIGN_DEFAULTS_SOURCE = campaign.DEFAULTS_SOURCE
CAMPAIGN_SEGMENTS = Param(
    "cp_segments",
    "segments",
    "RFM segments",
    "choices",
    tuple(campaign.segment_key(s) for s in rfm.SEGMENT_ORDER),
    choices=tuple((campaign.segment_key(s), s) for s in rfm.SEGMENT_ORDER),
    hint="none ticked = all",
    help="Customers of these RFM segments are targeted (none ticked = all).",
)
CAMPAIGN_P_ALIVE_MIN = Param(
    "cp_pmin", "p_alive_min", "P(alive) from", "float", 0.0, low=0, high=1,
    help="Target customers whose P(alive) is at least this.",
)  # fmt: skip
CAMPAIGN_P_ALIVE_MAX = Param(
    "cp_pmax", "p_alive_max", "P(alive) to", "float", 1.0, low=0, high=1,
    help="Target customers whose P(alive) is at most this.",
)  # fmt: skip
CAMPAIGN_CLV_MIN = Param(
    "cp_clvmin", "clv_min", "Predicted CLV from", "float", None, unit="currency",
    optional=True, blank="no limit", help="Target customers whose predicted CLV is at least this.",
)  # fmt: skip
CAMPAIGN_CLV_MAX = Param(
    "cp_clvmax", "clv_max", "Predicted CLV to", "float", None, unit="currency",
    optional=True, blank="no limit", help="Target customers whose predicted CLV is at most this.",
)  # fmt: skip
CAMPAIGN_COST = Param(
    "cp_cost", "cost", "Offer cost", "float", 1.0, unit="currency per targeted customer",
    low=0, high=100_000, help="Per targeted customer (contact, voucher). An assumption: set yours.",
)  # fmt: skip
CAMPAIGN_RESPONSE = Param(
    "cp_response", "response_pct", "Response rate", "float", 1.1, unit="% of targeted",
    low=0, low_open=True, high=100,
    help="Share of targeted customers expected to buy after the offer. Default: Hillstrom "
    "(2008), e-mailed groups, two weeks.",
)  # fmt: skip
CAMPAIGN_UPLIFT = Param(
    "cp_uplift", "uplift_pct", "Uplift", "float", 47.0, unit="% of responses incremental",
    low=0, high=100,
    help="Share of those purchases the offer causes (the rest would have happened anyway). "
    "Default: Hillstrom (2008), e-mailed vs control groups.",
)  # fmt: skip
CAMPAIGN_CONTROL = Param(
    "cp_control", "control_pct", "Control group", "float", 20.0, unit="% of the target",
    low=1, high=50,
    help="Share of the targeted customers held out at random: they get no offer, and the "
    "tracking compares the others with them.",
)  # fmt: skip
CAMPAIGN_SEED = Param(
    "cp_seed", "seed", "Random seed", "int", 42, low=0, high=999_999,
    help="The same seed, target and share always hold out the same customers.",
)  # fmt: skip
CAMPAIGN_START = Param(
    "cp_start", "start", "Campaign start", "date", None, optional=True, blank="not set",
    help="Tracking: the day the campaign started; transactions from it on are measured.",
)  # fmt: skip
#: The planner's target and offer parameters, in the service's argument order.
CAMPAIGN_TARGET_PARAMS = (
    CAMPAIGN_SEGMENTS, CAMPAIGN_P_ALIVE_MIN, CAMPAIGN_P_ALIVE_MAX, CAMPAIGN_CLV_MIN,
    CAMPAIGN_CLV_MAX,
)  # fmt: skip
CAMPAIGN_OFFER_PARAMS = (
    CAMPAIGN_COST, CAMPAIGN_RESPONSE, CAMPAIGN_UPLIFT, CAMPAIGN_CONTROL, CAMPAIGN_SEED,
)  # fmt: skip

# ------------------------------------------------------------------------------------------
# Segment migration, customer page, countries
# ------------------------------------------------------------------------------------------
_PERIOD_HINT = "the quarter or month holding this day"
MIG_PERIOD = Param(
    "mig_period", "period", "Compare", "choice", "quarter",
    choices=(("quarter", "Quarter against quarter"), ("month", "Month against month")),
    help="The length of the two periods whose ends are compared.",
)  # fmt: skip
MIG_FIRST = Param(
    "mig_from", "first", "First period", "date", optional=True, hint=_PERIOD_HINT,
    blank="the one before the second", help="The earlier period: the quarter or month holding "
    "this day; blank = the period just before the second.",
)  # fmt: skip
MIG_SECOND = Param(
    "mig_to", "second", "Second period", "date", optional=True, hint=_PERIOD_HINT,
    blank="the last full period", help="The later period: the quarter or month holding this "
    "day; blank = the last full one of the date range (cut at the range's end if it is later).",
)  # fmt: skip
MIG_WINDOW = Param(
    "mig_window", "window_months", "History window", "int", unit="months", low=1, high=120,
    optional=True, blank="all history", help="Score each period end on the last N months of "
    "invoices only; customers without a purchase in them are 'Lapsed'. Blank = the whole "
    "history in the date range (as the RFM page), so nobody is lapsed.",
)  # fmt: skip
MIG_PARAMS = (MIG_PERIOD, MIG_FIRST, MIG_SECOND, MIG_WINDOW)
CUSTOMER_ID = Param(
    "id", "customer_id", "Customer id", "text", high=64, optional=True, blank="none",
    example="e.g. 13085",
    help="The customer the customer page shows (/customer?id=13085 or /customer/13085).",
)  # fmt: skip
COUNTRY_MEASURE = Param(
    "geo_measure", "measure", "Map colour", "choice", "revenue",
    choices=(("customers", "Customers"), ("revenue", "Revenue"), ("clv", "Predicted CLV"),
             ("churn", "Churn risk")),
    help="What colours each country: customers, net revenue, the sum of predicted CLV (the CLV "
    "page's settings) or churn risk (mean 1 - P(alive)).",
)  # fmt: skip
PRODUCT_SEGMENT = Param(
    "prod_segment", "segment", "Segment to profile", "choice", "Champions",
    choices=tuple((s, s) for s in SEGMENT_ORDER), aliases=tuple((s.lower(), s) for s in
                                                                 SEGMENT_ORDER),
    help="The RFM segment whose distinguishing products are listed (ranked by the lower end "
    "of their lift's 95 % range).",
)  # fmt: skip
PRODUCT_MIN_BUYERS = Param(
    "prod_min_buyers", "min_buyers", "Fewest segment buyers", "int", 10, unit="customers",
    low=1, high=100_000,
    help="A product enters the segment's lift table only when at least this many of the "
    "segment's customers bought it: a lift resting on a handful of buyers is noise.",
)  # fmt: skip
PRODUCT_BEST = Param(
    "prod_best", "best", "Best customers", "choice", "champions",
    choices=(("champions", "Champions"), ("top_clv", "Top 20% by predicted CLV")),
    help="Whose share of spend each product's share is compared with the rest's.",
)  # fmt: skip

#: Every declaration by URL key.
BY_KEY: Mapping[str, Param] = {
    p.key: p
    for p in (
        *CLV_VALUE_PARAMS,
        CLV_CALIBRATION_END,
        CLV_TRACKING,
        CLV_LEVEL,
        *CLUSTER_PARAMS,
        *RFM_PARAMS,
        *CAMPAIGN_TARGET_PARAMS,
        *CAMPAIGN_OFFER_PARAMS,
        CAMPAIGN_START,
        *MIG_PARAMS,
        CUSTOMER_ID,
        COUNTRY_MEASURE,
        PRODUCT_SEGMENT,
        PRODUCT_MIN_BUYERS,
        PRODUCT_BEST,
    )
}


def thresholds(r_cuts: Any = None, f_cuts: Any = None, m_cuts: Any = None) -> tuple | None:
    """The RFM custom cut points as ``((metric, (e1, e2, e3, e4)), ...)`` or None."""
    pairs = []
    for param, raw in zip(RFM_CUTS, (r_cuts, f_cuts, m_cuts), strict=True):
        cuts = param.parse(raw)
        if cuts:
            pairs.append((param.arg, cuts))
    return tuple(pairs) or None


def markdown_table(declared: Sequence[Param]) -> str:
    """The documentation table of some parameters (``/docs`` renders it)."""
    rows = [
        "| parameter | URL key | default | allowed | what it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in declared:
        default = p.default
        if isinstance(default, tuple):
            default = ", ".join(map(str, default))
        shown = "blank" if default is None else f"`{default}`"
        rows.append(f"| {p.title} | `{p.key}` | {shown} | {p.limits_text()} | {p.help} |")
    return "\n".join(rows)
