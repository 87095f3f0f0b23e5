"""Interventions: a task re-run with some of its resolved defaults, or its initial weights, set to another
environment's values, so the host can prove which difference moves the numbers.

The host names each override by the key the introspection records (``fit.epochs``,
``optimizer.Adam.epsilon``, ``gru.reset_after``), ``initial_weights``, or ``api.<behaviour probe>`` (an API
call spelt so that it behaves as in the baseline); the compatibility helpers that
build what the key describes take it from here (:func:`take`). A value the task gives explicitly is never
overridden: only what the library would have defaulted. What was taken is recorded, so an override that
the task never reached is reported as not applied instead of silently proving nothing.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

_IN_FORCE = {}
_APPLIED = set()


def start(overrides):
    """Put ``overrides`` (``{key: value}``) in force for the next task run; forget what was applied."""
    _IN_FORCE.clear()
    _IN_FORCE.update(overrides)
    _APPLIED.clear()


def stop():
    """No override in force (a normal run); return the keys that were applied, sorted."""
    applied = sorted(_APPLIED)
    _IN_FORCE.clear()
    _APPLIED.clear()
    return applied


def take(prefix, given):
    """``given`` plus the overrides under ``prefix`` (``"fit."``) that it does not set itself, by their
    short name (``epochs``); those are recorded as applied."""
    merged = dict(given)
    for key, value in _IN_FORCE.items():
        if key.startswith(prefix) and "." not in key[len(prefix):]:
            name = key[len(prefix):]
            if name not in merged:
                merged[name] = value
                _APPLIED.add(key)
    return merged


def wanted(prefix):
    """Whether any override under ``prefix`` is in force (e.g. to build an optimizer named by a string)."""
    return any(key.startswith(prefix) for key in _IN_FORCE)


def value(key):
    """The override in force for ``key``, or ``None``; the caller says :func:`applied` once it used it."""
    return _IN_FORCE.get(key)


def applied(key):
    """Record that the override of ``key`` changed what the task did."""
    _APPLIED.add(key)


def initial_weights():
    """The initial weights to start from instead of the library's (a list of arrays as nested lists), or
    ``None``; recorded as applied when there are some."""
    weights = value("initial_weights")
    if weights is not None:
        applied("initial_weights")
    return weights
