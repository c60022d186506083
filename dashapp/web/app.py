"""The app factory: the Dash app, its pages, shell, results cache and security layer."""

from __future__ import annotations

import logging
from pathlib import Path

from dashapp import service
from dashapp.config import Settings, assets_dir, normalize_prefix
from dashapp.web import security, shell
from dashapp.web.messages import install_log_filter

PAGES_DIR = Path(__file__).resolve().parent / "pages"


def create_app(settings: Settings | None = None, server=None, prefix: str | None = None):
    """Create the Dash app.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :meth:`Settings.from_env`.
    server : flask.Flask, optional
        An existing Flask application to mount the app on. Its own routes keep working; the
        app's routes, security headers and authentication live under ``prefix`` only.
    prefix : str, optional
        URL prefix such as ``"/analytics/segments/"``; defaults to ``settings.url_prefix``
        (``URL_PREFIX``). Pages, assets, ``/_dash-*`` routes and ``<prefix>health`` move
        under it.
    """
    import dash
    import flask

    settings = settings or Settings.from_env()
    prefix = normalize_prefix(prefix or settings.url_prefix)
    settings = settings.replace(url_prefix=prefix)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
    )
    logging.getLogger("dashapp").setLevel(settings.log_level)
    install_log_filter()  # user values in log lines cannot start a new line
    service.configure(settings)
    server = server or flask.Flask("dashapp")
    # The prefix goes to the constructor: init_app(url_base_pathname=...) would not re-derive
    # the routes and requests prefixes (both would stay "/"). The name is the package's:
    # Dash imports the page modules as "dashapp.web.pages.<page>", the names tests import.
    app = dash.Dash(
        "dashapp",
        server=server,
        use_pages=True,  # explicit: pages_folder alone silently turns Pages on
        routing_callback_inputs=shell.ROUTER_INPUTS,  # the router does not follow the search
        pages_folder=str(PAGES_DIR),
        assets_folder=str(assets_dir()),
        url_base_pathname=prefix,
        health_endpoint=security.HEALTH_ENDPOINT,  # <prefix>health: 200 "OK", no data read
        title=shell.APP_TITLE,
        update_title=None,
        suppress_callback_exceptions=True,
        on_error=shell.on_callback_error,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    service.init_cache(app.server, settings.cache_config())
    service.prune_uploads()  # uploads past their retention go at start-up too
    app.layout = shell.layout
    security.install(app, settings)
    return app
