"""Agreement of the clusters with the RFM segments: crosstab and adjusted Rand index (ARI).

:func:`segment_agreement` counts on integer cluster codes (fast, for the app);
:func:`_label_agreement` is :attr:`ClusterResult.agreement` (on the text labels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashapp.analytics.rfm import SEGMENT_ORDER

__all__ = ["segment_agreement"]


def segment_agreement(
    codes: np.ndarray,
    names: Sequence[str],
    segments: pd.Series,
    segment_order: Sequence[str] = SEGMENT_ORDER,
) -> tuple[pd.DataFrame, float]:
    """Customers per (cluster, RFM segment) -- rows ``names`` in order, columns the segments
    in grid order (then any others) -- and the adjusted Rand index of the two groupings
    (customers without a segment left out)."""
    from sklearn.metrics import adjusted_rand_score

    seg_codes, seg_names = pd.factorize(segments.to_numpy(dtype=object), use_na_sentinel=True)
    order = [s for s in segment_order if s in set(seg_names)]
    order += [s for s in seg_names if s not in order]
    counts = np.zeros((len(names), len(seg_names)), dtype=np.int64)
    ok = seg_codes >= 0
    np.add.at(counts, (codes[ok], seg_codes[ok]), 1)
    table = pd.DataFrame(
        counts, index=pd.Index(names, name="cluster"), columns=[str(s) for s in seg_names]
    )[[str(s) for s in order]]
    table.columns.name = "segment"
    ari = float(adjusted_rand_score(seg_codes[ok], codes[ok])) if ok.sum() >= 2 else float("nan")
    return table, ari


def _label_agreement(
    seg: pd.Series, grp_codes: np.ndarray, names: list[str]
) -> tuple[pd.DataFrame, float]:
    """Customers per (cluster name, segment) -- rows ``names`` in order (a categorical index),
    columns the segments as found -- and the ARI (customers without a segment left out)."""
    from sklearn.metrics import adjusted_rand_score

    lab_sorted = pd.Categorical.from_codes(grp_codes, categories=names, ordered=True)
    agreement = pd.crosstab(
        pd.Series(lab_sorted, index=seg.index, name="cluster"),
        seg.rename("segment"),
        dropna=False,
    )
    agreement = agreement.reindex(names, fill_value=0)
    agreement.index = pd.CategoricalIndex(
        agreement.index, categories=names, ordered=True, name="cluster"
    )
    ok = seg.notna().to_numpy()
    ari = (
        float(adjusted_rand_score(seg.astype(str)[ok], grp_codes[ok]))
        if ok.sum() >= 2
        else float("nan")
    )
    return agreement, ari
