"""Uploads belong to the browser session that made them, under gunicorn (the Procfile's
command, 2 workers, so requests land on either process).

A stranger who knows the id (it is in the shared URL) can neither read the upload on any
page nor change its column mapping or currency; two sessions uploading the same file get two
datasets with their own mapping and currency; ids are random.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.badinput.make_corpus import _csv, _rows
from tests.callback_client import state_key
from tests.servers import AppServer, ServerCallbacks, flat_text, start_servers

DATASET = state_key("dataset")
NOT_YOURS = "not available to you"
#: The standard header renamed, so the upload needs the mapping step.
OWN_HEADER = ["Order", "SKU", "Item", "Units", "When", "Unit cost", "Client", "Market"]
MAPPING = {
    "invoice": "Order",
    "invoice_date": "When",
    "customer_id": "Client",
    "quantity": "Units",
    "price": "Unit cost",
    "country": "Market",
    "stock_code": "SKU",
    "description": "Item",
}
MAP_KEY = json.dumps({"column": ["ALL"], "kind": "map"}, separators=(",", ":"))
PAGES = ("/", "/rfm", "/clv", "/cohorts", "/clustering", "/actions")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = AppServer(tmp_path_factory.mktemp("ownership"), workers=2)
    start_servers(srv)
    yield srv
    srv.stop()


def upload(callbacks: ServerCallbacks, data: bytes, currency: str):
    contents = "data:text/csv;base64," + base64.b64encode(data).decode()
    return callbacks.call(
        "upload-result",
        {
            "upload-file.contents": contents,
            "upload-file.filename": "shop.csv",
            "upload-currency.value": currency,
        },
        changed="upload-file.contents",
    )


def apply_mapping(callbacks: ServerCallbacks, upload_id: str, mapping: dict, currency: str):
    items = [
        {"id": {"column": column, "kind": "map"}, "property": "value", "value": header}
        for column, header in mapping.items()
    ]
    return callbacks.call(
        "upload-result",
        {
            "upload-apply.n_clicks": 1,
            "upload-currency.value": currency,
            "upload-pending.data": {"id": upload_id},
            f"{MAP_KEY}.value": items,
            f"{MAP_KEY}.id": [{**i, "property": "id", "value": i["id"]} for i in items],
        },
        changed="upload-apply.n_clicks",
    )


def text(reply) -> str:
    assert reply.status == 200, (reply.status, reply.text[:300])
    return flat_text(reply.json())


def overview(callbacks: ServerCallbacks, dataset: str) -> str:
    return text(callbacks.call("overview-kpis", {DATASET: dataset}))


def test_an_upload_is_visible_and_changeable_only_by_its_session(server):
    data = _csv(_rows(n_customers=40), header=OWN_HEADER)
    owner = ServerCallbacks(server)
    pending = upload(owner, data, "£")
    assert "need a mapping" in text(pending)
    upload_id = pending.json()["response"]["upload-pending"]["data"]["id"]
    assert re.fullmatch(r"upload-[0-9a-f]{32}", upload_id)
    loaded = text(apply_mapping(owner, upload_id, MAPPING, "£"))
    assert "Loaded" in loaded and "40 customers" in loaded
    mine = overview(owner, upload_id)
    assert "£" in mine and "Customers 40" in mine

    # someone with the shared link but not the session: no page shows the data
    for stranger in (ServerCallbacks(server, cookies=False), ServerCallbacks(server)):
        assert NOT_YOURS in overview(stranger, upload_id)
        assert NOT_YOURS in text(stranger.call("rfm-kpis", {DATASET: upload_id}))
        for page in PAGES:
            shown = text(stranger.page(page, f"?dataset={upload_id}"))
            assert NOT_YOURS in shown and "Showing the default dataset" in shown, page
            assert "shop.csv" not in shown, page
        # ... and a forged "apply mapping" changes nothing
        forged = {**MAPPING, "customer_id": "SKU", "stock_code": "Client"}
        assert NOT_YOURS in text(apply_mapping(stranger, upload_id, forged, "USD"))
        assert overview(owner, upload_id) == mine

    # the same file uploaded in another session is another dataset with its own settings
    other = ServerCallbacks(server)
    theirs = upload(other, data, "$").json()["response"]["upload-pending"]["data"]["id"]
    assert theirs != upload_id
    assert "Loaded" in text(apply_mapping(other, theirs, MAPPING, "$"))
    assert "$" in overview(other, theirs) and "£" not in overview(other, theirs)
    assert overview(owner, upload_id) == mine
    assert NOT_YOURS in overview(owner, theirs)
    for page in PAGES:  # the owner's own link keeps working on every page
        assert NOT_YOURS not in text(owner.page(page, f"?dataset={upload_id}")), page


def test_with_authentication_an_upload_belongs_to_the_user_in_every_browser(tmp_path):
    """AUTH_MODE=header: the portal names the user; her upload follows her to another
    browser (no shared cookie), and another user gets 'not available to you'."""
    from tests.callback_client import CallbackClient
    from tests.integration.test_production import in_process_app

    with in_process_app(tmp_path, {"AUTH_MODE": "header"}) as app:

        def browser(user: str) -> CallbackClient:
            client = app.server.test_client()
            client.environ_base["HTTP_X_FORWARDED_USER"] = user
            return CallbackClient(app, client)

        contents = "data:text/csv;base64," + base64.b64encode(_csv(_rows())).decode()
        ana = browser("ana")
        body = ana.payload(
            "handle_upload", {"upload-file.contents": contents, "upload-file.filename": "s.csv"}
        )
        # the mapping dropdowns are pattern-matching (ALL): the browser sends lists
        body["state"] = [[] if '"ALL"' in json.dumps(s["id"]) else s for s in body["state"]]
        reply = ana.client.post("/_dash-update-component", json=body)
        assert "Loaded" in flat_text(reply.get_json())
        upload_id = reply.get_json()["response"]["session-uploads"]["data"][-1]["id"]

        def overview_for(user: str) -> str:
            reply = browser(user).call("update_overview", {DATASET: upload_id})
            assert reply.status_code == 200
            return flat_text(reply.get_json())

        assert "Net revenue" in overview_for("ana")
        assert NOT_YOURS in overview_for("bob")


def test_uploads_are_read_one_at_a_time_per_worker(tmp_path, monkeypatch):
    """A large callback body (an upload) is read only while holding the worker's upload slot:
    while another upload holds it, a second one waits, then is told the server is busy."""
    import threading

    from dashapp.service import uploads as service_uploads
    from tests.integration.test_production import in_process_app

    monkeypatch.setattr(service_uploads, "SLOT_WAIT_S", 0.3)
    with in_process_app(tmp_path) as app:
        client = app.server.test_client()
        body = b'{"output": "x", "padding": "' + b"a" * 2_000_000 + b'"}'
        held, release = threading.Event(), threading.Event()

        def other_upload():
            with service_uploads.upload_slot():
                held.set()
                release.wait(10)

        thread = threading.Thread(target=other_upload)
        thread.start()
        held.wait(5)
        try:
            busy = client.post(
                "/_dash-update-component", data=body, content_type="application/json"
            )
        finally:
            release.set()
            thread.join()
        assert busy.status_code == 503 and "busy reading other uploads" in busy.get_json()["error"]
        assert busy.headers["Retry-After"] == "60"
        free = client.post("/_dash-update-component", data=body, content_type="application/json")
        assert free.status_code == 400  # read and checked (an unknown callback), not refused
        assert service_uploads.acquire_upload_slot()  # the request released the slot
        service_uploads.release_upload_slot()
