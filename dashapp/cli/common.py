"""What ``export`` and ``report`` share: the service configured from the environment and the
job's options, the filters checked against the dataset, the model settings."""

from __future__ import annotations

from pathlib import Path

from dashapp.cli import Job, JobError, countries_of


def configure(job: Job):
    """Configure the service (settings from the environment, ``data`` as the file dataset)
    and bind the results cache the web app uses (so a scheduled job and the app share
    results). Returns the filters, checked against the dataset."""
    from dashapp import service
    from dashapp.config import Settings

    data = job.get("data")
    if data is not None and not Path(data).is_file():
        raise JobError(f"The data file {data} does not exist.")
    settings = Settings.from_env(data_path=data)
    service.configure(settings)
    service.init_cache(config=settings.cache_config())
    ids = [d.id for d in service.datasets()]
    dataset = job.get("dataset") or (Path(data).stem if data else service.default_dataset_id())
    if str(dataset) not in ids:
        raise JobError(f"Unknown dataset {dataset!r}; available: {', '.join(ids)}.")
    filters = service.Filters.build(
        dataset=str(dataset),
        start=job.get("start"),
        end=job.get("end"),
        countries=countries_of(job.get("countries")),
    )
    if filters.start and filters.end and filters.start > filters.end:
        raise JobError(f"The start {filters.start} lies after the end {filters.end}.")
    bounds = service.dataset_bounds(filters.dataset)
    unknown = [c for c in filters.countries if c not in bounds.countries]
    if unknown:
        known = ", ".join(bounds.countries[:8]) + (", ..." if len(bounds.countries) > 8 else "")
        raise JobError(f"Unknown country {unknown[0]!r} in {filters.dataset}; known: {known}.")
    return filters


def model_settings(job: Job) -> tuple:
    """CLV model, horizon, margin, discount, clustering method, k, churn horizon (validated by
    the views)."""
    from dashapp.service import params

    return (
        job.get("model", params.CLV_MODEL.default),
        job.get("horizon", params.CLV_HORIZON.default),
        job.get("margin", params.CLV_MARGIN.default),
        job.get("discount", params.CLV_DISCOUNT.default),
        job.get("cluster_method", params.CLUSTER_METHOD.default),
        job.get("k", params.CLUSTER_K.default),
        job.get("churn", params.CLV_CHURN.default),
    )


def output_path(job: Job) -> Path:
    out = job.get("output")
    if not out:
        raise JobError("No output file: give -o/--output (or output in the config file).")
    path = Path(out)
    if path.is_dir():
        raise JobError(f"The output {path} is a folder; give a file name.")
    return path
