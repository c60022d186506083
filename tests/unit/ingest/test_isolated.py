"""A file's first preparation in a child process (``dashapp.ingest.isolated``): the same
results and the same messages as in the worker, a child that dies or fails named by file and
never a half-written cache, and one preparation per file version across processes."""

from __future__ import annotations

import subprocess
import sys
import threading

import pandas as pd
import pytest

from dashapp.ingest import engine, isolated, parts
from dashapp.ingest.cleaning import CleaningRules
from dashapp.ingest.engine import local, prepared
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading import cache_path_for, load_transactions
from tests.badinput.make_corpus import build
from tests.factories import RAW_ROWS, write_raw_csv

ROWS = [
    *RAW_ROWS,
    ["104", "B2", "Bowl", "2", "2010-02-01 09:00", "5.0", "2", ""],
    ["A105", "B2", "Bad debt", "1", "2010-02-02 09:00", "5.0", "", "Spain"],
    ["106", "B2", "Bowl", "-1", "2010-02-03 09:00", "5.0", "3", "Spain"],
    ["C107", "B2", "Bowl", "-2", "2010-02-04 09:00", "5.5", "2", "Spain"],
    ["108", "C3", "Cup", "3", "2010-02-05 09:00", "0", "4", "Italy"],
]

RULE_SETS = [
    CleaningRules(),
    CleaningRules(drop_duplicates=False),
    CleaningRules(net_cancellations=False),
    CleaningRules(drop_non_product=False, drop_write_offs=False),
]


def _csv(path, rows=ROWS, repeat=3):
    return write_raw_csv(path, rows, repeat)


@pytest.fixture
def in_a_child(monkeypatch):
    """Every file is prepared in a child process."""
    monkeypatch.setattr(isolated, "CHILD_BYTES", 0)
    spawned = []
    real = isolated.run_in_child

    def counted(job):
        spawned.append(job)
        return real(job)

    monkeypatch.setattr(isolated, "run_in_child", counted)
    return spawned


def _stored(cache):
    """Results, lines parquet, temporary files and claims in ``cache`` (not the compiled
    statement or the file's fingerprint memo)."""
    return sorted(
        p.name
        for p in cache.rglob("*")
        if p.is_file() and p.suffix != ".sql" and not p.name.startswith(".fingerprint")
    )


@pytest.mark.parametrize("with_cache", [True, False])
def test_a_child_prepares_what_the_worker_would(tmp_path, monkeypatch, with_cache):
    csv = _csv(tmp_path / "shop.csv")
    want = {}
    for k, rules in enumerate(RULE_SETS):
        cache = tmp_path / f"worker-{k}" if with_cache else None
        want[rules] = (
            prepared.prepare_file(csv, rules, cache_dir=cache),
            prepared.prepare_file_products(csv, rules, cache_dir=cache),
        )
    prepared.wait_for_writers()
    monkeypatch.setattr(isolated, "CHILD_BYTES", 0)
    spawned = []
    real = isolated.run_in_child
    monkeypatch.setattr(isolated, "run_in_child", lambda job: spawned.append(job) or real(job))
    cache = tmp_path / "child" if with_cache else None
    for rules in RULE_SETS:
        orders, ledger = prepared.prepare_file(csv, rules, cache_dir=cache)
        lines = prepared.prepare_file_products(csv, rules, cache_dir=cache)
        pd.testing.assert_frame_equal(orders, want[rules][0][0], check_exact=True)
        pd.testing.assert_frame_equal(ledger, want[rules][0][1], check_exact=True)
        assert ledger.attrs == want[rules][0][1].attrs
        pd.testing.assert_frame_equal(lines, want[rules][1], check_exact=True)
    prepared.wait_for_writers()
    # every preparation of a large file runs in a child, from the lines parquet too (the
    # first child wrote it after answering; the others read it)
    assert len(spawned) == 2 * len(RULE_SETS)
    if with_cache:
        assert all(job.lines_file is not None for job in spawned)
        child_lines = pd.read_parquet(cache_path_for(csv, cache))
        worker_lines = pd.read_parquet(cache_path_for(csv, tmp_path / "worker-0"))
        pd.testing.assert_frame_equal(child_lines, worker_lines, check_exact=True)
        assert not [n for n in _stored(cache) if n.endswith((".tmp", ".preparing"))]


def _kind(answer) -> tuple:
    """What a child must carry back for a refused file: the error's type, whether it names a
    column and rows; the file's format is added by the caller."""
    if not isinstance(answer, DataLoadError):
        return ("accepted",)
    return (type(answer).__name__, answer.column is not None, bool(answer.rows))


