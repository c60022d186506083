"""``python -m dashapp report``: the self-contained HTML summary, written atomically."""

from __future__ import annotations

from dashapp.cli import Job
from dashapp.cli.common import configure, model_settings, output_path


def report(job: Job) -> str:
    """Write the report; returns the line printed when done."""
    from dashapp import service
    from dashapp.ingest.loading.cache import atomic_path
    from dashapp.web.report import report_html

    path = output_path(job)
    filters = configure(job)
    settings = model_settings(job)
    for param, value in zip(
        (*service.params.CLV_VALUE_PARAMS[:4], service.params.CLUSTER_METHOD,
         service.params.CLUSTER_K, service.params.CLV_CHURN), settings, strict=True,
    ):  # fmt: skip
        param.parse(value)  # a bad setting fails the job instead of a section
    text = report_html(filters, settings)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    size = path.stat().st_size / 1e6
    return f"Wrote the report of {service.dataset_info(filters.dataset).label} to {path} ({size:.1f} MB)"
