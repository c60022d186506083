"""The short story at the top of the RFM, CLV, Clustering and Action list pages: three or
four plain sentences from the page's numbers (:mod:`dashapp.service.views.stories`) and the
next step, a link that opens the list of those customers (a drill-down URL)."""

from __future__ import annotations

import math

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp.service.views.stories import (
    LEAVING_P_ALIVE,
    TOP_SHARE,
    ActionStory,
    ClusterStory,
    ClvStory,
    RfmStory,
)
from dashapp.web.format import money, number, percent
from dashapp.web.urlstate import query_string


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{number(n)} {one if n == 1 else (many or one + 's')}"


def story_card(sentences: list[str], step: str, href: str, link: str) -> dbc.Card:
    """The sentences, then "Next step: <step> <link>"."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.P(" ".join(sentences), className="mb-1"),
                html.P(
                    [
                        html.Strong("Next step: "),
                        step + " ",
                        dcc.Link(link, href=href, className="story-link"),
                    ],  # fmt: skip
                    className="mb-0",
                ),
            ],
            className="py-2",
        ),
        className="mb-3 story shadow-sm",
        style={"borderLeft": "4px solid var(--bs-primary)"},
    )


def page_href(path: str, query: dict) -> str:
    """A link to ``path`` with ``query`` (the URL-state keys and values)."""
    return dash.get_relative_path(path) + query_string(query)


def rfm_text(story: RfmStory, currency: str) -> tuple[list[str], str, str]:
    """Sentences, next step and link text of the RFM story."""
    champions, lapsing, hibernating, target = (
        story.champions,
        story.lapsing,
        story.hibernating,
        story.target,
    )
    sentences = [
        f"{_plural(champions.customers, 'Champion')} ({percent(champions.customer_share)} of "
        f"{number(story.customers)} customers) bring {percent(champions.revenue_share)} of "
        f"revenue ({money(champions.revenue, currency)}).",
        f"{_plural(lapsing.customers, 'customer')} At Risk or Can't Lose Them bought often "
        f"or much but not lately; they hold {money(lapsing.revenue, currency)} of revenue "
        f"({percent(lapsing.revenue_share)}).",
        f"{_plural(hibernating.customers, 'customer')} "
        f"({percent(hibernating.customer_share)}) are Hibernating and bring "
        f"{percent(hibernating.revenue_share)} of revenue.",
    ]
    if target.name == "Champions":
        step = f"reward the {_plural(target.customers, 'Champion')} and keep them close."
    else:
        step = (
            f"win back the {_plural(target.customers, target.name + ' customer')} "
            f"({money(target.revenue, currency)} of past revenue) before they go."
        )
    return sentences, step, f"List the {target.name} customers"


def clv_text(story: ClvStory, currency: str, horizon: int) -> tuple[list[str], str, str]:
    top = story.top
    sentences = [
        f"Over the next {horizon} months the {number(story.customers)} customers are "
        f"predicted to be worth {money(story.total_clv, currency)} (median "
        f"{money(story.median_clv, currency)} a customer).",
        f"The top {TOP_SHARE} % ({number(top.customers)} customers) hold "
        f"{percent(top.revenue_share)} of it.",
    ]
    if story.top_leaving:
        sentences.append(
            f"{_plural(story.top_leaving, 'of them has', 'of them have')} a chance below "
            f"{LEAVING_P_ALIVE:.0%} of still being a customer."
        )
    else:
        sentences.append(
            f"Each of them is more likely than not ({LEAVING_P_ALIVE:.0%}) still a customer."
        )
    step = "look after the customers who carry most of the future value."
    return sentences, step, f"List the top {TOP_SHARE} %"


def cluster_text(story: ClusterStory, method: str) -> tuple[list[str], str, str]:
    best, largest = story.best, story.largest
    sentences = [
        f"{method} found {_plural(story.clusters, 'cluster')}.",
        f"The most valuable, {best.name}, has {_plural(best.customers, 'customer')} "
        f"({percent(best.customer_share)}) and {percent(best.revenue_share)} of revenue.",
    ]
    if largest.name != best.name:
        sentences.append(
            f"The largest, {largest.name}, has {percent(largest.customer_share)} of the "
            f"customers but {percent(largest.revenue_share)} of revenue."
        )
    if not math.isnan(story.silhouette):
        fit = "well separated" if story.silhouette >= 0.5 else (
            "fairly separated" if story.silhouette >= 0.25 else "weakly separated")  # fmt: skip
        sentences.append(f"Silhouette {story.silhouette:.2f}: the clusters are {fit}.")
    step = f"see who the {best.name} customers are."
    return sentences, step, f"List the {best.name} customers"


def action_text(story: ActionStory, currency: str) -> tuple[list[str], str, str]:
    head = story.head
    sentences = [
        f"{_plural(story.customers, 'customer')} carry {money(story.total_at_stake, currency)}"
        " of value at stake.",
        f"The first {_plural(head.customers, 'customer')} of the list "
        f"({percent(head.customer_share)}) hold half of it.",
    ]
    if story.head_action:
        sentences.append(
            f"{number(story.head_action_customers)} of them get the same advice: "
            f"{story.head_action[:1].lower() + story.head_action[1:]}"
        )
    step = "contact these customers first."
    return sentences, step, f"List these {number(head.customers)} customers"
