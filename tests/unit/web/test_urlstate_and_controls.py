"""URL state (pure) and the controls built from the parameter declarations."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc

from dashapp.service import params
from dashapp.web import controls
from dashapp.web.urlstate import split_list


def test_list_values_from_the_url_or_a_control():
    assert split_list("France,EIRE") == ["France", "EIRE"]
    assert split_list(["France", "", None]) == ["France"]
    assert split_list(None) == [] and split_list("") == []


def test_a_number_control_carries_its_declaration():
    box = controls.widget(params.CLV_HORIZON, "24")
    assert isinstance(box, dbc.Input)
    assert box.id == {"kind": "state", "key": "clv_horizon"}
    assert (box.type, box.step, box.value) == ("number", "any", "24")
    # No browser limits: the browser would send 150 or 1.5 as a blank (a wrong "is required"
    # message); the service names the value against the declared limits.
    assert getattr(box, "min", None) is None and getattr(box, "max", None) is None
    assert controls.widget(params.CLV_HORIZON, None).value == 12  # the declared default
    assert controls.widget(params.CLV_MARGIN).step == "any"
    eps = controls.widget(params.CLUSTER_EPS)
    assert eps.placeholder == "automatic" and eps.required is False


def test_choice_date_and_text_controls():
    radio = controls.widget(params.CLV_MODEL)
    assert isinstance(radio, dbc.RadioItems) and radio.value == "bgnbd"
    assert [o["value"] for o in radio.options] == ["bgnbd", "pareto_nbd", "mbgnbd"]
    select = controls.widget(params.CLUSTER_METHOD, "dbscan", select=True)
    assert isinstance(select, dbc.Select) and select.value == "dbscan"
    picker = controls.widget(params.RFM_AS_OF, "2011-12-01")
    assert isinstance(picker, dcc.DatePickerSingle) and picker.date == "2011-12-01"
    assert picker.id == {"kind": "date", "key": "as_of"}
    cuts = controls.widget(params.RFM_R_CUTS)
    assert cuts.type == "text" and cuts.placeholder == "e.g. 14,30,90,180"
    boxes = controls.widget(params.CLUSTER_FEATURES, "aov,recency")
    assert boxes.value == ["aov", "recency"]


def test_labels_inputs_and_hidden_carriers():
    col = controls.control(params.CLV_HORIZON, 12, md=2)
    assert col.children[0].children == "Horizon (months of 30 days)"
    assert controls.control(params.CLUSTER_K).children[0].children == "Clusters k (2-10)"
    assert "blank = automatic" in controls.control(params.CLUSTER_EPS).children[0].children
    assert controls.as_input(params.RFM_AS_OF).component_property == "date"
    carried = controls.hidden(params.CLUSTER_FEATURES, ["recency", "aov"])
    assert carried.type == "hidden" and carried.value == "recency,aov"
    alert = controls.param_alert(params.ParamError(params.CLV_HORIZON, "Horizon is required."))
    assert alert.children == "Horizon is required." and "param-error" in alert.className
