"""A file given on the command line (``--data``) whose dates read both day-first and
month-first: read with the assumed order, which is logged and shown on the Overview
(issue 13, point 5)."""

from __future__ import annotations

import importlib
import logging
import time

import pytest

from dashapp import service
from dashapp.ingest import schema
from tests.badinput.make_corpus import _csv, _rows


@pytest.fixture
def ambiguous_data(extract_app, tmp_path):
    """The service on the file; the app (built once per session) only to call its pages."""
    from dashapp.config import Settings

    rows = [[*r[:4], f"{i % 12 + 1:02d}/01/2011 10:00", *r[5:]] for i, r in enumerate(_rows())]
    path = tmp_path / "shop.csv"
    path.write_bytes(_csv(rows))
    previous = service.settings()
    service.configure(
        Settings.from_env(
            env={}, data_path=path, cache_dir=tmp_path / "cache", data_dir=tmp_path / "data"
        )
    )
    if getattr(service.cache, "app", None) is None:
        service.init_cache(config={"CACHE_TYPE": "SimpleCache"})
    yield service.Filters.build(dataset=path.stem)
    service.configure(previous)


def test_a_data_file_with_ambiguous_dates_is_read_with_a_stated_assumption(ambiguous_data, caplog):
    assert schema.ASSUMED_DATE_ORDER == "mdy"
    with caplog.at_level(logging.WARNING):
        view = service.overview(ambiguous_data)
    assert "has dates such as '02/01/2011 10:00' that read both day-first" in caplog.text
    assert "read month first (01/31/2011 = 31 January) (assumed)" in caplog.text
    assert len(view.monthly) == 12  # month first: January .. December 2011
    note = (
        "Dates such as '02/01/2011 10:00' read both day-first and month-first and the file "
        "does not tell which: they were read month first (01/31/2011 = 31 January)."
    )
    deadline = time.time() + 10  # the lines' parquet copy is written in the background
    while service.dataset_notes(ambiguous_data.dataset) != [note] and time.time() < deadline:
        time.sleep(0.1)
    assert service.dataset_notes(ambiguous_data.dataset) == [note]
    # the Overview shows it under the cleaning ledger
    overview = importlib.import_module("dashapp.web.pages.overview")
    _, _, ledger, _ = overview.update_overview(ambiguous_data.dataset, None, None, None)
    assert note in str(ledger)