def test_every_kind_of_corpus_answer_is_the_same_from_a_child(tmp_path, monkeypatch):
    """The bad-input corpus through a child: for each kind of answer (error type, with or
    without a column and rows) and each file format, a refused file gets the loader's very
    message (type, text, column, rows), a valid one the same invoice table. One file per kind
    and format: a child per file costs ~1-2 s, and the 46 files hold ~15 kinds."""
    corpus = build(tmp_path / "corpus")
    answers = {}
    for case, path in corpus:
        try:
            answers[case.name] = prepared.prepare_file(path, CleaningRules(), cache_dir=None)
        except DataLoadError as exc:
            answers[case.name] = exc
    monkeypatch.setattr(isolated, "CHILD_BYTES", 0)
    seen: set[tuple] = set()
    refused = accepted = 0
    for case, path in corpus:
        want = answers[case.name]
        kind = (*_kind(want), path.suffix)
        if kind in seen:
            continue
        seen.add(kind)
        cache = tmp_path / "cache" / case.name
        if isinstance(want, DataLoadError):
            with pytest.raises(DataLoadError) as got:
                prepared.prepare_file(path, CleaningRules(), cache_dir=cache)
            assert type(got.value) is type(want), case.name
            assert str(got.value) == str(want), case.name
            assert (got.value.column, got.value.rows, got.value.path) == (
                want.column,
                want.rows,
                want.path,
            ), case.name
            prepared.wait_for_writers()
            assert _stored(cache) == [], case.name  # nothing stored for a refused file
            refused += 1
        else:
            orders, ledger = prepared.prepare_file(path, CleaningRules(), cache_dir=cache)
            pd.testing.assert_frame_equal(orders, want[0], check_exact=True)
            pd.testing.assert_frame_equal(ledger, want[1], check_exact=True)
            accepted += 1
    # the corpus's refusals span these formats and kinds (a column named, rows named)
    assert refused >= 9 and accepted >= 1
    assert {k[-1] for k in seen if k[0] != "accepted"} >= {".csv", ".xlsx", ".zip", ".parquet"}
    assert any(k[1:3] == (True, True) for k in seen)


