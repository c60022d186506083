"""One message per bad parameter value, whichever page receives it.

The CLV horizon, margin and discount are read by the CLV page and (from the URL) by the
Action list; the clustering method and k by the Clustering page and the Action list. Each
callback is called over HTTP as the browser calls it; the alert a user sees must be the
same text on every page, built from the parameter's declaration, and never a raw Python
error, a silent reset to the default or a 500.
"""

from __future__ import annotations

import pytest

from dashapp.service import params
from tests.callback_client import CallbackClient, date_key, state_key


@pytest.fixture(scope="module")
def client(extract_app, shared_sample_xlsx):
    client = CallbackClient(extract_app)
    client.dataset = shared_sample_xlsx.stem
    return client


def alert_text(reply, output: str) -> str | None:
    """The text of the ``param-error`` alert in ``output`` of a callback reply, if any."""
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    value = reply.get_json()["response"].get(output, {}).get("children")
    if isinstance(value, dict) and "param-error" in value.get("props", {}).get("className", ""):
        return value["props"]["children"]
    return None


CLV_BASE = {
    "clv_model": "bgnbd",
    "clv_horizon": 12,
    "clv_margin": 30,
    "clv_discount": 10,
    "clv_churn": 90,
}
CLUSTER_BASE = {"cl_method": "kmeans", "cl_k": 4}


def _values(client, settings: dict) -> dict:
    return {state_key("dataset"): client.dataset, **{state_key(k): v for k, v in settings.items()}}


@pytest.mark.parametrize(
    "key, raw",
    [
        ("clv_horizon", "abc"),
        ("clv_horizon", 500),
        ("clv_horizon", 1.5),
        ("clv_horizon", None),
        ("clv_margin", 150),
        ("clv_discount", "-3"),
        ("clv_model", "lifetimes"),
        ("clv_churn", 3),
        ("clv_churn", None),
    ],
)
def test_clv_settings_get_the_same_message_on_the_clv_page_and_the_action_list(client, key, raw):
    settings = {**CLV_BASE, key: raw}
    clv = client.call("update_clv_values", _values(client, {**settings, "clv_lifespan": 3}))
    actions = client.call("update_actions", _values(client, {**settings, **CLUSTER_BASE}))
    on_clv = alert_text(clv, "clv-param-message")
    on_actions = alert_text(actions, "actions-message")
    param = params.BY_KEY[key]
    with pytest.raises(params.ParamError) as expected:
        param.parse(raw)
    assert on_clv == on_actions == str(expected.value)
    assert on_clv.startswith(param.label)


@pytest.mark.parametrize("key, raw", [("cl_k", 11), ("cl_k", "four"), ("cl_method", "spectral")])
def test_cluster_settings_get_the_same_message_on_clustering_and_the_action_list(client, key, raw):
    settings = {**CLUSTER_BASE, key: raw}
    clustering = client.call("update_clustering", _values(client, settings))
    actions = client.call("update_actions", _values(client, {**CLV_BASE, **settings}))
    with pytest.raises(params.ParamError) as expected:
        params.BY_KEY[key].parse(raw)
    assert alert_text(clustering, "cl-message") == str(expected.value)
    assert alert_text(actions, "actions-message") == str(expected.value)


def test_rfm_cut_points_and_as_of_date_get_their_message(client):
    reply = client.call("update_rfm", _values(client, {"r_cuts": "1,2,3,inf"}))
    assert "Custom R cut points (days) must be exactly 4 increasing" in alert_text(
        reply, "rfm-message"
    )
    reply = client.call("update_rfm", _values(client, {"f_cuts": "nan,nan,nan,nan"}))
    assert "Custom F cut points (invoices) must be exactly 4 increasing" in alert_text(
        reply, "rfm-message"
    )
    reply = client.call("update_rfm", _values(client, {"heat": "purple"}))
    assert alert_text(reply, "rfm-message").startswith("R x F grid colour must be one of")


def test_valid_settings_give_no_message(client):
    clv = client.call("update_clv_values", _values(client, {**CLV_BASE, "clv_lifespan": 3}))
    assert clv.get_json()["response"]["clv-param-message"]["children"] is None
    actions = client.call("update_actions", _values(client, {**CLV_BASE, **CLUSTER_BASE}))
    assert alert_text(actions, "actions-message") is None
    assert "customers; total value at stake" in str(actions.get_json()["response"])


@pytest.mark.parametrize("as_of", ["1900-01-01", "2011-12-09", "2099-01-01"])
def test_an_as_of_date_outside_the_data_gets_a_message_not_negative_recencies(client, as_of):
    """1900-01-01 gave recencies of -40,884 days; a day inside the data negative ones for the
    customers who bought after it. The data ends on 2011-12-09."""
    reply = client.call("update_rfm", {**_values(client, {}), date_key("as_of"): as_of})
    assert alert_text(reply, "rfm-message") == (
        "As-of date must be a date from 2011-12-10 to 2021-12-10 (the day after the last day "
        f"analysed, 2011-12-09, at the earliest); got '{as_of}'."
    )
    reply = client.call("update_rfm", {**_values(client, {}), date_key("as_of"): "2011-12-10"})
    assert alert_text(reply, "rfm-message") is None
    assert "'2011-12-10'" in str(reply.get_json()["response"]["rfm-kpis"])
