"""Production hardening of the Dash app's routes (installed by ``create_app``).

* **Security headers** on every response of the app: a Content-Security-Policy whose
  ``frame-ancestors`` comes from ``FRAME_ANCESTORS`` (default ``'self'``: only pages of the same
  origin may frame the app), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
  ``Permissions-Policy``, and ``X-Frame-Options`` only where it says the same as
  ``frame-ancestors`` (``SAMEORIGIN`` for ``'self'``, ``DENY`` for ``'none'``; it cannot list
  other origins, and browsers that see both obey CSP anyway).
* **Optional authentication** (``AUTH_MODE``): HTTP basic against ``BASIC_AUTH_USERNAME`` /
  ``BASIC_AUTH_PASSWORD`` (constant-time comparison), or a header set by the portal's reverse
  proxy (``AUTH_HEADER``, optionally with a shared secret value ``AUTH_HEADER_VALUE``). It runs
  before everything else (Dash's own set-up included) and covers every route of the app: pages,
  ``/_dash-*`` (layout, dependencies, callbacks, component suites) and assets. Only
  ``<prefix>health`` stays open, for the platform's health checks.
* **The callback endpoint** answers malformed requests with 400 and a message instead of a
  500 (garbage JSON, a body that is not an object, unknown callbacks, inputs that do not match
  the callback), and refuses bodies larger than an upload can be (413) before reading them.

Scope: when the app is mounted inside someone else's Flask application
(``create_app(server=portal_app, prefix="/analytics/segments/")``) all of this applies only to
paths under the app's prefix. The host application keeps its own routes, headers and login;
we neither weaken nor tighten a policy that is not ours (a portal page that frames us, for
example, must not inherit our ``frame-ancestors``).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from urllib.parse import urlsplit

from flask import Response, g, request
from werkzeug.routing import RequestRedirect

from dashapp.config import Settings
from dashapp.service import registry

log = logging.getLogger(__name__)

HEALTH_ENDPOINT = "health"
CALLBACK_ENDPOINT = "_dash-update-component"
REALM = "Customer Segments & CLV"
#: Largest body accepted by any route of the app except the callback endpoint.
MAX_OTHER_BODY = 64 * 1024
#: A callback body larger than this is an upload: it is read only while holding the worker's
#: upload slot (one at a time per process; see dashapp.service.uploads).
LARGE_CALLBACK_BODY = 1024 * 1024
#: The browser-session cookie that makes uploads belong to their owner: a random token
#: (never on disk: uploads keep a hash of it), set on the first response, dropped when the
#: browser closes.
SESSION_COOKIE = "segments_session"
_SESSION_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_MANY_SLASHES = re.compile(r"/{2,}")


def _relative_redirect(redirect: RequestRedirect) -> Response:
    """The router's redirect (a doubled slash, a missing trailing slash) as a relative
    ``Location``: Werkzeug builds an absolute URL from the client's ``Host`` header, which a
    client may forge. The response then gets the security headers like any other."""
    target = urlsplit(redirect.new_url)
    location = _MANY_SLASHES.sub("/", target.path) + (f"?{target.query}" if target.query else "")
    return Response("", status=308, headers={"Location": location})


def callback_body_limit(settings: Settings) -> int:
    """Largest callback request accepted: an upload of MAX_UPLOAD_MB travels base64-encoded
    (4/3 of its size) inside the JSON of the upload callback, plus room for the other values."""
    return settings.max_upload_mb * 1024 * 1024 * 4 // 3 + 1024 * 1024


def content_security_policy(settings: Settings, script_hashes: list[str] | tuple = ()) -> str:
    """The CSP sent with every response of the app.

    Scripts: the app's own files plus Dash's inline scripts by hash (``app.csp_hashes()``), no
    ``'unsafe-inline'``. ``'unsafe-eval'`` is allowed because Plotly's WebGL traces (the
    ``scattergl`` customer map of the Clustering page) compile their drawing code with
    ``new Function`` (regl); every other page runs without it. tests/browser/test_embedding.py
    visits every registered page under this policy and fails on any
    ``securitypolicyviolation``, so a page that needs more fails a test instead of breaking
    silently in production.
    Styles allow ``'unsafe-inline'``: Plotly, AG Grid and React write ``<style>`` elements and
    style attributes at run time. Images allow ``data:``/``blob:`` (chart downloads, icons).
    """
    directives = [
        ("default-src", ["'self'"]),
        ("script-src", ["'self'", *script_hashes, "'unsafe-eval'"]),
        ("style-src", ["'self'", "'unsafe-inline'"]),
        ("img-src", ["'self'", "data:", "blob:"]),
        ("font-src", ["'self'", "data:"]),
        ("connect-src", ["'self'"]),
        ("worker-src", ["'self'", "blob:"]),
        ("object-src", ["'none'"]),
        ("base-uri", ["'self'"]),
        ("form-action", ["'self'"]),
        ("frame-ancestors", list(settings.frame_ancestors)),
    ]
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives)


def frame_options(settings: Settings) -> str | None:
    """X-Frame-Options when it can say the same as frame-ancestors, else None."""
    if settings.frame_ancestors == ("'self'",):
        return "SAMEORIGIN"
    if settings.frame_ancestors == ("'none'",):
        return "DENY"
    return None


def _json_error(status: int, message: str, headers: dict | None = None) -> Response:
    response = Response(json.dumps({"error": message}), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _same(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two secrets (UTF-8 bytes)."""
    return hmac.compare_digest((given or "").encode("utf-8"), (expected or "").encode("utf-8"))


