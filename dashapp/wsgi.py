"""WSGI entry point: ``gunicorn dashapp.wsgi:server``. Building the app does no heavy work:
datasets load on first use."""

from . import create_app

app = create_app()
server = app.server
