"""The scheduled-job commands as a scheduler runs them (a new process each): exit codes,
the one-line reasons, the files written (atomically), on a file and on a PostgreSQL table.

PostgreSQL (127.0.0.1:5432, database ``test``; ``TEST_PG_URL``) unreachable: the SQL test
skips, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pandas as pd
import pytest

from dashapp.analytics import actions
from tests import engines as corpus
from tests.conftest import PG_URL, ROOT, postgres_problem, require


def run(tmp_path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {
        "PATH": "/usr/bin:/bin",
        "DATA_DIR": str(tmp_path / "data"),
        "CACHE_DIR": str(tmp_path / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-m", "dashapp", *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line_error(done: subprocess.CompletedProcess, command: str = "export") -> str:
    """The error line: exit 1, nothing on stdout, exactly one line on stderr."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{command}: error: ")
    return lines[0]


@pytest.mark.parametrize("command", ["export", "report"])
def test_help_of_each_command(tmp_path, command):
    done = run(tmp_path, command, "--help")
    assert done.returncode == 0
    for option in ("--output", "--config", "--dataset", "--start", "--countries", "--model",
                   "--horizon", "--margin", "--discount", "--cluster-method", "--k"):  # fmt: skip
        assert option in done.stdout
    assert "Exit 0 done, 1 failed" in " ".join(done.stdout.split())
    assert run(tmp_path, command, "--no-such-option").returncode == 2


def test_export_writes_the_action_list_columns_and_the_scores(shared_sample_xlsx, tmp_path):
    out = tmp_path / "customers.csv"
    done = run(tmp_path, "export", "--data", str(shared_sample_xlsx), "-o", str(out))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, dtype={"customer_id": str})
    assert list(table.columns[: len(actions.COLUMNS)]) == actions.COLUMNS
    assert {"r_score", "f_score", "m_score", "rfm_code"} <= set(table.columns)
    # churn over the horizon and the CLV with its (default 90 %) interval, as issue 19 lists
    assert {"p_churn", "p_not_alive", "clv_lo", "clv_hi", "p_alive_lo"} <= set(table.columns)
    known = table.dropna(subset=["clv_lo", "clv_hi"])
    assert len(known) > 200 and (known["clv_lo"] <= known["clv_hi"]).all()
    assert table["customer_id"].is_unique and len(table) > 200
    assert table["value_at_stake"].dropna().is_monotonic_decreasing
    assert f"Wrote {len(table):,} rows x {table.shape[1]} columns (table, csv)" in done.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".customers")]


def test_export_from_a_config_file_filtered_to_parquet(shared_sample_xlsx, tmp_path):
    config = tmp_path / "job.toml"
    out = tmp_path / "fr.parquet"
    config.write_text(
        f'data = "{shared_sample_xlsx}"\noutput = "{out}"\ncountries = ["France"]\n'
        'start = "2010-01-01"\nend = "2011-12-09"\nmodel = "pareto_nbd"\nhorizon = 6\n'
        'cluster_method = "gmm"\nk = 3\n'
    )
    done = run(tmp_path, "export", "--config", str(config))
    assert done.returncode == 0, done.stderr
    france = pd.read_parquet(out)
    everyone = run(tmp_path, "export", "--config", str(config), "--countries", "France,Spain",
                   "-o", str(tmp_path / "two.parquet"))  # fmt: skip
    assert everyone.returncode == 0, everyone.stderr
    both = pd.read_parquet(tmp_path / "two.parquet")
    assert 0 < len(france) < len(both)
    assert set(france["customer_id"]) < set(both["customer_id"])
    assert pd.api.types.is_float_dtype(france["clv"])  # typed, not text
    assert france["cluster"].nunique() <= 3


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--horizon", "500"], "Horizon (months of 30 days) must be a whole number from 1 to 120"),
        (["--churn", "3"], "Churn horizon H (days) must be a whole number from 7 to 730"),
        (["--countries", "Narnia"], "Unknown country 'Narnia'"),
        (["--dataset", "nope"], "Unknown dataset 'nope'; available:"),
        (["--start", "2011-05-01", "--end", "2010-01-01"], "lies after the end"),
        (["--start", "yesterday-ish"], "'yesterday-ish' is not a date"),
        (["--model", "magic"], "Purchase model must be one of"),
        (["--layout", "mailchimp"], "needs e-mail addresses and none of the"),
        (["--start", "2030-01-01"], "No customers match these filters"),
    ],
)
def test_export_errors_are_one_line_and_leave_the_old_file(
    shared_sample_xlsx, tmp_path, args, reason
):
    out = tmp_path / "keep.csv"
    out.write_text("previous\n")
    done = run(tmp_path, "export", "--data", str(shared_sample_xlsx), "-o", str(out), *args)
    assert reason in one_line_error(done)
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["keep.csv"]