class Guard:
    """The request hooks of one Dash app (see the module docstring)."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings
        self.prefix = app.config.routes_pathname_prefix
        self.health_path = self.prefix + HEALTH_ENDPOINT
        self.callback_path = self.prefix + CALLBACK_ENDPOINT
        self.callback_limit = callback_body_limit(settings)
        self._hashes: tuple = ()
        self._static_headers = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        }
        if frame_options(settings):
            self._static_headers["X-Frame-Options"] = frame_options(settings)
        self._dash_setup: list = []
        self._ready = False
        self._ready_lock = threading.Lock()

    def _finish_dash_setup(self) -> None:
        """Run Dash's first-request set-up once, under a lock, before any request proceeds.

        Dash copies the page callbacks into ``app.callback_map`` and adds the Pages router in
        ``before_request`` hooks guarded by a flag that is set *before* the work is done. With
        gunicorn's threaded workers, a second request arriving meanwhile (the browser fires
        several callbacks at once on page load) passes the flag and finds no callbacks ("Unknown
        callback output", a 500 without this). The hooks are idempotent, so calling them here
        first and letting Flask call them again is harmless."""
        with self._ready_lock:
            if not self._ready:
                for hook in self._dash_setup:
                    hook()
                self._ready = True

    # -- scope --------------------------------------------------------------------------
    def in_scope(self, path: str) -> bool:
        """Is ``path`` one of the app's routes (everything under its prefix, doubled slashes
        counted as one, as the router counts them)?"""
        path = _MANY_SLASHES.sub("/", path)
        return self.prefix == "/" or path.startswith(self.prefix) or path == self.prefix[:-1]

    # -- before each request --------------------------------------------------------------
    def before_request(self):
        if self.settings.server_timing:
            g.dashapp_timing = (time.perf_counter(), time.thread_time())
        if not self._ready:
            self._finish_dash_setup()
        path = request.path
        if not self.in_scope(path):
            return None
        registry.set_owner("")  # nobody until known: never a previous request's owner
        if isinstance(request.routing_exception, RequestRedirect):
            return _relative_redirect(request.routing_exception)
        if path == self.health_path:
            return None
        denied = self._authenticate()
        if denied is not None:
            return denied
        registry.set_owner(self._owner())
        limit = self.callback_limit if path == self.callback_path else MAX_OTHER_BODY
        if request.content_length is not None and request.content_length > limit:
            return _json_error(
                413, f"The request is larger than the limit of {limit / 1024 / 1024:.1f} MB."
            )
        request.max_content_length = limit  # also bounds bodies sent without a length
        if path == self.callback_path and (request.content_length or 0) > LARGE_CALLBACK_BODY:
            from dashapp import service

            if not service.acquire_upload_slot():
                return _json_error(503, service.uploads.BUSY, {"Retry-After": "60"})
            g.dashapp_upload_slot = True
        return None

    def teardown_request(self, _exc=None) -> None:
        if g.pop("dashapp_upload_slot", False):
            from dashapp import service

            service.release_upload_slot()

    def _owner(self) -> str:
        """Who owns the uploads of this request: the signed-in user when authentication names
        one, else the browser session (its cookie; a new session when there is none)."""
        user = g.get("dashapp_user")
        if user and not (self.settings.auth_mode == "header" and self.settings.auth_header_value):
            return f"user:{user}"
        token = request.cookies.get(SESSION_COOKIE, "")
        if not _SESSION_TOKEN.match(token):
            token = g.dashapp_new_session = secrets.token_urlsafe(32)
        return f"session:{token}"

    def _authenticate(self):
        mode = self.settings.auth_mode
        if mode == "basic":
            auth = request.authorization
            user = auth.username if auth is not None and auth.type == "basic" else None
            password = auth.password if auth is not None and auth.type == "basic" else None
            user_ok = _same(user, self.settings.basic_auth_username)
            password_ok = _same(password, self.settings.basic_auth_password)
            if user is None or not (user_ok and password_ok):
                return _json_error(
                    401,
                    "Authentication required.",
                    {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
                )
            g.dashapp_user = user
        elif mode == "header":
            value = request.headers.get(self.settings.auth_header, "").strip()
            expected = self.settings.auth_header_value
            if not value or (expected is not None and not _same(value, expected)):
                return _json_error(403, "Sign in through the portal to use this app.")
            g.dashapp_user = value if expected is None else "portal"
        return None

    # -- after each request ----------------------------------------------------------------
    def after_request(self, response: Response) -> Response:
        if not self.in_scope(request.path):
            return response
        if response.mimetype == "text/html" or not self._hashes:
            # Dash adds inline scripts (clientside callbacks) up to the first page view.
            self._hashes = tuple(self.app.csp_hashes())
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy", content_security_policy(self.settings, self._hashes)
        )
        for key, value in self._static_headers.items():
            headers.setdefault(key, value)
        if request.path == self.health_path:
            headers["Cache-Control"] = "no-store"
        new_session = g.get("dashapp_new_session")
        if new_session:
            response.set_cookie(
                SESSION_COOKIE,
                new_session,
                path=self.prefix,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure,
            )
        if self.settings.worker_pid_header:
            headers["X-Worker-Pid"] = str(os.getpid())
        started = g.get("dashapp_timing")
        if started is not None and request.path == self.callback_path:
            wall = (time.perf_counter() - started[0]) * 1000
            cpu = (time.thread_time() - started[1]) * 1000
            headers["Server-Timing"] = f"app;dur={wall:.1f}, cpu;dur={cpu:.1f}"
        return response


# ------------------------------------------------------------------------------------------
# Callback payload checks
# ------------------------------------------------------------------------------------------
def _dep_problem(given, expected: dict, where: str) -> str | None:
    """Why one input/state item of the body does not match the callback's dependency."""
    wildcard = (
        isinstance(expected.get("id"), str)
        and expected["id"].startswith("{")
        and (
            '["ALL"]' in expected["id"]
            or '["MATCH"]' in expected["id"]
            or '["ALLSMALLER"]' in expected["id"]
        )
    )
    items = given if wildcard and isinstance(given, list) else [given]
    if wildcard and not isinstance(given, list | dict):
        return f"{where} must be a list of {{id, property, value}} objects."
    for item in items:
        if not isinstance(item, dict) or "id" not in item or "property" not in item:
            return f"{where} must be an object with 'id', 'property' and 'value'."
        if not isinstance(item["property"], str) or not isinstance(item["id"], str | dict):
            return f"{where} has an id or property of the wrong type."
        if item["property"] != expected.get("property"):
            return (
                f"{where} is for property '{item['property']}', expected "
                f"'{expected.get('property')}'."
            )
        if not wildcard:
            given_id = (
                item["id"]
                if isinstance(item["id"], str)
                else json.dumps(item["id"], sort_keys=True, separators=(",", ":"))
            )
            if given_id != expected.get("id"):
                return f"{where} is for component '{given_id}', expected '{expected.get('id')}'."
        elif isinstance(item["id"], dict) and not all(
            isinstance(k, str) and isinstance(v, str | int | float | bool)
            for k, v in item["id"].items()
        ):
            return f"{where} has a pattern-matching id of the wrong form."
    return None


