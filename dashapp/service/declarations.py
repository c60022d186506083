"""How a user-facing parameter is declared (:class:`Param`: URL key, type, default, limits,
help) and checked (:meth:`Param.parse`, :class:`ParamError`). The declarations themselves are
in :mod:`dashapp.service.params`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

KINDS = ("int", "float", "choice", "choices", "date", "cuts", "text")


class ParamError(ValueError):
    """A parameter value its declaration does not allow. ``str(err)`` is the message a user
    sees; ``key`` names the parameter (its URL key)."""

    def __init__(self, param: Param, message: str) -> None:
        super().__init__(message)
        self.key = param.key


@dataclass(frozen=True)
class Param:
    """One user-facing parameter.

    ``key`` is its URL query key and control id, ``arg`` the name of the service argument it
    feeds, ``kind`` one of :data:`KINDS`. Numbers have ``low``/``high`` (inclusive, or
    exclusive at the bottom with ``low_open``); choices list ``(value, label)`` pairs and
    accept ``aliases``; ``optional`` parameters accept a blank value, which means ``blank``
    (e.g. "automatic") and parses to None.
    """

    key: str
    arg: str
    label: str
    kind: str
    default: Any = None
    help: str = ""
    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    optional: bool = False
    blank: str = ""
    hint: str = ""
    example: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.key}: unknown kind {self.kind!r}")

    # -- describing ---------------------------------------------------------------------
    @property
    def title(self) -> str:
        """The label with its unit: ``"Horizon (months of 30 days)"`` (messages, docs)."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def control_label(self) -> str:
        """The label above the control: the title plus the ``hint`` (and, for an optional
        value, what a blank means)."""
        extra = [t for t in (self.unit, self.hint) if t]
        if self.optional and self.kind in ("int", "float") and self.blank:
            extra.append(f"blank = {self.blank}")
        return f"{self.label} ({', '.join(extra)})" if extra else self.label

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    def expectation(self) -> str:
        """What a valid value looks like, in words."""
        if self.kind in ("int", "float"):
            what = "a whole number" if self.kind == "int" else "a number"
            lo, hi = _num_text(self.low), _num_text(self.high)
            if self.low is not None and self.high is not None:
                return f"{what} {'above ' + lo + ' up to' if self.low_open else 'from ' + lo + ' to'} {hi}"
            if self.low is not None:
                return f"{what} {'above' if self.low_open else 'of at least'} {lo}"
            return what
        if self.kind in ("choice", "choices"):
            names = ", ".join(f"{label} ({value})" for value, label in self.choices)
            return f"{'one' if self.kind == 'choice' else 'any'} of {names}"
        if self.kind == "date":
            return "a date written YYYY-MM-DD"
        if self.kind == "text":
            return f"text of at most {_num_text(self.high)} characters"
        return "exactly 4 increasing numbers separated by commas"

    def limits_text(self) -> str:
        """The limits column of the documentation table."""
        text = self.expectation()
        if self.optional:
            text += f"; blank = {self.blank or 'none'}"
        return text

    # -- parsing --------------------------------------------------------------------------
    def initial(self, raw: Any) -> Any:
        """The value a control starts with: the URL's value as given (validated by the
        callbacks, so a bad one is reported, not silently replaced), else the default."""
        return self.default if _blank(raw) else raw

    def parse(self, raw: Any) -> Any:
        """The canonical value of ``raw`` (text from the URL, a control's value, or a
        Python value), or :class:`ParamError` with a message naming the parameter."""
        if _blank(raw):
            if self.kind in ("choice", "choices"):
                return self.default
            if self.optional:
                return None
            raise ParamError(self, f"{self.title} is required: enter {self.expectation()}.")
        parser = {
            "int": self._number,
            "float": self._number,
            "choice": self._choice,
            "choices": self._choices,
            "date": self._date,
            "cuts": self._cuts,
            "text": self._text,
        }[self.kind]
        return parser(raw)

    def _fail(self, raw: Any) -> ParamError:
        shown = raw if isinstance(raw, str) else str(raw)
        return ParamError(self, f"{self.title} must be {self.expectation()}; got {shown!r}.")

    def _number(self, raw: Any) -> int | float:
        if isinstance(raw, bool):
            raise self._fail(raw)
        try:
            value = float(str(raw).strip()) if isinstance(raw, str) else float(raw)
        except (TypeError, ValueError):
            raise self._fail(raw) from None
        if not math.isfinite(value):
            raise self._fail(raw)
        if self.kind == "int" and value != int(value):
            raise self._fail(raw)
        too_low = self.low is not None and (
            value <= self.low if self.low_open else value < self.low
        )
        if too_low or (self.high is not None and value > self.high):
            raise self._fail(raw)
        return int(value) if self.kind == "int" else value

    def _normal(self, raw: Any) -> str:
        text = str(raw).strip().lower()
        return dict(self.aliases).get(text, text)

    def _choice(self, raw: Any) -> str:
        value = self._normal(raw)
        if value not in self.values:
            raise self._fail(raw)
        return value

    def _choices(self, raw: Any) -> tuple[str, ...]:
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        picked = {self._normal(item) for item in items if not _blank(item)}
        unknown = sorted(picked - set(self.values))
        if unknown:
            raise self._fail(unknown[0])
        return tuple(v for v in self.values if v in picked) or tuple(self.default)

    def _date(self, raw: Any) -> str:
        try:
            return pd.Timestamp(raw).strftime("%Y-%m-%d")
        except (TypeError, ValueError):
            raise self._fail(raw) from None

    def check_dates(self, value: str | None, earliest: str, latest: str, why: str = "") -> None:
        """:class:`ParamError` when the parsed date ``value`` lies outside ``earliest`` ..
        ``latest`` (inclusive, ``YYYY-MM-DD``); the limits depend on the data, so the view
        that knows them calls this after :meth:`parse`. ``why`` explains the limits."""
        if value is None or earliest <= value <= latest:
            return
        reason = f" ({why})" if why else ""
        raise ParamError(
            self, f"{self.title} must be a date from {earliest} to {latest}{reason}; got {value!r}."
        )

    def _text(self, raw: Any) -> str:
        text = str(raw).strip()
        if self.high is not None and len(text) > self.high:
            raise self._fail(text[:40] + "...")
        return text

    def _cuts(self, raw: Any) -> tuple[float, ...]:
        items = str(raw).replace(";", ",").split(",") if isinstance(raw, str) else list(raw)
        try:
            values = tuple(float(v) for v in items if str(v).strip())
        except (TypeError, ValueError):
            raise self._fail(raw) from None
        ok = (
            len(values) == 4
            and all(math.isfinite(v) for v in values)
            and all(a < b for a, b in zip(values, values[1:], strict=False))
        )
        if not ok:
            raise self._fail(raw)
        return values


def _blank(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return raw.strip() == ""
    return isinstance(raw, list | tuple) and len(raw) == 0


def _num_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def parse_all(pairs: Iterable[tuple[Param, Any]]) -> tuple:
    """``(param.parse(raw) for each pair)`` as a tuple: the first invalid value raises."""
    return tuple(param.parse(raw) for param, raw in pairs)
