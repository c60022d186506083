"""Bad input, end to end: the file corpus of tests/badinput through the loader and through the
upload page, malformed and hostile callback requests, hostile values in well-formed requests,
path traversal in every path-like parameter, edge date ranges and datasets too small for a
page (fewer customers than clusters), formula text in CSV exports.

Every case must get a clear message (no generic "something went wrong"), the server must
answer no 5xx and log no traceback, and nothing may be written outside the app's data and
cache folders. The server is gunicorn (the Procfile's command, 1 worker) with
``MAX_UPLOAD_MB=1`` and a default dataset full of XSS and formula text.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import pytest

from dashapp.ingest.loading import DataLoadError, load_transactions
from tests.badinput.make_corpus import FORMULA_TEXTS, XSS_COUNTRY, XSS_TEXTS, _csv, _rows, build
from tests.callback_client import date_key, state_key
from tests.servers import REPO, AppServer, ServerCallbacks, flat_text, start_servers

GENERIC = "Something went wrong"
DATASET = state_key("dataset")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, corpus):
    root = tmp_path_factory.mktemp("badinput-server")
    hostile = dict((c.name, p) for c, p in corpus)["hostile_text.csv"]
    dataset = root / "data" / "hostile_text.csv"
    dataset.parent.mkdir(parents=True, exist_ok=True)
    dataset.write_bytes(hostile.read_bytes())
    srv = AppServer(root, {"DATA_PATH": str(dataset), "MAX_UPLOAD_MB": "1"}, workers=1)
    srv.before = _snapshot(root)
    start_servers(srv)
    srv.callbacks = ServerCallbacks(srv)
    srv.uploads = {}
    yield srv
    srv.stop()


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _message(reply) -> str:
    """The text a user sees: the response's components plus the app-wide error alert."""
    assert reply.status < 500, (reply.status, reply.text[:300])
    assert reply.status == 200, (reply.status, reply.text[:300])
    return flat_text(reply.json())


def _upload(server, data: bytes, filename: str, mime: str = "text/csv"):
    contents = f"data:{mime};base64," + base64.b64encode(data).decode()
    return server.callbacks.call(
        "upload-result",
        {
            "upload-file.contents": contents,
            "upload-file.filename": filename,
            "upload-currency.value": "£",
        },
        changed="upload-file.contents",
    )


def _uploaded_id(reply) -> str:
    uploads = reply.json()["response"]["session-uploads"]["data"]
    return uploads[-1]["id"]


# ------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------
def test_the_corpus_is_small_and_large_enough(corpus):
    assert len(corpus) >= 40
    for _case, path in corpus:
        assert path.stat().st_size < 200_000, path.name  # zip bombs included


def test_the_loader_names_the_problem_of_every_bad_file(corpus, tmp_path):
    problems = []
    for case, path in corpus:
        try:
            frame = load_transactions(path, cache_dir=tmp_path / "cache")
        except DataLoadError as exc:
            text = str(exc)
            if case.kind == "ok":
                problems.append(f"{case.name}: refused ({text})")
            missing = [e for e in case.expect if e.lower() not in text.lower()]
            if missing or case.name not in text:
                problems.append(f"{case.name}: message {text!r} lacks {missing or case.name}")
        except Exception as exc:  # noqa: BLE001 (any other type is the failure reported)
            problems.append(f"{case.name}: {type(exc).__name__} instead of DataLoadError: {exc}")
        else:
            if case.kind == "error":
                problems.append(f"{case.name}: loaded, expected an error about {case.expect}")
                continue
            texts = set()
            for column in ("description", "country", "customer_id"):
                texts |= {str(v) for v in frame[column].dropna().unique()}
            lost = [e for e in case.expect if not any(e in t for t in texts)]
            if lost:
                problems.append(f"{case.name}: text lost or altered: {lost}")
    assert not problems, "\n".join(problems)