#: Values the browser only ever sends as text (or null) for these URL-state controls: the
#: dataset id (its ``value``) and the date pickers (their ``date``). Anything else is refused here, before it reaches code that
#: would hash or parse it.
_TEXT_VALUES = ('"key":"dataset","kind":"state"', '"kind":"date"')


def _value_problem(item: dict, where: str) -> str | None:
    ident = item.get("id")
    if not isinstance(ident, dict) or item.get("property") not in ("value", "date"):
        return None
    text = json.dumps(ident, sort_keys=True, separators=(",", ":"))
    # (the browser leaves "value" out when a control has none)
    if any(t in text for t in _TEXT_VALUES) and not isinstance(item.get("value"), str | None):
        return f"{where}: the value of '{ident.get('key')}' must be text."
    return None


def payload_problem(body, callback_map: dict) -> str | None:
    """Plain-language reason a callback request body is malformed, or None when it can be
    dispatched (its values are the callback's business: it reports bad values itself)."""
    if not isinstance(body, dict):
        return "The callback request must be a JSON object."
    output = body.get("output")
    if not isinstance(output, str) or not output:
        return "The callback request has no 'output'."
    entry = callback_map.get(output)
    if entry is None:
        return "Unknown callback output."
    outputs = body.get("outputs")
    if outputs is not None and not isinstance(outputs, dict | list):
        return "'outputs' must be an object or a list."
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' must be a list of strings."
    for kind in ("inputs", "state"):
        given = body.get(kind, [])
        expected = entry.get(kind, [])
        if not isinstance(given, list):
            return f"'{kind}' must be a list."
        if len(given) != len(expected):
            return f"The callback takes {len(expected)} {kind}, the request has {len(given)}."
        for i, (item, dep) in enumerate(zip(given, expected, strict=True)):
            problem = _dep_problem(item, dep, f"{kind}[{i}]")
            for one in item if isinstance(item, list) else [item]:
                problem = problem or _value_problem(one, f"{kind}[{i}]")
            if problem:
                return problem
    return None


