"""The documentation page's text (pure): Markdown files in ``dashapp/help/`` with
placeholders that are filled from the same data the code uses (segment grid, cleaning rules,
column aliases, cluster vocabulary, model formulas), so the documentation cannot drift from
the behaviour."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

HELP_DIR = Path(__file__).resolve().parent / "help"

#: (slug, title) of the documentation sections, in reading order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("cleaning", "Data and cleaning"),
    ("rfm", "RFM segments"),
    ("clv", "Customer lifetime value"),
    ("cohorts", "Cohorts"),
    ("clustering", "Clustering"),
)


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table (cells' pipes escaped)."""
    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in rec) + " |" for rec in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _span(a: int, b: int) -> str:
    return f"{a}" if a == b else f"{a}-{b}"


def segment_grid() -> str:
    from .rfm import segment_lookup

    cells = segment_lookup()
    frame = pd.DataFrame(
        [[f"**R {r}**"] + [cells[r - 1, f - 1] for f in range(1, 6)] for r in range(5, 0, -1)],
        columns=["", "F 1", "F 2", "F 3", "F 4", "F 5"])
    return markdown_table(frame)


def segment_actions() -> str:
    from .rfm import SEGMENT_GRID

    g = SEGMENT_GRID
    return markdown_table(pd.DataFrame({
        "Segment": g["segment"],
        "R": [_span(*r) for r in g["r_range"]],
        "F": [_span(*f) for f in g["f_range"]],
        "Who they are": g["description"],
        "Recommended action": g["action"],
    }))


def cleaning_rules() -> str:
    from .cleaning import RULES

    return markdown_table(pd.DataFrame(
        [(i + 1, title, meaning, action) for i, (_, title, meaning, action) in enumerate(RULES)],
        columns=["#", "Rule", "What it means", "What happens to the lines"]))


def non_product_codes() -> str:
    from .cleaning import DEFAULT_NON_PRODUCT_CODES

    return ", ".join(f"`{c}`" for c in DEFAULT_NON_PRODUCT_CODES)


def column_aliases() -> str:
    from . import schema

    rows = []
    for column, aliases in schema.ALIASES.items():
        rows.append((f"`{column}`", "yes" if column in schema.REQUIRED_COLUMNS else "no",
                     ", ".join(f"`{a}`" for a in aliases)))
    return markdown_table(pd.DataFrame(rows, columns=["Column", "Required", "Accepted headers"]))


#: Placeholder name -> function producing its Markdown. Sections may add their own.
PLACEHOLDERS: dict[str, Callable[[], str]] = {
    "segment_grid": segment_grid,
    "segment_actions": segment_actions,
    "cleaning_rules": cleaning_rules,
    "non_product_codes": non_product_codes,
    "column_aliases": column_aliases,
}


def section_markdown(slug: str, currency: str = "£") -> str:
    """The Markdown of one documentation section with its placeholders filled."""
    titles = dict(SECTIONS)
    if slug not in titles:
        raise KeyError(f"No documentation section '{slug}'.")
    path = HELP_DIR / f"{slug}.md"
    text = path.read_text(encoding="utf-8") if path.exists() else f"# {titles[slug]}\n\n"
    values = {"currency": currency}
    for name, fn in PLACEHOLDERS.items():
        if "{" + name + "}" in text:
            values[name] = fn()
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text
