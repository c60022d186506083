"""A page callback's outputs kept in the results cache.

A page callback builds its figures, tables and text from service views that are cached
already; building them again for the same inputs (a revisit, another user, a second worker
answering the same page) costs 20-60 ms of CPU at full scale (histograms, Plotly figure
dicts, Dash components). :func:`kept_outputs` memoizes the outputs themselves, under the
callback's input values and the dataset's content version (and, as every results key, the
code's hash): the second request for the same inputs is a cache read.

Only for callbacks whose outputs are a function of their inputs alone: no
``dash.ctx.triggered``, no ``set_props``, and no message that depends on the moment (a
callback that answers "being prepared" and asks again must not keep that answer).
Exceptions are never kept. The dataset's version is looked up first, so a request for
another owner's upload fails there as it does without the cache, before anything is read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from dashapp import service
from dashapp.service.caching import ensure_cache, single_flight, versioned_name


def _hashable(value: Any) -> Any:
    """The single-flight key's form of a callback input (lists become tuples)."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def kept_outputs(
    fn: Callable[..., Any] | None = None, *, dataset_arg: int = 0
) -> Callable[..., Any]:
    """Memoize ``fn(*inputs)``, a page callback whose input ``dataset_arg`` (the first by
    default) is the dataset id, in the results cache (see the module's docstring for which
    callbacks qualify). ``@kept_outputs`` or ``@kept_outputs(dataset_arg=1)``."""
    if fn is None:
        return lambda f: kept_outputs(f, dataset_arg=dataset_arg)

    def compute(_version: str, *args: Any) -> Any:  # the version: part of the key only
        return fn(*args)

    # the cache key's name is the callback's (each callback its own keys)
    compute.__module__, compute.__qualname__ = fn.__module__, f"{fn.__qualname__}.outputs"
    cached = service.cache.memoize(make_name=versioned_name)(compute)
    name = f"{fn.__module__}.{fn.__qualname__}.outputs"

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        try:
            version = service.dataset_version(args[dataset_arg])
        except Exception:  # noqa: BLE001 (the callback itself says what is wrong)
            return fn(*args)
        ensure_cache()
        with single_flight((name, version, *map(_hashable, args))):
            return cached(version, *args)

    return call
