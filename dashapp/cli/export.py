"""``python -m dashapp export``: the customer table, or a CRM import layout, to a file."""

from __future__ import annotations

from dashapp.cli import Job, JobError
from dashapp.cli.common import configure, model_settings, output_path


def export(job: Job) -> str:
    """Write the file; returns the line printed when done."""
    from dashapp import service
    from dashapp.service import crm, params
    from dashapp.service.exports import write_table
    from dashapp.service.views.customer_table import customer_table

    path = output_path(job)
    layout = job.get("layout", "table")
    if layout not in ("table", *crm.LAYOUTS):
        raise JobError(f"Unknown layout {layout!r}: use table, {', '.join(crm.LAYOUTS)}.")
    fmt = job.get("format")
    if layout != "table" and (fmt or path.suffix.lstrip(".").lower() or "csv") != "csv":
        raise JobError(f"The {layout} layout is a CSV import file; write it to a .csv file.")
    contacts = crm.read_contacts(job.get("contacts")) if job.get("contacts") else None
    filters = configure(job)
    intervals = job.get("intervals", params.CLV_LEVEL.default)
    level = None if str(intervals).lower() == "none" else intervals
    result = customer_table(filters, *model_settings(job), level)
    if result.reason:
        raise JobError(result.reason)
    assert result.table is not None
    frame, extra = result.table, ""
    if layout != "table":
        crm_file = crm.crm_file(frame, layout, contacts)
        frame, extra = crm_file.frame, f"; {crm_file.summary()}"
    elif contacts is not None:
        joined = crm.crm_file(frame, "generic", contacts)
        frame = frame.assign(customer_id=crm.customer_key(frame["customer_id"])).merge(
            contacts, on="customer_id", how="left"
        )
        extra = f"; {joined.summary()}"
    written = write_table(frame, path, fmt)
    label = service.dataset_info(filters.dataset).label
    return (
        f"Wrote {len(frame):,} rows x {frame.shape[1]} columns ({layout}, {written}) of "
        f"{label} to {path}{extra}"
    )
