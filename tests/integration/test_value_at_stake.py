"""Value at stake and the recommended action on the CDNOW master file (issue 13, point 2):
customer 19339 bought 56 times for USD 6,552 and was silent for the last 446 days; the former
CLV x (1 - P(alive)) gave them 0 at stake and told this "Loyal Customers" member to upsell."""

from __future__ import annotations

import pandas as pd
import pytest

from dashapp import service
from dashapp.analytics import actions as action_rules
from tests.conftest import CDNOW, require_file


@pytest.fixture(scope="module")
def cdnow_filters(tmp_path_factory):
    """The service on the CDNOW master file (23,570 customers, 1997-01-01 to 1998-06-30),
    written as a transactions CSV: one invoice per line, quantity 1, price = dollar value."""
    from dashapp.config import Settings

    raw = pd.read_csv(
        require_file(CDNOW / "CDNOW_master.txt"),
        sep=r"\s+",
        header=0,
        names=["customer", "date", "cds", "value"],
        dtype={"customer": str, "date": str},
    )
    folder = tmp_path_factory.mktemp("cdnow")
    path = folder / "cdnow_master.csv"
    pd.DataFrame(
        {
            "Invoice": [f"I{i}" for i in range(len(raw))],
            "Quantity": 1,
            "InvoiceDate": pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d"),
            "Price": raw["value"],
            "Customer ID": raw["customer"].str.lstrip("0"),
        }
    ).to_csv(path, index=False)
    previous = service.settings()
    service.configure(
        Settings.from_env(
            env={}, data_path=path, cache_dir=folder / "cache", data_dir=folder / "data"
        )
    )
    if getattr(service.cache, "app", None) is None:
        service.init_cache(config={"CACHE_TYPE": "SimpleCache"})
    yield service.Filters.build(dataset=path.stem)
    service.configure(previous)


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_a_surely_lost_heavy_buyer_has_the_most_at_stake_and_gets_a_win_back(cdnow_filters, model):
    table = service.action_list(cdnow_filters, model, 12, 30.0, 10.0, "kmeans", 4).table
    listed = table.set_index("customer_id")
    row = listed.loc["19339"]
    assert (row["frequency"], row["recency"], round(row["monetary"])) == (56, 446, 6553)
    assert row["p_alive"] < 1e-6 and row["clv"] < 0.01  # the old measure: 0 at stake
    # BG/NBD: 12.32 discounted purchases if alive x USD 292.44 x 30 % = USD 1,080.67
    expected = {"bgnbd": 1080.67, "pareto_nbd": 1036.76}[model]
    assert row["value_at_stake"] == pytest.approx(expected, abs=0.01)
    assert table["customer_id"].iloc[0] == "19339" and len(table) == 23_502  # as on /docs
    assert row["segment"] == "Loyal Customers"
    assert row["recommended_action"].startswith("Probably lapsed")
    # every one-time buyer has something at stake (BG/NBD alone would put it at 0)
    once = listed["frequency"] == 1
    assert once.sum() > 10_000 and (listed.loc[once, "value_at_stake"] > 0).all()
    # no "Loyal Customers" or "Champions" with P(alive) under 0.5 is told to upsell
    active = listed["segment"].isin(["Loyal Customers", "Champions"])
    lapsed = listed[active & (listed["p_alive"] < action_rules.LAPSED_BELOW)]
    assert len(lapsed) > 100
    assert not lapsed["recommended_action"].str.contains("Upsell").any()
    assert (lapsed["p_alive"].between(0.15, 0.2)).any()  # e.g. a P(alive) of 0.18


def test_the_docs_worked_example_shows_the_numbers_the_list_computes(cdnow_filters):
    from dashapp.web.help import section_markdown

    text = section_markdown("actions", "USD ")
    table = service.action_list(cdnow_filters, "bgnbd", 12, 30.0, 10.0, "kmeans", 4).table
    row = table.set_index("customer_id").loc["19339"]
    assert f"**USD {row['value_at_stake']:,.2f}**" in text
    contrast = table.set_index("customer_id").loc["22279"]
    assert f"value if still active USD {contrast['clv_if_alive']:,.2f}" in text
    assert f"USD {contrast['value_at_stake']:,.2f}" in text
    assert f"P(alive) {contrast['p_alive']:.3f}" in text
    assert "{actions_" not in text and "below 50%" in text
    assert "Champions, Loyal Customers" in text
