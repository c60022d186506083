"""Value ranking, cluster names and the cluster profiles (step 4 of
:func:`~dashapp.analytics.clustering.engine.cluster_customers`).

Clusters are named from the data, never from the arbitrary cluster numbers: they are ranked by
value in original units (:func:`value_ranking`) and named from :data:`VOCABULARY`; DBSCAN noise
is the visible group ``"Outliers"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dashapp.analytics.clustering.features import ClusteringError

__all__ = [
    "OUTLIER_NAME",
    "POTENTIAL_FALLBACK",
    "POTENTIAL_NAME",
    "RANKING_MEASURE",
    "VOCABULARY",
    "cluster_names",
    "value_ranking",
]

# --------------------------------------------------------------------------------------------
# Vocabulary (data, so that docs and the UI can render them)
# --------------------------------------------------------------------------------------------

#: Cluster names by number of clusters, highest median monetary first (see
#: :func:`cluster_names`). The cluster in the ``"Potential Value"`` slot keeps that name only if
#: its customers bought recently (median recency at most the median of all customers): low
#: value so far but still active, typically new customers; otherwise the slot is called
#: ``"Modest Value"`` (:data:`POTENTIAL_FALLBACK`). The names always follow the value order.
#: More than 10 clusters (DBSCAN only) are named ``"Value tier 1"`` .. ``"Value tier n"``.
VOCABULARY: dict[int, tuple[str, ...]] = {
    1: ("Main Group",),
    2: ("High Value", "Low Value"),
    3: ("High Value", "Medium Value", "Low Value"),
    4: ("High Value", "Medium Value", "Potential Value", "Low Value"),
    5: ("Top Value", "High Value", "Medium Value", "Potential Value", "Low Value"),
    6: (
        "Top Value",
        "High Value",
        "Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
    ),
    7: (
        "Top Value",
        "High Value",
        "Upper Medium Value",
        "Lower Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
    ),
    8: (
        "Top Value",
        "Very High Value",
        "High Value",
        "Upper Medium Value",
        "Lower Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
    ),
    9: (
        "Top Value",
        "Very High Value",
        "High Value",
        "Upper Medium Value",
        "Medium Value",
        "Lower Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
    ),
    10: (
        "Top Value",
        "Very High Value",
        "High Value",
        "Upper Medium Value",
        "Medium Value",
        "Lower Medium Value",
        "Potential Value",
        "Low Value",
        "Very Low Value",
        "Lowest Value",
    ),
}
#: Name of the DBSCAN noise group (label -1): customers in no dense neighbourhood, often the
#: biggest spenders. It is always shown (last in display order), never dropped.
OUTLIER_NAME = "Outliers"
#: The vocabulary entry chosen by recency rather than by value rank (see :data:`VOCABULARY`).
POTENTIAL_NAME = "Potential Value"
#: Name of the "Potential Value" slot when no low-value cluster is recently active.
POTENTIAL_FALLBACK = "Modest Value"

# value columns used to rank clusters: (column, higher_is_better)
_VALUE_COLUMNS = (("monetary", True), ("frequency", True), ("recency", False))


# --------------------------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------------------------


def value_ranking(medians: pd.DataFrame) -> pd.DataFrame:
    """Rank clusters by value: their median monetary (spend per customer, in original units,
    the "Median monetary" column of the profiles), the one measure the names follow.

    Parameters
    ----------
    medians : DataFrame of shape (n_clusters, ...)
        One row per cluster with some of ``monetary`` (GBP), ``frequency`` (invoices),
        ``recency`` (days); at least one of them (else the first column, higher = better).

    Returns
    -------
    DataFrame of shape (n_clusters, 2), same index
        ``value_rank`` (int, 1 = highest median monetary) and ``value_score`` (float in
        [0, 1], 1 for rank 1, 0 for the last). Ties on monetary are broken by median
        frequency (higher first), then median recency (lower first), then position; without
        a monetary column the first of frequency, recency ranks.
    """
    cols = [(c, hib) for c, hib in _VALUE_COLUMNS if c in medians.columns]
    if not cols:
        if medians.shape[1] == 0:
            raise ClusteringError("Nothing to rank clusters by.")
        cols = [(medians.columns[0], True)]
    k = len(medians)
    # oriented so that lower is better for every criterion
    vals = [
        (-1.0 if hib else 1.0) * medians[c].to_numpy(dtype=float, na_value=np.nan)
        for c, hib in cols
    ]
    # lexsort: last key is primary -> the first criterion, then the others, then position
    pos = np.lexsort([np.arange(k), *reversed(vals)])
    rank = np.empty(k, dtype=int)
    rank[pos] = np.arange(1, k + 1)
    score = 1.0 - (rank - 1.0) / (k - 1) if k > 1 else np.ones(k)
    return pd.DataFrame({"value_rank": rank, "value_score": score}, index=medians.index)


#: What ranks the clusters, in the words the page uses.
RANKING_MEASURE = "median monetary (spend per customer)"


def cluster_names(medians: pd.DataFrame, recent_days: float | None = None) -> pd.Series:
    """Name clusters from their medians (original units), using :data:`VOCABULARY`.

    Parameters
    ----------
    medians : DataFrame of shape (n_clusters, ...)
        Per-cluster medians of monetary (GBP), frequency (invoices), recency (days); outliers
        (DBSCAN noise) must not be included.
    recent_days : float, optional
        Recency (days) at or below which a cluster counts as still active, for
        ``"Potential Value"``; :func:`cluster_customers` passes the median recency of all
        clustered customers. Default: the median of the clusters' median recencies.

    Returns
    -------
    Series of str, same index, the cluster names, given from ``VOCABULARY[n_clusters]`` in
    the order of :func:`value_ranking` (so the names read in the order of the median
    monetary). The cluster in the ``"Potential Value"`` slot keeps that name only if its
    median recency is <= ``recent_days`` (low value, but active: typically new customers);
    otherwise the slot is named :data:`POTENTIAL_FALLBACK`. The order is never changed for
    it. More than 10 clusters: "Value tier 1".."Value tier n".
    """
    k = len(medians)
    if k == 0:
        return pd.Series([], index=medians.index, dtype=object)
    rank = value_ranking(medians)["value_rank"].to_numpy()
    by_rank = list(np.argsort(rank, kind="mergesort"))  # positions, most valuable first
    names = np.empty(k, dtype=object)
    known = VOCABULARY.get(k)
    if known is None:
        for r, p in enumerate(by_rank, start=1):
            names[p] = f"Value tier {r}"
        return pd.Series(names, index=medians.index)
    vocab = list(known)
    if POTENTIAL_NAME in vocab:
        pp = vocab.index(POTENTIAL_NAME)
        recent = False
        if "recency" in medians.columns:
            rec = medians["recency"].to_numpy(float)
            limit = float(np.median(rec)) if recent_days is None else float(recent_days)
            recent = bool(rec[by_rank[pp]] <= limit)
        if not recent:
            vocab[pp] = POTENTIAL_FALLBACK
    for name, p in zip(vocab, by_rank, strict=True):
        names[p] = name
    return pd.Series(names, index=medians.index)


def _name_clusters(cust: pd.DataFrame, labels_raw: np.ndarray, feats: tuple[str, ...]) -> tuple:
    """Name the fitted clusters and put them in display order.

    Parameters
    ----------
    cust : DataFrame
        The customers sorted by id (rows of ``labels_raw``).
    labels_raw : ndarray of shape (n_customers,), int
        Fitted label per customer, -1 for DBSCAN noise.
    feats : tuple of str
        Features clustered on (the first ranks the clusters when no value column exists).

    Returns
    -------
    tuple
        ``names`` (list of str, display order, ``"Outliers"`` last when present),
        ``ids_sorted`` (position in ``names`` per customer, -1 for noise), ``raw_ids``
        (fitted labels of the clusters), ``display_raw`` (fitted labels in display order),
        ``ranking`` (:func:`value_ranking` by fitted label), ``medians`` (per fitted label,
        noise included), ``med_cols`` (their columns) and ``has_noise``.
    """
    raw_ids = np.unique(labels_raw[labels_raw >= 0])
    value_cols = [c for c, _ in _VALUE_COLUMNS if c in cust.columns] or [feats[0]]
    med_cols = [
        c
        for c in ("recency", "frequency", "monetary", "tenure", "aov", "clv")
        if c in cust.columns and pd.api.types.is_numeric_dtype(cust[c])
    ]
    for c in value_cols:
        if c not in med_cols:
            med_cols.append(c)
    medians = (
        pd.DataFrame(cust[med_cols].to_numpy(dtype=float, na_value=np.nan), columns=med_cols)
        .groupby(labels_raw)
        .median()
    )
    cl_medians = medians.loc[medians.index >= 0]
    recent_days = (
        float(np.nanmedian(cust["recency"].to_numpy(float)[labels_raw >= 0]))
        if "recency" in cust.columns and len(raw_ids)
        else None
    )
    names_by_raw = cluster_names(cl_medians[value_cols], recent_days)
    ranking = (
        value_ranking(cl_medians[value_cols])
        if len(cl_medians)
        else pd.DataFrame({"value_rank": [], "value_score": []})
    )
    vocab_order = [
        POTENTIAL_FALLBACK
        if nm == POTENTIAL_NAME and POTENTIAL_FALLBACK in set(names_by_raw)
        else nm
        for nm in VOCABULARY.get(len(raw_ids), ())
    ]
    if vocab_order:
        display_raw = sorted(raw_ids, key=lambda r: vocab_order.index(names_by_raw[r]))
    else:
        display_raw = sorted(raw_ids, key=lambda r: ranking.loc[r, "value_rank"])
    names = [names_by_raw[r] for r in display_raw]
    has_noise = bool((labels_raw < 0).any())
    if has_noise:
        names.append(OUTLIER_NAME)
    id_map = np.full(int(labels_raw.max()) + 2 if len(labels_raw) else 1, -1)
    for pos, r in enumerate(display_raw):
        id_map[r + 1] = pos
    ids_sorted = id_map[labels_raw + 1]
    return names, ids_sorted, raw_ids, display_raw, ranking, medians, med_cols, has_noise


def _profiles(
    cust: pd.DataFrame,
    grp_codes: np.ndarray,
    names: list[str],
    display_raw: list,
    ranking: pd.DataFrame,
    medians: pd.DataFrame,
    med_cols: list[str],
    has_noise: bool,
) -> pd.DataFrame:
    """:attr:`~dashapp.analytics.clustering.engine.ClusterResult.profiles`: one row per group
    of ``names`` (``grp_codes``: position in ``names`` per customer of ``cust``)."""
    n = len(cust)
    prof_idx = pd.CategoricalIndex(names, categories=names, ordered=True, name="cluster")
    size = np.bincount(grp_codes, minlength=len(names))
    cols: dict[str, Any] = {
        "cluster_id": np.array([-1 if nm == OUTLIER_NAME else i for i, nm in enumerate(names)]),
        "size": size,
        "share": size / n,
    }
    if "monetary" in cust.columns and pd.api.types.is_numeric_dtype(cust["monetary"]):
        mon = np.nan_to_num(cust["monetary"].to_numpy(dtype=float, na_value=np.nan))
        rev = np.bincount(grp_codes, weights=mon, minlength=len(names))
        total = float(mon.sum())
        cols["revenue"] = rev
        cols["revenue_share"] = rev / total if total else np.full(len(names), np.nan)
    vr = np.full(len(names), -1, dtype=int)
    vs = np.full(len(names), np.nan)
    for pos, r in enumerate(display_raw):
        vr[pos] = int(ranking.loc[r, "value_rank"])
        vs[pos] = float(ranking.loc[r, "value_score"])
    cols["value_rank"] = pd.array(np.where(vr > 0, vr, 0), dtype="Int64")
    cols["value_rank"][vr < 0] = pd.NA
    cols["value_score"] = vs
    med_disp = medians.reindex(list(display_raw) + ([-1] if has_noise else []))
    for c in med_cols:
        cols[f"{c}_median"] = med_disp[c].to_numpy()
    if "clv" in cust.columns and pd.api.types.is_numeric_dtype(cust["clv"]):
        clv = np.nan_to_num(cust["clv"].to_numpy(dtype=float, na_value=np.nan))
        clv_tot = float(clv.sum())
        clv_sum = np.bincount(grp_codes, weights=clv, minlength=len(names))
        cols["clv_share"] = clv_sum / clv_tot if clv_tot else np.full(len(names), np.nan)
    profiles = pd.DataFrame(cols, index=prof_idx)
    return profiles
