"""Static blocks: a component tree as one HTML string (dashapp.web.components.markup)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
import pytest
from dash import dcc, html

from dashapp.web.components import frame_table, kpi_card
from dashapp.web.components.markup import static_block, to_html


def test_text_and_attributes_are_escaped():
    markup = to_html(html.Div(['<script>alert("x")</script>', "a & b"], title='say "hi"'))
    assert "<script>" not in markup
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;a &amp; b" in markup
    assert 'title="say &quot;hi&quot;"' in markup


def test_bootstrap_components_get_the_classes_dbc_gives_them():
    row = dbc.Row([dbc.Col("a", md=True), dbc.Col("b", md=6, xs=12)], className="g-3")
    assert to_html(row) == (
        '<div class="row g-3"><div class="col-md">a</div><div class="col-12 col-md-6">b</div></div>'
    )
    table = dbc.Table(html.Tbody(html.Tr(html.Td(1))), striped=True, size="sm", responsive=True)
    assert to_html(table) == (
        '<div class="table-responsive"><table class="table table-striped table-sm">'
        "<tbody><tr><td>1</td></tr></tbody></table></div>"
    )
    assert to_html(dbc.Alert("x", color="info")) == '<div class="alert alert-info">x</div>'
    card = dbc.Card(dbc.CardBody("x"), style={"borderLeft": "4px solid red", "width": 10})
    assert to_html(card) == (
        '<div class="card" style="border-left:4px solid red;width:10px">'
        '<div class="card-body">x</div></div>'
    )


def test_string_ids_and_data_attributes_stay_and_pattern_ids_are_left_out():
    markup = to_html(html.Div([html.Span("v", id="kpi-x"), html.Span("w", id={"a": 1})],
                              **{"data-window": "previous"}))  # fmt: skip
    assert 'id="kpi-x"' in markup and "{" not in markup
    assert 'data-window="previous"' in markup


def test_components_with_behaviour_and_unsafe_links_are_refused():
    with pytest.raises(TypeError, match="behaviour"):
        to_html(html.Div(dcc.Graph(id="g")))
    with pytest.raises(TypeError, match="not supported"):
        to_html(dbc.Button("x"))
    with pytest.raises(ValueError, match="unsafe URL"):
        to_html(html.A("x", href="javascript:alert(1)"))
    assert 'href="/customer?id=1"' in to_html(html.A("x", href="/customer?id=1"))


def test_a_table_or_kpi_row_is_one_component_holding_every_cell():
    frame = pd.DataFrame({"Model": ["BG/NBD", "Pareto/NBD"], "r": ["0.24", "0.55"]})
    block = frame_table(frame, id="params")
    assert isinstance(block, dcc.Markdown) and block.dangerously_allow_html
    assert 'id="params"' in block.children and block.children.count("<td>") == 4
    # a block inside a block keeps its HTML
    outer = static_block(html.Div([kpi_card("Revenue", "£1", id_="kpi-r"), block]))
    assert 'id="kpi-r"' in outer.children and outer.children.count("<td>") == 4
