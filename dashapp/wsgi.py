"""WSGI entry point: ``gunicorn dashapp.wsgi:server`` (the Procfile's command).

gunicorn needs a module-level WSGI object (``"dashapp:create_app().server"`` is refused).
Building the app does no data work: importing this module takes 2-4.5 s (library imports)
whatever the configured dataset, and ``<prefix>health`` answers without touching it;
datasets load on first use (tests/integration/test_production.py measures both).
"""

from dashapp import create_app

app = create_app()
server = app.server