def test_export_setup_errors(shared_sample_xlsx, tmp_path):
    data = ["--data", str(shared_sample_xlsx)]
    assert "does not exist" in one_line_error(run(tmp_path, "export", "--data", "no.xlsx",
                                                  "-o", "x.csv"))  # fmt: skip
    assert "No output file" in one_line_error(run(tmp_path, "export", *data))
    bad = tmp_path / "bad.toml"
    bad.write_text("horizon = \n")
    assert "is not valid TOML" in one_line_error(run(tmp_path, "export", "--config", str(bad)))
    bad.write_text('colour = "red"\n')
    assert "unknown key 'colour'" in one_line_error(run(tmp_path, "export", "--config", str(bad)))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = one_line_error(run(tmp_path, "export", *data, "-o", str(blocker / "out.csv")))
    assert "cannot write" in line
    line = one_line_error(run(tmp_path, "export", *data, "-o", str(tmp_path / "x.parquet"),
                              "--layout", "hubspot"))  # fmt: skip
    assert "is a CSV import file" in line
    # a bad setting in the environment is refused before the command starts (the app's
    # own start-up check): exit 1, one line
    done = run(tmp_path, "export", *data, "-o", "x.csv", env={"DATA_SQL_URL": "not a url"})
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "DATA_SQL_URL is not a database URL" in done.stderr


def test_crm_export_joins_the_contacts_and_counts_the_missing(shared_sample_xlsx, tmp_path):
    table = tmp_path / "all.csv"
    assert (
        run(tmp_path, "export", "--data", str(shared_sample_xlsx), "-o", str(table)).returncode == 0
    )
    ids = pd.read_csv(table, dtype={"customer_id": str})["customer_id"].tolist()
    contacts = tmp_path / "contacts.csv"
    rows = [f"{cid}.0,c{cid}@example.com,=Evil Name" for cid in ids[:10]]
    contacts.write_text("customer_id,email,name\n" + "\n".join(rows) + "\n")
    out = tmp_path / "mailchimp.csv"
    done = run(tmp_path, "export", "--data", str(shared_sample_xlsx), "-o", str(out),
               "--layout", "mailchimp", "--contacts", str(contacts))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{len(ids):,} customers; 10 with an e-mail, {len(ids) - 10:,} without a contact" in (
        done.stdout
    )
    text = out.read_text()
    assert text.startswith("Email Address,First Name,Last Name,Tags,Customer ID,RFM Segment")
    assert "'=Evil" in text and ",=Evil" not in text
    assert len(pd.read_csv(out)) == 10


