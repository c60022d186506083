"""Call a Dash callback over HTTP the way the browser does (POST /_dash-update-component).

Used by tests (malformed payloads, cache sharing across workers) and benchmarks (server-side
time of an interaction, JSON serialisation included).
"""

from __future__ import annotations

import json
from typing import Any


def _parse_id(raw: str):
    return json.loads(raw) if raw.startswith("{") else raw


def _outputs(spec: str) -> list[dict]:
    """'..a.children...b.figure..' or 'a.children' -> [{"id": "a", "property": "children"}]"""
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    out = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        out.append({"id": _parse_id(ident), "property": prop})
    return out


class CallbackClient:
    """``CallbackClient(app).payload("update_rfm", {"{...dataset...}.value": "demo"})``."""

    def __init__(self, app, client=None):
        self.app = app
        self.client = client or app.server.test_client()
        self.client.get(app.config.requests_pathname_prefix)  # let Dash finish its set-up
        self.by_name = {}
        for output, entry in app.callback_map.items():
            fn = entry.get("callback")
            name = getattr(fn, "__name__", None)
            if name:
                self.by_name[name] = (output, entry)

    def payload(
        self, name: str, values: dict[str, Any] | None = None, changed: str | None = None
    ) -> dict:
        """Request body for callback ``name``; ``values`` maps ``"<id>.<prop>"`` (id as
        compact JSON for dict ids) to a value, others are None."""
        values = values or {}
        output, entry = self.by_name[name]

        def items(kind):
            rows = []
            for dep in entry.get(kind, []):
                key = f"{dep['id']}.{dep['property']}"
                rows.append(
                    {
                        "id": _parse_id(dep["id"]),
                        "property": dep["property"],
                        "value": values.get(key),
                    }
                )
            return rows

        inputs = items("inputs")
        first = f"{entry['inputs'][0]['id']}.{entry['inputs'][0]['property']}"
        outputs = _outputs(output)
        return {
            "output": output,
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": inputs,
            "state": items("state"),
            "changedPropIds": [changed or first],
        }

    def call(self, name: str, values: dict[str, Any] | None = None, changed: str | None = None):
        """POST the callback; returns the Flask test response."""
        prefix = self.app.config.requests_pathname_prefix
        return self.client.post(
            f"{prefix}_dash-update-component", json=self.payload(name, values, changed)
        )


def state_key(key: str, prop: str = "value") -> str:
    return (
        json.dumps({"key": key, "kind": "state"}, separators=(",", ":"), sort_keys=True)
        + f".{prop}"
    )


def date_key(key: str) -> str:
    return json.dumps({"key": key, "kind": "date"}, separators=(",", ":"), sort_keys=True) + ".date"


def controls_at_start(dataset: str) -> dict:
    """Every declared control at its starting value, as a page sends it, keyed as the client
    posts states (the dataset ``dataset``)."""
    from dashapp.service import params

    values: dict[str, Any] = {state_key("dataset"): dataset}
    for p in vars(params).values():
        if isinstance(p, params.Param):
            key = date_key(p.key) if p.kind == "date" else state_key(p.key)
            value = p.initial(None)
            values[key] = list(value) if isinstance(value, tuple) else value
    return values
