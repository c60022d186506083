"""The Action list's CRM download, called over HTTP as the browser calls it: the vendor's
headers, the contacts uploaded in the browser joined, the count of customers without a
contact, and a message (no download, no 500) when a vendor layout has no e-mail at all."""

from __future__ import annotations

import base64
import io

import pandas as pd
import pytest

from dashapp import service
from tests.callback_client import CallbackClient, state_key


@pytest.fixture(scope="module")
def client(extract_app, shared_sample_xlsx):
    client = CallbackClient(extract_app)
    client.dataset = shared_sample_xlsx.stem
    return client


def _values(client, layout, contents=None, filename=None) -> dict:
    return {
        "actions-crm-btn.n_clicks": 1,
        "actions-crm-layout.value": layout,
        "actions-contacts.contents": contents,
        "actions-contacts.filename": filename,
        state_key("dataset"): client.dataset,
        **{state_key(k): v for k, v in {"clv_model": "bgnbd", "clv_horizon": 12,
           "clv_margin": 30, "clv_discount": 10, "cl_method": "kmeans", "cl_k": 4,
           "clv_churn": 90}.items()},
    }  # fmt: skip


def _response(reply) -> dict:
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    return reply.get_json()["response"]


def test_hubspot_file_with_uploaded_contacts(client):
    table = service.action_list(service.Filters.build(dataset=client.dataset)).table
    ids = table["customer_id"].astype(str).tolist()
    csv = "customer_id,email,name\n" + "".join(f"{c},p{c}@example.com,Pat {c}\n" for c in ids[:5])
    contents = "data:text/csv;base64," + base64.b64encode(csv.encode()).decode()
    reply = _response(
        client.call(
            "download_crm",
            _values(client, "hubspot", contents, "c.csv"),
            "actions-crm-btn.n_clicks",
        )
    )
    assert "actions-crm-download" in reply, reply
    data = reply["actions-crm-download"]["data"]
    assert data["filename"] == "action_list_hubspot.csv"
    frame = pd.read_csv(io.StringIO(data["content"]), dtype=str)
    assert list(frame.columns[:4]) == ["Email", "First Name", "Last Name", "Lifecycle Stage"]
    assert len(frame) == 5 and set(frame["Customer ID"]) == set(ids[:5])
    info = reply["actions-crm-info"]["children"]
    assert f"{len(ids):,} customers; 5 with an e-mail, {len(ids) - 5:,} without a contact" in info


def test_vendor_layout_without_contacts_is_a_message(client):
    reply = _response(
        client.call("download_crm", _values(client, "klaviyo"), "actions-crm-btn.n_clicks")
    )
    assert "actions-crm-download" not in reply
    text = reply["actions-crm-info"]["children"]["props"]["children"]
    assert "needs e-mail addresses and none of the" in text


def test_generic_layout_keeps_everyone_with_a_segment_tag(client):
    reply = _response(
        client.call("download_crm", _values(client, "generic"), "actions-crm-btn.n_clicks")
    )
    assert "actions-crm-download" in reply, reply
    frame = pd.read_csv(io.StringIO(reply["actions-crm-download"]["data"]["content"]))
    assert frame["segment_tag"].str.startswith("rfm-").all()
    assert frame["email"].isna().all() and len(frame) > 200
