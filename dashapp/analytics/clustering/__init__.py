"""Customer clustering on RFM features (pure: pandas, numpy, scipy, scikit-learn).

Clusters the customer table (``rfm.customer_rfm``: one row per customer, indexed by
``customer_id``) with K-Means, DBSCAN, hierarchical (agglomerative) clustering or a Gaussian
mixture, and names the clusters from the data, never from the arbitrary cluster numbers.

Where things are (every public name is re-exported here: ``from dashapp.analytics import
clustering as cl``, then ``cl.cluster_customers(...)``):

* ``features.py``: the options (:data:`METHODS`, :data:`LINKAGES`, ...), :class:`ClusteringError`,
  :class:`FeatureSpec`, :func:`build_features` (signed log1p, scaling) and the input checks.
* ``naming.py``: :data:`VOCABULARY`, :func:`value_ranking`, :func:`cluster_names`, the cluster
  profiles.
* ``engine.py``: :func:`cluster_customers` (the pipeline, documented there), :class:`ClusterResult`,
  the per-method fitters and the PCA coordinates.
* ``diagnostics.py``: :func:`k_distance`, :func:`silhouette`, :func:`elbow_curve`,
  :func:`bic_curve`, :func:`dendrogram_data` and the quality scores.
* ``sampling.py``: deterministic samples, assignment of the rows not fitted,
  :func:`stratified_sample`, and the thread limit (:data:`MAX_THREADS`, ``_threads()``;
  to change the limit, set ``clustering.sampling.MAX_THREADS``: the name here is a copy).
* ``agreement.py``: :func:`segment_agreement` (clusters x RFM segments, adjusted Rand index).

Imports run one way (no cycles): ``features`` and ``sampling`` import no other module of the
package, ``naming`` imports ``features``, ``diagnostics`` imports ``features`` and ``sampling``,
``agreement`` only ``dashapp.analytics.rfm``, and ``engine`` imports them all.
"""

from __future__ import annotations

from dashapp.analytics.clustering.agreement import segment_agreement
from dashapp.analytics.clustering.diagnostics import (
    DENDROGRAM_MAX_POINTS,
    KDIST_MAX_POINTS,
    SILHOUETTE_SAMPLE,
    KDistance,
    bic_curve,
    dendrogram_data,
    elbow_curve,
    k_distance,
    silhouette,
    suggest_k,
)
from dashapp.analytics.clustering.engine import (
    DBSCAN_PAIR_BUDGET,
    KMEANS_N_INIT,
    ClusterResult,
    cluster_customers,
)
from dashapp.analytics.clustering.features import (
    COVARIANCE_TYPES,
    DEFAULT_FEATURES,
    LINKAGES,
    MAX_K,
    METHOD_ALIASES,
    METHOD_LABELS,
    METHOD_MAX_EXACT,
    METHODS,
    MIN_K,
    SCALES,
    TRANSFORMS,
    ClusteringError,
    FeatureSpec,
    build_features,
)
from dashapp.analytics.clustering.naming import (
    OUTLIER_NAME,
    POTENTIAL_FALLBACK,
    POTENTIAL_NAME,
    RANKING_MEASURE,
    VOCABULARY,
    cluster_names,
    value_ranking,
)
from dashapp.analytics.clustering.sampling import (  # noqa: F401  (_threads: the service calls it)
    MAX_THREADS,
    _threads,
    stratified_sample,
)

__all__ = [
    "COVARIANCE_TYPES",
    "DBSCAN_PAIR_BUDGET",
    "DEFAULT_FEATURES",
    "DENDROGRAM_MAX_POINTS",
    "KDIST_MAX_POINTS",
    "KMEANS_N_INIT",
    "LINKAGES",
    "MAX_K",
    "MAX_THREADS",
    "METHODS",
    "METHOD_ALIASES",
    "METHOD_LABELS",
    "METHOD_MAX_EXACT",
    "MIN_K",
    "OUTLIER_NAME",
    "POTENTIAL_FALLBACK",
    "POTENTIAL_NAME",
    "RANKING_MEASURE",
    "SCALES",
    "SILHOUETTE_SAMPLE",
    "TRANSFORMS",
    "VOCABULARY",
    "ClusterResult",
    "ClusteringError",
    "FeatureSpec",
    "KDistance",
    "bic_curve",
    "build_features",
    "cluster_customers",
    "cluster_names",
    "dendrogram_data",
    "elbow_curve",
    "suggest_k",
    "k_distance",
    "segment_agreement",
    "silhouette",
    "stratified_sample",
    "value_ranking",
]
