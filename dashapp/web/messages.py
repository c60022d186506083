"""What the app says, to users and to its log, about user-supplied values.

* :func:`user_text` is the text of an error as a user may see it: file paths become file
  names and URLs (a database URL, even without its password) become "the configured
  database". The log keeps the full text for the operator.
* :class:`OneLineLog` escapes control characters (newlines included) in the app's log
  records, so a value a user chose (a dataset id, a column name, a header) can never start a
  forged log line.
"""

from __future__ import annotations

import logging
import re

#: ``scheme://anything`` up to white space or a quote (database URLs, with or without a
#: password).
_URL = re.compile(r"""(?:\bthe database\s+)?\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'"]+""")
#: An absolute POSIX path of at least two parts, or a Windows one: keep the last part.
_PATH = re.compile(r"""(?<![\w.:/])(?:[A-Za-z]:\\|/)(?:[^\s'"/\\]+[/\\])+([^\s'"/\\]+)""")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def user_text(err: BaseException | str) -> str:
    """The message of ``err`` without server paths or URLs (see the module docstring). The
    host, user and password of ``DATA_SQL_URL`` are left out too (database drivers quote the
    host in their errors)."""
    from dashapp import service

    sql = service.settings().sql
    sql_url = sql.url if sql is not None else None
    text = str(err)
    text = _URL.sub(lambda m: "the configured database" + _tail(m.group(0)), text)
    text = _PATH.sub(lambda m: m.group(1), text)
    for secret, shown in _url_parts(sql_url):
        text = text.replace(secret, shown)
    return text


def _url_parts(sql_url: str | None) -> list[tuple[str, str]]:
    if not sql_url:
        return []
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(sql_url)
    except ArgumentError:
        return []
    parts = [(url.password, "***"), (url.host, "the database server"), (url.username, "***")]
    if url.port:
        parts.append((f"port {url.port}", "its port"))
    return [(str(v), shown) for v, shown in parts if v and len(str(v)) > 2]


def _tail(match: str) -> str:
    """Punctuation the URL or path pattern took from the sentence around it."""
    return match[len(match.rstrip(".,;:)")) :]


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n`` as the two characters ``\\n``)."""

    def escape(m: re.Match) -> str:
        ch = m.group(0)
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\u{ord(ch):04x}")

    return _CONTROL.sub(escape, text)


class OneLineLog(logging.Filter):
    """Rewrites each record of the app's loggers (``dashapp.*``) to its message with control
    characters escaped; tracebacks (``exc_info``) keep their lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "dashapp" or record.name.startswith("dashapp."):
            message = record.getMessage()
            safe = one_line(message)
            if safe != message or record.args:
                record.msg, record.args = safe, None
        return True


def install_log_filter() -> None:
    """Put :class:`OneLineLog` on the root logger's handlers (where the app's records end
    up; ``logging.basicConfig`` made one when nothing else did)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, OneLineLog) for f in handler.filters):
            handler.addFilter(OneLineLog())
