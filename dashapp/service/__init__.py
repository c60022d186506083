"""The service: what the pages (and scripts) call for data. No statistics live here.

* :mod:`~dashapp.service.registry` knows the datasets (the SQL table, the configured file,
  the demo data, uploads) and their content versions;
* :mod:`~dashapp.service.store` reads and cleans each dataset once per process;
* :mod:`~dashapp.service.caching` memoizes results under keys of simple values (Flask-Caching:
  file system or Redis, shared by the workers), with single flight for heavy computations;
* :mod:`~dashapp.service.params` declares every user-facing parameter once;
* :mod:`~dashapp.service.views` has one module per page; each view takes
  :class:`Filters` and the page's parameters and returns a typed
  :class:`~dashapp.service.results.View` whose ``reason`` says when it cannot be shown.

This module is the facade: the names below are the service's public API.
"""

from __future__ import annotations

from dashapp.ingest.loading import DataLoadError
from dashapp.service import params
from dashapp.service.caching import ResilientRedisCache, cache, init_cache, memoized
from dashapp.service.filters import Filters
from dashapp.service.paging import grid_page
from dashapp.service.params import ParamError
from dashapp.service.registry import (
    DEMO_ID,
    SQL_ID,
    DatasetInfo,
    configure,
    currency,
    current_owner,
    dataset_info,
    dataset_version,
    datasets,
    default_dataset_id,
    is_table,
    settings,
    upload_dir,
)
from dashapp.service.results import View, empty_reason, records
from dashapp.service.store import (
    CleanData,
    DataPreparing,
    cleaned,
    dataset_notes,
    filtered_orders,
    transactions,
)
from dashapp.service.uploads import (
    acquire_upload_slot,
    choose_date_order,
    prune_uploads,
    receive_upload,
    release_upload_slot,
    remap_upload,
    upload_slot,
)
from dashapp.service.views.actions import ActionList, action_list
from dashapp.service.views.clustering import (
    ClusterDiagnostics,
    ClusterView,
    cluster_diagnostics,
    cluster_params,
    cluster_view,
)
from dashapp.service.views.clv import (
    ClvComparison,
    ClvFit,
    ClvIntervalsView,
    ClvModelView,
    ClvValidation,
    ClvView,
    clv_calibration_end,
    clv_comparison,
    clv_fit,
    clv_intervals,
    clv_ml,
    clv_model,
    clv_range,
    clv_validation,
    clv_view,
    customer_explanation,
)
from dashapp.service.views.cohorts import CohortsView, cohorts_view
from dashapp.service.views.dataset import DatasetBounds, dataset_bounds
from dashapp.service.views.overview import OverviewView, overview, period_preset
from dashapp.service.views.rfm import RfmView, rfm_table, rfm_view

__all__ = [
    "DEMO_ID",
    "SQL_ID",
    "ActionList",
    "CleanData",
    "ClusterDiagnostics",
    "ClusterView",
    "ClvComparison",
    "ClvFit",
    "ClvIntervalsView",
    "ClvModelView",
    "ClvValidation",
    "ClvView",
    "CohortsView",
    "DataLoadError",
    "DataPreparing",
    "DatasetBounds",
    "DatasetInfo",
    "Filters",
    "OverviewView",
    "ParamError",
    "ResilientRedisCache",
    "RfmView",
    "View",
    "action_list",
    "cache",
    "cleaned",
    "cluster_diagnostics",
    "cluster_params",
    "cluster_view",
    "clv_calibration_end",
    "clv_comparison",
    "clv_fit",
    "clv_intervals",
    "clv_ml",
    "customer_explanation",
    "clv_model",
    "clv_range",
    "clv_validation",
    "clv_view",
    "cohorts_view",
    "configure",
    "acquire_upload_slot",
    "release_upload_slot",
    "prune_uploads",
    "receive_upload",
    "choose_date_order",
    "dataset_notes",
    "remap_upload",
    "upload_slot",
    "current_owner",
    "currency",
    "dataset_bounds",
    "dataset_info",
    "dataset_version",
    "datasets",
    "default_dataset_id",
    "empty_reason",
    "filtered_orders",
    "grid_page",
    "init_cache",
    "is_table",
    "memoized",
    "overview",
    "params",
    "period_preset",
    "records",
    "rfm_table",
    "rfm_view",
    "settings",
    "transactions",
    "upload_dir",
]