def test_export_from_a_postgresql_table_matches_the_file(shared_sample_xlsx, tmp_path):
    require(postgres_problem(PG_URL))
    import sqlalchemy as sa

    name = f"t_cli_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    corpus.store(admin, name, corpus.raw_extract(), {"Price": sa.Numeric(12, 3)})
    try:
        env = {"DATA_SQL_URL": PG_URL, "DATA_SQL_TABLE": name}
        sql_out, file_out = tmp_path / "sql.csv", tmp_path / "file.csv"
        done = run(tmp_path, "export", "-o", str(sql_out), env=env)  # SQL is the default
        assert done.returncode == 0, done.stderr
        assert f"of SQL: {name} to" in done.stdout
        report = run(tmp_path, "report", "-o", str(tmp_path / "sql.html"), env=env)
        assert report.returncode == 0, report.stderr
        assert f"Customer summary: SQL: {name}" in (tmp_path / "sql.html").read_text()
        bad = run(tmp_path, "export", "-o", str(sql_out), env={**env, "DATA_SQL_TABLE": "absent_t"})
        assert "absent_t" in one_line_error(bad)
        filed = run(tmp_path, "export", "--data", str(shared_sample_xlsx), "--dataset",
                    shared_sample_xlsx.stem, "-o", str(file_out))  # fmt: skip
        assert filed.returncode == 0, filed.stderr
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))
        admin.dispose()
    sql = pd.read_csv(sql_out, dtype={"customer_id": str}).set_index("customer_id")
    file = pd.read_csv(file_out, dtype={"customer_id": str}).set_index("customer_id")
    assert sorted(sql.index) == sorted(file.index)
    file = file.loc[sql.index]
    assert (sql["segment"] == file["segment"]).all()
    assert (sql["frequency"] == file["frequency"]).all()
    assert sql["clv"].sub(file["clv"]).abs().max() < 0.01


def test_report_opens_offline_with_the_overview_kpis(shared_sample_xlsx, tmp_path, filters):
    """The report, opened in headless Chromium with every network request refused: nothing
    is requested but the file itself, every chart is drawn, and the KPIs are the Overview's."""
    from playwright.sync_api import sync_playwright

    from dashapp import service
    from dashapp.web.format import money, number, percent
    from tests.conftest import CHROMIUM_FLAGS

    out = tmp_path / "summary.html"
    done = run(tmp_path, "report", "--data", str(shared_sample_xlsx), "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.count(get_plotlyjs_marker()) == 1  # plotly.js embedded once
    assert "<script src=" not in text and "<link " not in text
    kpis = service.overview(filters).kpis
    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_FLAGS))
        page = browser.new_page(viewport={"width": 1200, "height": 900})

        def refuse(route):
            url = route.request.url
            if url.startswith(("file:", "data:", "blob:")):
                route.continue_()
            else:
                requested.append(url)
                route.abort()

        page.route("**/*", refuse)
        page.goto(out.as_uri())
        page.wait_for_function("document.querySelectorAll('.main-svg').length >= 5", timeout=30000)
        body = page.inner_text("body")
        charts = page.eval_on_selector_all(".js-plotly-plot", "els => els.length")
        browser.close()
    assert requested == []
    assert charts == 5  # monthly revenue, segments, CLV, cohorts, clusters
    for value in (money(kpis.net_revenue), number(kpis.customers), number(kpis.orders),
                  money(kpis.aov, "£", 2), percent(kpis.repeat_rate)):  # fmt: skip
        assert value in body
    for heading in ("Overview", "RFM segments", "Predicted CLV", "Cohort retention",
                    "Clusters", "Action list"):  # fmt: skip
        assert heading in body


def get_plotlyjs_marker() -> str:
    """plotly.js's banner (``* plotly.js v4.1.1``): once per copy of the library."""
    from plotly.offline import get_plotlyjs

    banner = get_plotlyjs().splitlines()[1]
    assert banner.startswith("* plotly.js v"), banner
    return banner


def test_report_errors_are_one_line(shared_sample_xlsx, tmp_path):
    out = tmp_path / "r.html"
    line = one_line_error(
        run(tmp_path, "report", "--data", str(shared_sample_xlsx), "-o", str(out), "--k", "99"),
        "report",
    )
    assert "Clusters k must be a whole number" in line
    assert not out.exists()