def _dies(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.mark.parametrize(
    ("command", "said"),
    [
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "stopped by SIGKILL"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", "stopped by SIGTERM"),
        ("import sys; sys.stdin.buffer.read(); sys.exit(3)", "exited with code 3"),
        ("import sys; sys.stdout.buffer.write(b'\\x80\\x04half an ans')", "exited with code 0"),
    ],
    ids=["killed", "terminated", "exits", "half-answer"],
)
def test_a_child_that_dies_names_the_file_and_stores_nothing(
    tmp_path, monkeypatch, in_a_child, command, said
):
    csv = _csv(tmp_path / "shop.csv")
    cache = tmp_path / "cache"
    monkeypatch.setattr(isolated, "CHILD_COMMAND", _dies(command))
    for prepare in (prepared.prepare_file, prepared.prepare_file_products):
        with pytest.raises(DataLoadError) as err:
            prepare(csv, CleaningRules(), cache_dir=cache)
        text = str(err.value)
        assert "shop.csv" in text and said in text and "Nothing was stored" in text
        assert err.value.path == "shop.csv"
    prepared.wait_for_writers()
    assert _stored(cache) == []  # no result, no lines parquet, no claim left behind
    assert isolated.children() == []
    # the next request tries again, with a child that works
    monkeypatch.setattr(
        isolated, "CHILD_COMMAND", [sys.executable, "-m", "dashapp.ingest.isolated"]
    )
    orders, ledger = prepared.prepare_file(csv, CleaningRules(), cache_dir=cache)
    assert ledger.attrs["rows_in"] == 30 and len(orders) > 0


def test_a_child_killed_while_it_works(tmp_path, monkeypatch, in_a_child):
    """A real child, killed while it reads the file: the worker says so."""
    csv = _csv(tmp_path / "shop.csv")
    cache = tmp_path / "cache"
    real_popen = subprocess.Popen

    def killed_at_once(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        proc.kill()  # before it has read its job
        return proc

    monkeypatch.setattr(isolated.subprocess, "Popen", killed_at_once)
    with pytest.raises(DataLoadError, match=r"shop\.csv stopped before it finished.*SIGKILL"):
        prepared.prepare_file(csv, CleaningRules(), cache_dir=cache)
    assert _stored(cache) == []


@pytest.mark.parametrize("rules", RULE_SETS[:2])
def test_the_child_answers_the_split_result_not_the_statements_rows(tmp_path, rules):
    """The child sends the invoice table with the ledger in its metadata (and the product
    lines as they are stored), never the statement's rows per invoice and fate; the worker
    stores that as it came, and a new process reads back exactly what the worker returned."""
    csv = _csv(tmp_path / "shop.csv")
    want_orders, want_ledger = engine.clean(load_transactions(csv), rules)
    want_lines = engine.clean_products(load_transactions(csv), rules)
    answers = {}
    for kind in (parts.ORDERS, parts.PRODUCTS):
        job = isolated.Job(
            path=str(csv),
            sql=prepared.statement(kind, rules),
            lines_file=None,
            column_map=None,
            stream_bytes=prepared.STREAM_BYTES,
            scratch_dir=str(tmp_path / "scratch"),
            settings=local.settings(),
            rules=rules,
            kind=kind,
        )
        answers[kind] = isolated.run_in_child(job)
    table = answers[parts.ORDERS]
    assert table.column_names == list(parts.ORDER_COLUMNS)  # no fate, no per-rule sums
    assert table.num_rows == len(want_orders)
    orders, ledger = parts.result_of(table)
    pd.testing.assert_frame_equal(orders, want_orders, check_exact=True)
    pd.testing.assert_frame_equal(ledger, want_ledger, check_exact=True)
    assert ledger.attrs == want_ledger.attrs and ledger.attrs["rows_in"] == 30
    assert answers[parts.PRODUCTS].column_names == list(want_lines.columns)
    pd.testing.assert_frame_equal(answers[parts.PRODUCTS].to_pandas(), want_lines)
    # stored as it came: what a new process reads equals what the first one returned
    cache = tmp_path / "cache"
    got = prepared.prepared("k", rules, cache, lambda: table)
    pd.testing.assert_frame_equal(got[0], want_orders, check_exact=True)
    stored_orders, stored_ledger = prepared.cached("k", rules, cache)
    pd.testing.assert_frame_equal(stored_orders, want_orders, check_exact=True)
    pd.testing.assert_frame_equal(stored_ledger, want_ledger, check_exact=True)
    assert stored_ledger.attrs == want_ledger.attrs
    lines = prepared.prepared_products("k", rules, cache, lambda: answers[parts.PRODUCTS])
    pd.testing.assert_frame_equal(lines, want_lines, check_exact=True)
    stored = prepared.cached("k", rules, cache, parts.PRODUCTS)
    pd.testing.assert_frame_equal(stored, want_lines, check_exact=True)


def test_an_error_inside_the_child_names_the_file(tmp_path, monkeypatch, in_a_child):
    """An unexpected error in the child (here DuckDB refusing the statement) reaches the
    worker as a DataLoadError naming the file and the error, not as a crash."""
    csv = _csv(tmp_path / "shop.csv")
    cache = tmp_path / "cache"
    monkeypatch.setattr(prepared, "statement", lambda *a, **k: "SELECT * FROM no_such_table")
    with pytest.raises(DataLoadError) as err:
        prepared.prepare_file(csv, CleaningRules(), cache_dir=cache)
    text = str(err.value)
    assert text.startswith("Preparing the invoice table of shop.csv failed: CatalogException")
    assert "no_such_table" in text
    prepared.wait_for_writers()
    assert _stored(cache) == []


def test_a_file_being_prepared_elsewhere_is_waited_for(tmp_path, monkeypatch):
    """Another process (here: this test) holds the claim on the file's preparation: the
    request waits for its result instead of cleaning the file a second time."""
    csv = _csv(tmp_path / "shop.csv")
    cache = tmp_path / "cache"
    rules = CleaningRules()
    want = prepared.prepare_file(csv, rules, cache_dir=tmp_path / "elsewhere")
    key = cache_path_for(csv, cache).stem
    assert prepared.claim(key, rules, cache, 3600.0)

    def no_cleaning(*args, **kwargs):
        raise AssertionError("cleaned while another process prepares the file")

    monkeypatch.setattr(engine, "clean", no_cleaning)
    monkeypatch.setattr(isolated, "run_in_child", no_cleaning)
    got = []
    waiting = threading.Thread(
        target=lambda: got.append(prepared.prepare_file(csv, rules, cache_dir=cache))
    )
    waiting.start()
    prepared.prepared(key, rules, cache, lambda: want)  # the other process stores its result
    prepared.release_claim(key, rules, cache)
    waiting.join(60)
    assert not waiting.is_alive() and len(got) == 1
    pd.testing.assert_frame_equal(got[0][0], want[0], check_exact=True)


def test_the_claim_of_a_process_that_died_is_taken_over(tmp_path):
    csv = _csv(tmp_path / "shop.csv")
    cache = tmp_path / "cache"
    rules = CleaningRules()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    key = cache_path_for(csv, cache).stem
    lock = prepared._result_file(cache, key, rules).with_suffix(".preparing")
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{gone.pid} 0 {prepared.socket.gethostname()}\n")
    orders, ledger = prepared.prepare_file(csv, rules, cache_dir=cache)  # does not wait an hour
    assert ledger.attrs["rows_in"] == 30 and not lock.exists()
    # a live process's claim (this one's) is respected; another host's only by its age
    assert prepared.claim("k", rules, cache, 3600.0)
    assert not prepared.claim("k", rules, cache, 3600.0)
    other = prepared._result_file(cache, "k", rules).with_suffix(".preparing")
    other.write_text(f"{gone.pid} 0 another-host\n")
    assert not prepared.claim("k", rules, cache, 3600.0)
    assert prepared.claim("k", rules, cache, 0.0)  # older than the longest preparation
    prepared.release_claim("k", rules, cache)
