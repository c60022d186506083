"""Customer segmentation and customer lifetime value for retail transactions (Plotly Dash).

``create_app()`` builds the Dash app; ``python -m dashapp`` runs it; ``dashapp.wsgi:server``
is the WSGI entry point for gunicorn.
"""

from __future__ import annotations

import logging

from .config import PROJECT_ROOT, Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, server=None, prefix: str | None = None):
    """Create the Dash app.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :meth:`Settings.from_env`.
    server : flask.Flask, optional
        An existing Flask application to mount the app on (its own routes keep working).
    prefix : str, optional
        URL prefix such as ``"/analytics/segments/"``; defaults to ``settings.url_prefix``.
    """
    import dash
    import flask

    from . import service, shell

    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service.configure(settings)
    prefix = prefix or settings.url_prefix
    server = server or flask.Flask(__name__)
    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(PROJECT_ROOT / "dashapp" / "pages"),
        assets_folder=str(PROJECT_ROOT / "assets"),
        url_base_pathname=prefix,
        title=shell.APP_TITLE,
        update_title=None,
        suppress_callback_exceptions=True,
        on_error=shell.on_callback_error,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    service.init_cache(app.server, settings.cache_config())
    app.layout = shell.layout
    return app