def test_every_corpus_file_uploaded_gets_a_clear_answer(server, corpus):
    """Refused files answer with the loader's message (or the column-mapping form when only
    headers are wrong); valid ones load. Never a 5xx, never the generic error."""
    answered = 0
    for case, path in corpus:
        if not case.upload:
            continue
        reply = _upload(server, path.read_bytes(), case.name)
        text = _message(reply)
        assert GENERIC not in text, (case.name, text)
        if case.kind == "ok":
            assert "Loaded" in text, (case.name, text[:300])
            server.uploads[case.name] = _uploaded_id(reply)
        else:
            assert "Loaded" not in text, case.name
            missing = [e for e in case.expect if e.lower() not in text.lower()]
            assert not missing, (case.name, missing, text[:400])
        answered += 1
    assert answered >= 30


def test_an_upload_whose_dates_read_both_ways_asks_for_the_order(server, corpus):
    """Every day <= 12 (01/01/2011 .. 12/01/2011): the upload is not loaded until its owner
    says day first or month first; the choice is kept with the upload and read that way."""
    path = dict((c.name, p) for c, p in corpus)["date_ambiguous.csv"]
    reply = _upload(server, path.read_bytes(), "date_ambiguous.csv")
    text = _message(reply)
    response = reply.json()["response"]
    assert "Loaded" not in text and "Which date order does this file use?" in text
    # 90 lines; the 8 on 01/01/2011 read the same either way
    assert "'InvoiceDate' has 82 dates that read both day-first and month-first" in text
    assert response["upload-dates"]["style"] == {"display": "block"}
    pending = response["upload-pending"]["data"]
    assert "session-uploads" not in response  # nothing half-loaded into the session

    def choose(order):
        return server.callbacks.call(
            "upload-result",
            {
                "upload-date-apply.n_clicks": 1,
                "upload-date-order.value": order,
                "upload-pending.data": pending,
                "upload-currency.value": "£",
            },
            changed="upload-date-apply.n_clicks",
        )

    assert "Choose the date order of the file." in _message(choose(None))
    chosen = choose("dmy")
    assert "Loaded" in _message(chosen), _message(chosen)[:300]
    upload_id = _uploaded_id(chosen)
    meta = json.loads((server.root / "data" / "uploads" / upload_id / "meta.json").read_text())
    assert meta["column_map"] == {"date_order": "dmy"}
    # read day first: every invoice in January 2011 (month first: January to December)
    defaults = _control_defaults(server)
    overview = server.callbacks.call("overview-kpis", {**defaults, DATASET: upload_id})
    trend = overview.json()["response"]["overview-trend"]["figure"]
    months = {str(x)[:7] for trace in trend["data"] for x in trace.get("x", [])}
    assert months == {"2011-01"}, months


