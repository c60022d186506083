"""Documentation: Markdown sections rendered from dashapp/help/, with tables filled from the
code's own data (segment grid, cleaning rules, column aliases, model vocabulary)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import service
from dashapp.web.help import SECTIONS, section_markdown

dash.register_page(
    __name__, path="/docs", name="Docs", order=9, title="Documentation · Customer Segments & CLV"
)


def layout(**query):
    currency = service.settings().currency
    toc = dbc.Nav(
        [
            dbc.NavLink(title, href=f"#{slug}", external_link=True, className="px-0")
            for slug, title in SECTIONS
        ],
        vertical=True,
        className="docs-toc sticky-top",
    )
    body = [
        html.Section(
            dcc.Markdown(
                section_markdown(slug, currency),
                mathjax=True,
                link_target="_blank",
                className="docs-section",
            ),
            id=slug,
            className="mb-5",
        )
        for slug, _ in SECTIONS
    ]
    return dbc.Row(
        [
            dbc.Col(
                [html.Div("Contents", className="small text-muted text-uppercase mb-2"), toc],
                md=2,
                className="d-none d-md-block",
            ),
            dbc.Col(body, md=10, className="docs-body"),
        ],
        className="pt-2",
    )
