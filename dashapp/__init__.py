"""Customer segmentation and customer lifetime value for retail transactions (Plotly Dash).

``create_app()`` builds the Dash app; ``python -m dashapp`` runs it; ``dashapp.wsgi:server``
is the WSGI entry point for gunicorn. Building the app is cheap (~2 s of imports, no data):
datasets load on first use, so a worker boots the same with a 1M-row dataset configured.

The package is layered; imports only go down (``tests/unit/test_layers.py`` checks it):

* ``dashapp.ingest``: reading and cleaning transactions (files, uploads, SQL, demo data);
* ``dashapp.analytics``: pure statistics (RFM, CLV models, cohorts, clustering, actions);
* ``dashapp.service``: datasets, caching and one typed view per page (no statistics);
* ``dashapp.web``: everything that imports Dash (figures, components, shell, pages).

``config`` (validated settings) sits below all of them; this module and ``__main__`` /
``wsgi`` assemble the app on top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashapp.config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, server=None, prefix: str | None = None):
    """Build the Dash app (see :func:`dashapp.web.app.create_app`). Importing ``dashapp``
    alone stays cheap: Dash is imported only here."""
    from dashapp.web.app import create_app as _create_app

    return _create_app(settings, server=server, prefix=prefix)
