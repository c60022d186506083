"""Row sampling for large inputs, and the thread limit of the fits.

The expensive methods are fitted on a deterministic random sample (:func:`_rng_sample`) when
there are more customers than ``max_exact`` (Ward on n customers holds an n x n distance
matrix; DBSCAN's neighbour lists grow ~n^2 with a wide eps); the other customers are then
assigned (:func:`_nearest_assign`: nearest sampled customer, or nearest core sample within eps).
:func:`stratified_sample` picks the rows a scatter plot shows, per cluster.

The thread limit (:data:`MAX_THREADS`, :func:`_threads`) lives here, below both the engine and
the diagnostics, which both use it.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # loaded where used: scikit-learn and scipy cost ~55 MB per worker
    from threadpoolctl import ThreadpoolController

__all__ = ["MAX_THREADS", "stratified_sample"]

#: BLAS / OpenMP threads while fitting. These problems are small (n x 3): on 2 cores one thread
#: is as fast as two when idle (K-Means at 60,000: 44 ms vs 89 ms) and 2-5x faster when other
#: processes (web workers, tests) compete for the cores. Applied with threadpoolctl for the
#: duration of a call (process-wide while it runs); None leaves the libraries' defaults.
MAX_THREADS: int | None = 1

_CONTROLLER: list[ThreadpoolController] = []


def _threads():
    """Context limiting BLAS / OpenMP threads to :data:`MAX_THREADS` (cached library scan)."""
    import sklearn.cluster  # noqa: F401  (its OpenMP runtime must be loaded before the scan)
    from threadpoolctl import ThreadpoolController

    if not MAX_THREADS:
        return nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())  # scanning the libraries takes ~4 ms
    return _CONTROLLER[0].limit(limits=MAX_THREADS)


def _rng_sample(n: int, size: int, random_state: int) -> np.ndarray:
    """Sorted indices of a deterministic random sample (all of range(n) if size >= n)."""
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=size, replace=False))


def _nearest_assign(
    X_ref: np.ndarray, lab_ref: np.ndarray, X_rest: np.ndarray, max_dist: float | None = None
) -> np.ndarray:
    """Label of the nearest reference point (-1 if farther than ``max_dist``)."""
    from scipy.spatial import cKDTree

    if len(X_rest) == 0:
        return np.empty(0, dtype=int)
    if len(X_ref) == 0:
        return np.full(len(X_rest), -1)
    tree = cKDTree(X_ref)
    if max_dist is None:
        _, j = tree.query(X_rest, k=1)
        return lab_ref[j]
    dist, j = tree.query(X_rest, k=1, distance_upper_bound=max_dist * (1 + 1e-12))
    out = np.full(len(X_rest), -1)
    ok = np.isfinite(dist)
    out[ok] = lab_ref[j[ok]]
    return out


def stratified_sample(
    codes: np.ndarray,
    max_points: int,
    keep: int | None = None,
    min_per_group: int = 30,
    random_state: int = 0,
) -> np.ndarray:
    """Sorted positions of at most about ``max_points`` rows, sampled per group ``codes``
    proportionally to the group sizes (every group gets at least ``min_per_group`` rows or
    all of its rows). Every row of group ``keep`` (the Outliers) is kept, up to
    ``max_points`` of them. Deterministic; all rows when there are at most ``max_points``."""
    codes = np.asarray(codes)
    n = len(codes)
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    chosen = []
    budget = max_points
    groups = [g for g in np.unique(codes) if g != keep]
    if keep is not None:
        kept = np.flatnonzero(codes == keep)
        if len(kept) > max_points:
            kept = np.sort(rng.choice(kept, max_points, replace=False))
        chosen.append(kept)
        budget = max(max_points - len(kept), min_per_group * len(groups))
    members = [np.flatnonzero(codes == g) for g in groups]
    total = sum(len(m) for m in members)
    quotas = [min(len(m), max(min_per_group, int(budget * len(m) / total))) for m in members]
    excess = sum(quotas) - budget
    while excess > 0:  # take the surplus of the minimums from the largest groups
        j = int(np.argmax(quotas))
        cut = min(excess, quotas[j] - min_per_group)
        if cut <= 0:
            break
        quotas[j] -= cut
        excess -= cut
    for m, q in zip(members, quotas, strict=True):
        chosen.append(m if q >= len(m) else rng.choice(m, q, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)
