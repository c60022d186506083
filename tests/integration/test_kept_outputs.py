"""Page callbacks whose outputs are kept in the results cache (dashapp.web.outputs): the
kept answer is the computed one byte for byte, other inputs get their own, a cleared cache
computes again, and a dataset that cannot be read is refused as without the cache."""

from __future__ import annotations

import pytest

from dashapp import service
from tests.callback_client import CallbackClient, controls_at_start, date_key, state_key

#: Every callback wrapped in kept_outputs, with an input that changes its answer.
KEPT = {
    "update_overview": (date_key("start"), "2010-06-01"),
    "update_rfm": (state_key("r_cuts"), "14,30,90,180"),
    "update_cohorts": (date_key("end"), "2011-06-30"),
    "update_clv_values": (state_key("clv_horizon"), 6),
    "update_migration": (state_key("mig_period"), "month"),
    "update_actions": (state_key("clv_margin"), 50),
    "update_plan": (state_key("cp_cost"), 3.5),
    "update_clustering": (state_key("cl_k"), 3),
    "update_countries": (state_key("clv_horizon"), 6),
    "update_customer": (state_key("id"), "12682"),
}


@pytest.fixture(scope="module")
def client(extract_app, shared_sample_xlsx):
    client = CallbackClient(extract_app)
    client.dataset = shared_sample_xlsx.stem
    return client


@pytest.mark.parametrize("name", list(KEPT))
def test_a_kept_answer_is_the_computed_one(client, name):
    values = controls_at_start(client.dataset)
    service.cache.clear()
    first = client.call(name, values)
    again = client.call(name, values)
    assert first.status_code == again.status_code == 200, first.get_data(as_text=True)[:300]
    assert again.data == first.data  # from the cache: the same bytes
    key, other = KEPT[name]
    changed = client.call(name, {**values, key: other})
    assert changed.status_code == 200 and changed.data != first.data
    service.cache.clear()
    assert client.call(name, values).data == first.data  # computed again: the same


def test_outputs_are_kept_per_callback_and_inputs_and_computed_once(client):
    """Two callbacks with the same inputs keep their own answers; the same inputs asked
    again do not run the page function (it is read from the cache)."""
    from dashapp.web import outputs

    calls = []

    def page(dataset, start, end, countries):
        calls.append((dataset, start, end, countries))
        return {"page": "a", "start": start}

    def other(dataset, start, end, countries):
        return {"page": "b", "start": start}

    a, b = outputs.kept_outputs(page), outputs.kept_outputs(other)
    with client.app.server.test_request_context():
        service.cache.clear()
        assert a(client.dataset, None, None, ["France"]) == {"page": "a", "start": None}
        assert a(client.dataset, None, None, ["France"]) == {"page": "a", "start": None}
        assert b(client.dataset, None, None, ["France"]) == {"page": "b", "start": None}
        assert a(client.dataset, "2011-01-01", None, ["France"])["start"] == "2011-01-01"
        assert len(calls) == 2
        # a dataset that is not there: no version, no cache: the page itself says why
        assert a("no-such-dataset", None, None, None) == {"page": "a", "start": None}
        assert a("no-such-dataset", None, None, None) == {"page": "a", "start": None}
        assert len(calls) == 4