def test_uploads_refused_before_reading_them(server):
    small = _csv(_rows(n_customers=5))
    big = small * (1_300_000 // len(small) + 1)  # 1.3 MB > MAX_UPLOAD_MB=1
    cases = [
        (big, "big.csv", "larger than the upload limit of 1 MB"),
        (small, "evil.exe", "only CSV (.csv) and Excel (.xlsx)"),
        (small, "noextension", "only CSV"),
        (small, "report.csv.php", "only CSV"),
        (b"", "empty.csv", "empty.csv is empty"),
    ]
    for data, name, expected in cases:
        text = _message(_upload(server, data, name))
        assert expected.lower() in text.lower(), (name, text[:300])
    not_base64 = server.callbacks.call(
        "upload-result",
        {
            "upload-file.contents": "data:text/csv;base64,@@@not base64@@@",
            "upload-file.filename": "x.csv",
        },
        changed="upload-file.contents",
    )
    assert "not valid base64" in _message(not_base64)
    # a body larger than any upload can be is refused before it is read (413)
    huge = server.callbacks.payload(
        "upload-result",
        {
            "upload-file.contents": "data:text/csv;base64," + "QUJD" * 800_000,
            "upload-file.filename": "huge.csv",
        },
        changed="upload-file.contents",
    )
    try:
        reply = server.post_json("/_dash-update-component", huge)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered 413 and closed before the client finished sending
    else:
        assert reply.status == 413 and "larger than the limit" in reply.json()["error"]


def test_upload_file_names_cannot_escape_the_upload_folder(server):
    data = _csv(_rows(n_customers=12, seed=3))
    for name in (
        "../../../evil.csv",
        "..\\..\\..\\evil.csv",
        "/etc/cron.d/evil.csv",
        "%2e%2e%2fevil.csv",
        "<img src=x onerror=alert(1)>.csv",
    ):
        text = _message(_upload(server, data, name))
        assert "Loaded" in text, (name, text[:300])
    folder = (server.root / "data" / "uploads").resolve()
    stored = [p for p in folder.rglob("*") if p.is_file()]
    assert stored
    for path in server.root.rglob("*evil*"):  # the upload, and its parquet copy in the cache
        assert path.resolve().is_relative_to(folder) or path.resolve().is_relative_to(
            (server.root / "cache").resolve()
        ), path
    for outside in (REPO / "evil.csv", REPO.parent / "evil.csv", Path("/etc/cron.d/evil.csv")):
        assert not outside.exists(), outside


# ------------------------------------------------------------------------------------------
# Malformed callback requests
# ------------------------------------------------------------------------------------------
def _malformed(server) -> list[tuple[str, bytes, dict]]:
    good = server.callbacks.payload("rfm-kpis", {DATASET: "hostile_text"})
    download = server.callbacks.payload("rfm-download", {"rfm-download-btn.n_clicks": 1})
    inputs = good["inputs"]
    json_type = {"Content-Type": "application/json"}

    def variant(**changes):
        return json.dumps({**good, **changes}).encode()

    wrong_id = [dict(inputs[0], id={"key": "other", "kind": "state"}), *inputs[1:]]
    wrong_prop = [dict(inputs[0], property="children"), *inputs[1:]]
    return [
        ("garbage bytes", b"\x00\xff\xfe garbage {", json_type),
        ("invalid UTF-8", b'{"output": "\xff\xfe"}', json_type),
        ("truncated JSON", b'{"output": "..rfm-kpis.children', json_type),
        ("not JSON content type", variant(), {"Content-Type": "text/plain"}),
        ("form encoded", b"output=rfm-kpis", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("JSON array", b"[1, 2, 3]", json_type),
        ("JSON string", b'"update_rfm"', json_type),
        ("JSON null", b"null", json_type),
        ("empty object", b"{}", json_type),
        (
            "no output",
            json.dumps({k: v for k, v in good.items() if k != "output"}).encode(),
            json_type,
        ),
        ("unknown output", variant(output="..evil.children..."), json_type),
        ("output not text", variant(output=12), json_type),
        ("NaN output", b'{"output": NaN}', json_type),
        (
            "inputs missing",
            json.dumps({k: v for k, v in good.items() if k != "inputs"}).encode(),
            json_type,
        ),
        ("inputs not a list", variant(inputs={"a": 1}), json_type),
        ("too many inputs", variant(inputs=[*inputs, inputs[0]]), json_type),
        ("too few inputs", variant(inputs=inputs[:2]), json_type),
        ("input not an object", variant(inputs=["x", *inputs[1:]]), json_type),
        ("input for another component", variant(inputs=wrong_id), json_type),
        ("input for another property", variant(inputs=wrong_prop), json_type),
        ("changedPropIds not a list", variant(changedPropIds="x"), json_type),
        ("changedPropIds of numbers", variant(changedPropIds=[1, 2]), json_type),
        ("state not a list", json.dumps({**download, "state": "x"}).encode(), json_type),
        ("state missing", json.dumps({**download, "state": []}).encode(), json_type),
        ("outputs a number", variant(outputs=5), json_type),
        ("deeply nested", b'{"output": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", json_type),
    ]


def test_malformed_callback_requests_get_a_400_with_a_reason(server):
    cases = _malformed(server)
    assert len(cases) >= 20
    for name, body, headers in cases:
        reply = server.request("POST", "/_dash-update-component", body=body, headers=headers)
        assert 400 <= reply.status < 500, (name, reply.status, reply.text[:200])
        assert reply.json()["error"], name
    assert server.get("/_dash-update-component").status < 500


def test_values_of_the_wrong_json_type_are_refused(server):
    for values in (
        {DATASET: 123},
        {DATASET: ["a", "b"]},
        {DATASET: {"x": 1}},
        {DATASET: "hostile_text", date_key("start"): 20110101},
        {DATASET: "hostile_text", date_key("end"): ["2011-01-01"]},
    ):
        reply = server.callbacks.call("rfm-kpis", values)
        assert reply.status == 400 and "must be text" in reply.json()["error"], values


def test_wrong_values_in_well_formed_requests_get_a_message(server):
    hostile = {DATASET: "hostile_text"}
    cases = [
        ("overview-kpis", {DATASET: "hostile_text\x00"}, "Unknown dataset"),
        ("overview-kpis", {DATASET: "x" * 5000}, "Unknown dataset"),
        ("overview-kpis", {**hostile, date_key("start"): "not-a-date"}, "is not a date"),
        ("overview-kpis", {**hostile, date_key("end"): "2011-13-45"}, "is not a date"),
        ("rfm-kpis", {**hostile, date_key("start"): "2011-02-30"}, "is not a date"),
        (
            "overview-kpis",
            {**hostile, state_key("countries"): [{"a": 1}, 7, None]},
            "No invoices match",
        ),
        ("overview-kpis", {**hostile, state_key("countries"): "France"}, "Net revenue"),
        ("rfm-kpis", {**hostile, state_key("r_cuts"): "1,2,3"}, "exactly 4 increasing"),
        ("rfm-kpis", {**hostile, state_key("f_cuts"): "a,b,c,d"}, "must be exactly 4 increasing"),
        ("rfm-kpis", {**hostile, state_key("m_cuts"): "40,30,20,10"}, "exactly 4 increasing"),
        ("rfm-kpis", {**hostile, state_key("r_cuts"): "9" * 20_000}, "exactly 4 increasing"),
        ("rfm-kpis", {**hostile, state_key("r_cuts"): ["1", "2"]}, "cut points"),
        ("rfm-kpis", {**hostile, state_key("heat"): "<b>bogus</b>"}, "grid colour must be one of"),
        ("rfm-kpis", {**hostile, date_key("as_of"): "not a day"}, "not a day"),
    ]
    for output, values, expected in cases:
        text = _message(server.callbacks.call(output, values))
        assert GENERIC not in text, (values, text[:300])
        assert expected.lower() in text.lower(), (values, expected, text[:300])


def test_path_traversal_in_dataset_ids_and_urls(server):
    for dataset in (
        "../../etc/passwd",
        "/etc/passwd",
        "upload-../../../etc/passwd",
        "upload-0000000000ab/../../x",
        "..\\..\\windows\\win.ini",
        "upload-%2e%2e%2fetc",
    ):
        text = _message(server.callbacks.call("overview-kpis", {DATASET: dataset}))
        assert "Unknown dataset" in text and GENERIC not in text, (dataset, text[:200])
    gone = _message(server.callbacks.call("overview-kpis", {DATASET: "upload-" + "0123" * 8}))
    assert "not available to you" in gone
    # a dataset id in the page URL: the page says so and shows the default dataset
    for search in (
        "?dataset=../../etc/passwd",
        "?dataset=%2Fetc%2Fpasswd",
        "?dataset=upload-..%2F..%2Fetc",
    ):
        text = _message(server.callbacks.page("/rfm", search))
        assert "Unknown dataset" in text and "Showing the default dataset" in text, search
    for path in (
        "/assets/../../../../etc/passwd",
        "/assets/..%2f..%2f..%2fetc%2fpasswd",
        "/assets/%2e%2e/%2e%2e/dashapp/config.py",
        "/_dash-component-suites/dash/../../../../etc/passwd",
        "/_dash-component-suites/dash/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/_dash-component-suites/dash/dcc/..%2f..%2fdash.py",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..;/..;/etc/passwd",
    ):
        reply = server.get(path)
        assert reply.status < 500, path
        assert b"root:" not in reply.body and b"import " not in reply.body, path


# ------------------------------------------------------------------------------------------
# Every page with edge ranges and tiny datasets (fewer customers than clusters)
# ------------------------------------------------------------------------------------------
#: Known gaps outside this suite's files, reported to their owners: the RFM page answers the
#: generic error when the filters match no customer (service.rfm_view formats the dates of an
#: empty customer table with ``.dt``, whose dtype is then object). Listed so that the sweep
#: still fails on any *new* case; it passes outright once these are fixed.
FILTER_KEYS = {
    DATASET.rsplit(".", 1)[0],
    date_key("start").rsplit(".", 1)[0],
    date_key("end").rsplit(".", 1)[0],
    state_key("countries").rsplit(".", 1)[0],
}


def _page_callbacks(server) -> dict[str, dict]:
    """Server callbacks that read the dataset (as input or state), by their first output id
    (clientside callbacks run in the browser: the server has nothing to answer)."""
    return {
        out: dep
        for out, dep in server.callbacks.by_output.items()
        if any(d["id"] == DATASET.rsplit(".", 1)[0] for d in dep["inputs"] + dep.get("state", []))
        and not dep.get("clientside_function")
    }


def _control_defaults(server) -> dict:
    """The initial value of every page's URL-state controls, read from the page layouts: what
    the browser sends along with the filters."""
    layout = json.dumps(server.get("/_dash-layout").json())
    paths = set(re.findall(r'"href": "(/[^"?#]*)', layout)) | {"/"}
    values: dict = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props")
            ident = props.get("id") if isinstance(props, dict) else None
            if isinstance(ident, dict) and ident.get("kind") in ("state", "date"):
                key = json.dumps(ident, sort_keys=True, separators=(",", ":"))
                if key not in FILTER_KEYS:
                    prop = "date" if ident["kind"] == "date" else "value"
                    values[f"{key}.{prop}"] = props.get(prop)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(paths):
        walk(server.callbacks.page(path).json())
    return values


def test_every_page_callback_explains_edge_ranges_and_tiny_datasets(server, corpus):
    ids = dict(server.uploads)
    for name in ("one_customer.csv", "one_day.csv"):
        if name not in ids:
            path = dict((c.name, p) for c, p in corpus)[name]
            ids[name] = _uploaded_id(_upload(server, path.read_bytes(), name))
    scenarios = {
        "one customer": {DATASET: ids["one_customer.csv"]},
        "one day of data": {DATASET: ids["one_day.csv"]},
        "1-day range": {
            DATASET: "hostile_text",
            date_key("start"): "2011-01-10",
            date_key("end"): "2011-01-10",
        },
        "empty range (end before start)": {
            DATASET: "hostile_text",
            date_key("start"): "2011-02-10",
            date_key("end"): "2011-01-10",
        },
        "range without data": {DATASET: "hostile_text", date_key("start"): "2030-01-01"},
        "countries without data": {DATASET: "hostile_text", state_key("countries"): ["Nowhere"]},
        "hostile country": {DATASET: "hostile_text", state_key("countries"): [XSS_COUNTRY]},
        "traversal in the dataset id": {DATASET: "../../../etc/passwd"},
    }
    defaults = _control_defaults(server)
    callbacks = _page_callbacks(server)
    assert {"overview-kpis", "rfm-kpis", "rfm-download"} <= set(callbacks)
    failures, calls = {}, 0
    for out, dep in callbacks.items():
        clicks = {
            f"{d['id']}.{d['property']}": 1 for d in dep["inputs"] if d["property"] == "n_clicks"
        }
        for label, values in scenarios.items():
            reply = server.callbacks.call(out, {**defaults, **values, **clicks})
            calls += 1
            if reply.status >= 500:
                failures[(out, label)] = f"HTTP {reply.status}"
            elif reply.status != 200:
                failures[(out, label)] = f"HTTP {reply.status}: {reply.text[:200]}"
            elif GENERIC in flat_text(reply.json()):
                failures[(out, label)] = "generic error instead of a message"
    assert calls >= 8 * len(scenarios)
    assert not failures, "\n".join(f"{k[0]} / {k[1]}: {v}" for k, v in failures.items())


def test_rfm_and_clusters_say_why_a_tiny_dataset_is_not_enough(server, corpus):
    one = server.uploads.get("one_customer.csv") or _uploaded_id(
        _upload(
            server,
            dict((c.name, p) for c, p in corpus)["one_customer.csv"].read_bytes(),
            "one_customer.csv",
        )
    )
    text = _message(server.callbacks.call("rfm-kpis", {DATASET: one}))
    assert "Only 1 customer" in text, text[:300]
    if "cl-summary" in server.callbacks.by_output:  # the clustering page
        text = _message(server.callbacks.call("cl-summary", {DATASET: one, state_key("cl_k"): 4}))
        assert "customer" in text.lower() and GENERIC not in text, text[:300]
    else:
        pytest.skip("no clustering page yet")


# ------------------------------------------------------------------------------------------
# Hostile text: rendered as text, neutralised in CSV exports
# ------------------------------------------------------------------------------------------
def _components(node):
    """Every component (``{"type", "namespace", "props"}``) inside a JSON value."""
    if isinstance(node, dict):
        if "type" in node and "props" in node:
            yield node
        for value in node.values():
            yield from _components(value)
    elif isinstance(node, list):
        for value in node:
            yield from _components(value)


def test_xss_text_is_never_sent_as_html(server):
    """Hostile text from the data reaches the browser only as plain strings of ordinary
    props (children, labels, options): no component that renders HTML carries it."""
    seen = False
    for path in ("/", "/rfm", "/upload", "/docs", "/clustering", "/clv", "/cohorts"):
        reply = server.callbacks.page(path, "?countries=" + XSS_COUNTRY)
        assert reply.status == 200, path
        for component in _components(reply.json()):
            props = component["props"]
            assert props.get("dangerously_allow_html") is not True, (path, component["type"])
            assert component["type"] not in ("Iframe", "ObjectEl", "Embed", "Script"), path
            if component["type"] == "Markdown":
                assert not any(t in json.dumps(props) for t in XSS_TEXTS), path
        seen = seen or XSS_COUNTRY in json.dumps(reply.json(), ensure_ascii=False)
    assert seen, "the hostile country never reached the pages (the test would prove nothing)"


def test_csv_exports_neutralise_formula_text(server):
    downloads = [out for out in server.callbacks.by_output if out.endswith("download")]
    assert "rfm-download" in downloads
    defaults = _control_defaults(server)
    exported = []
    for out in downloads:
        dep = server.callbacks.by_output[out]
        clicks = {
            f"{d['id']}.{d['property']}": 1 for d in dep["inputs"] if d["property"] == "n_clicks"
        }
        reply = server.callbacks.call(out, {**defaults, DATASET: "hostile_text", **clicks})
        assert reply.status == 200, (out, reply.status, reply.text[:200])
        data = reply.json().get("response", {}).get(out, {}).get("data")
        if not data:
            continue
        rows = list(csv.reader(io.StringIO(data["content"])))
        cells = [c for row in rows[1:] for c in row]
        risky = [c for c in cells if c.startswith(FORMULA_START) and not _is_number(c)]
        assert not risky, (out, risky[:5])
        neutralised = {c for c in cells if c.startswith("'")}
        assert {"'" + t for t in FORMULA_TEXTS} <= neutralised, (out, neutralised)
        exported.append(out)
    assert "rfm-download" in exported, exported


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------------------
# Afterwards (keep these last in the module)
# ------------------------------------------------------------------------------------------
#: Exceptions a callback may raise for bad input: the app-wide handler turns them into the
#: message the user sees (and logs them).
USER_ERRORS = (
    "DataLoadError",
    "ValueError",
    "UploadError",
    "UploadNotAvailable",
    "ClusteringError",
    "ModelError",
    "FitError",
)


def test_the_server_logged_no_unhandled_exception_and_no_5xx(server):
    log = server.log()
    assert "Exception on " not in log, log[log.find("Exception on ") :][:3000]
    assert not re.search(r'" 5\d\d \d', log), "gunicorn logged a 5xx response"
    # callback errors were handled: bad input is refused with a message (logged at INFO),
    # and nothing else failed
    assert "callback failed" not in log, log[log.find("callback failed") :][:6000]
    refused = re.findall(r"callback refused input: (\w+): ", log)
    assert refused, "the bad requests above were not logged"
    assert set(refused) <= set(USER_ERRORS), set(refused)
    assert XSS_TEXTS  # (the hostile dataset was the default all along)


def test_nothing_was_written_outside_the_data_and_cache_folders(server):
    after = _snapshot(server.root)
    changed = [
        name
        for name, mtime in after.items()
        if server.before.get(name) != mtime and name != "server.log"
    ]
    outside = [n for n in changed if not n.startswith(("data/", "cache/"))]
    assert changed and not outside, outside
    assert not any((server.root / "tmp").iterdir()), "temp files left behind"
    assert not any((server.root / "home").iterdir()), "files written to HOME"