def harden_callback_route(app) -> None:
    """Check callback request bodies before Dash dispatches them (400 with a message)."""
    server = app.server
    endpoint = app.config.routes_pathname_prefix + CALLBACK_ENDPOINT
    dispatch = server.view_functions[endpoint]

    def checked_dispatch(*args, **kwargs):
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            return _json_error(400, "The callback request is nested too deeply.")
        if body is None:
            return _json_error(
                400, "The callback request must be JSON (Content-Type: application/json)."
            )
        try:
            problem = payload_problem(body, app.callback_map)
        except Exception:  # a bug in these checks must not take every callback down
            log.exception("callback request check failed; dispatching unchecked")
            problem = None
        if problem:
            log.info("callback request refused: %s", problem)
            return _json_error(400, problem)
        return dispatch(*args, **kwargs)

    # keep the name Dash gives its view (CSRF exemptions and integrations key on it)
    checked_dispatch.__name__ = dispatch.__name__
    checked_dispatch.__qualname__ = getattr(dispatch, "__qualname__", dispatch.__name__)
    checked_dispatch.__module__ = dispatch.__module__
    server.view_functions[endpoint] = checked_dispatch


def _not_found(_err):
    """Dash raises DependencyException (a 500) for an unknown file under
    ``_dash-component-suites/<package>/`` (a stale script URL after an upgrade, a path
    traversal attempt): it is a 404."""
    return _json_error(404, "No such file.")


def install(app, settings: Settings) -> Guard:
    """Install the hooks on the app's Flask server (authentication runs first)."""
    from dash.exceptions import DependencyException

    guard = Guard(app, settings)
    server = app.server
    hooks = server.before_request_funcs.setdefault(None, [])
    guard._dash_setup = [
        f
        for f in hooks
        if getattr(f, "__self__", None) is app or "Dash." in getattr(f, "__qualname__", "")
    ]
    hooks.insert(0, guard.before_request)
    server.after_request(guard.after_request)
    server.teardown_request(guard.teardown_request)
    server.register_error_handler(DependencyException, _not_found)  # raised by Dash only
    harden_callback_route(app)
    if settings.auth_mode != "none":
        log.info("authentication on (%s) for %s*", settings.auth_mode, guard.prefix)
    return guard
