"""Reading and cleaning transactions: files by format (``loading``), uploads, SQL tables
(``sql``), the demo generator (``demo``), the UCI download; the cleaning rules and their ledger
(``cleaning``). The bottom layer: no Dash, no Flask, nothing from analytics, service or web."""
