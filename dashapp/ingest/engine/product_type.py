"""The product type of a description, as one ibis expression (every engine computes it the
same way): Online Retail II has no category column, so the product lines carry the head noun
of the description instead (:func:`product_type`). Approximate by construction; how it is
derived is in ``docs/architecture.md`` and on the product pages' help."""

from __future__ import annotations

import ibis

#: Words that end many descriptions without naming the product: colours, patterns and design
#: themes, sizes, and the connectors they leave behind ("SET OF 4 FRUITS"). Dropped from the
#: end of a description before its last word is taken as the product type
#: (:func:`product_type`). Chosen by revenue on the Online Retail II extract.
PRODUCT_TYPE_STOP_WORDS: tuple[str, ...] = (
    # colours
    "RED", "PINK", "BLUE", "GREEN", "WHITE", "BLACK", "IVORY", "CREAM", "GOLD", "SILVER",
    "PURPLE", "YELLOW", "ORANGE", "BROWN", "GREY", "GRAY", "TURQUOISE", "LILAC", "COLOUR",
    "COLOURS", "COLOURED", "PASTEL", "BRIGHT", "NATURAL", "CLEAR",
    # patterns and design themes
    "RETROSPOT", "RETRO", "POLKADOT", "POLKADOTS", "SPOTTY", "SPOT", "SPOTS", "DOT", "DOTS",
    "DOTTY", "STRIPE", "STRIPES", "STRIPEY", "STRIPED", "PAISLEY", "FLORAL", "FLOWER",
    "FLOWERS", "DESIGN", "DESIGNS", "STYLE", "VINTAGE", "ASSORTED", "WOODLAND", "ANIMALS",
    "SPACEBOY", "DOLLY", "GIRL", "CIRCUS", "PARADE", "SKULL", "SKULLS", "FRUIT", "FRUITS",
    "APPLE", "APPLES", "LONDON", "LOVE", "CHRISTMAS", "MAGIC", "GARDEN", "RUSTIC",
    "SCANDINAVIAN", "ROSE", "ROSES", "SUKI",
    # sizes
    "SMALL", "LARGE", "MEDIUM", "MINI", "JUMBO", "BIG", "TALL", "GIANT", "TIER", "PIECE",
    # connectors
    "OF", "WITH", "AND", "IN", "FOR", "THE",
)  # fmt: skip


def product_type(description: ibis.Value) -> ibis.Value:
    """The product type derived from a description, the same on every engine (a heuristic:
    the data have no category column). Letters only (any other character, digits and
    non-ASCII letters included, separates words), upper-cased; trailing single letters and
    :data:`PRODUCT_TYPE_STOP_WORDS` dropped (never the first word); the last word left, in
    the singular (``-IES`` -> ``-Y``; ``-XES``, ``-SHES``, ``-CHES``, ``-SSES`` lose ``ES``;
    another final ``S`` after a letter other than ``S`` goes). NULL for a description
    without letters. "WHITE HANGING HEART T-LIGHT HOLDER" -> ``HOLDER``, "JUMBO BAG RED
    RETROSPOT" -> ``BAG``, "PACK OF 72 RETROSPOT CAKE CASES" -> ``CASE``.

    Written with regular expressions every engine reads alike (POSIX classes and anchors,
    no back-references, no word boundaries: PostgreSQL's ``\\b`` is not a word boundary)."""
    words = description.re_replace("[^A-Za-z]+", " ").upper().re_replace("^ +| +$", "")
    stop = "( (" + "|".join(PRODUCT_TYPE_STOP_WORDS) + "|[A-Z]))+$"
    last = words.re_replace(stop, "").re_replace("^.* ", "")
    size = last.length()
    singular = ibis.cases(
        (last.re_search("IES$"), last.substr(0, size - 3) + "Y"),
        (last.re_search("(XES|SHES|CHES|SSES)$"), last.substr(0, size - 2)),
        (last.re_search("[^S]S$"), last.substr(0, size - 1)),
        else_=last,
    )
    return singular.nullif("")
