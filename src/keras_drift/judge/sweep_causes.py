"""Why an entry of the API sweep drifted, where the sweep's own records can tell: only its random stream,
or its class's defaults.

The general rules of :mod:`keras_drift.judge.attribute` know a task's declared defaults, its API calls and
its initial weights; a sweep entry has none of those, but it has two things of its own:

1. **The random stream.** An entry that draws random numbers (``random_stream`` in its record: it takes a
   ``seed``) also ran with another seed in each environment, and recorded how far that moved the mean and
   standard deviation of each output (``seed_spread``). When only the draws differ between two versions, the
   output keeps its distribution: its mean and standard deviation on the two sides then agree within what
   sampling moves them, the larger of :data:`STANDARD_ERRORS` standard errors over its values (as if they
   were independent) and :data:`SEED_SPREADS` times the spread another seed gave. A drift of that output's
   values (its checksum, minimum, maximum, or its mean and standard deviation within those bounds) is then
   ``random_stream``, suspected: the same distribution, other draws. A changed shape or dtype never is, nor
   is an output whose distribution moved further: that is a real change of the entry.
2. **The class's defaults.** The API surface each probe records gives the class's signature on both sides;
   where a parameter the call leaves to its default changed its default, or the class gained a parameter
   (whose default now decides), the drift is ``defaults``, suspected, naming them.

Neither holds: the general rules decide (``numerics`` where Keras or the backend differs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from keras_drift.judge import surface
from keras_drift.judge.reproductions import PREFIX, SECTION, entry_of
from keras_drift.store.results import Result
from keras_drift.store.verdicts import Cause

STANDARD_ERRORS = 4.0  # how far apart two samples' means (or standard deviations) may be: in standard errors
SEED_SPREADS = 3.0  # ... or in multiples of what another seed moved them, in either environment
NEVER_THE_STREAM = ("shape", "dtype")  # what the draws cannot change
DRAWN_WEIGHTS = "weights"  # a layer's weights as built: drawn by its default initializers, seeded or not
_SHAPE_IN_NAME = re.compile(r"shape\(([\d,]+)\)")  # an initializer's output: shape(3,4,5)
_ARGUMENT = re.compile(r"[(,]([A-Za-z_]\w*)=")


def explain(metric: str, result: Result, *, base: Result) -> tuple[Cause, str] | None:
    """The cause of a drifting sweep metric and its evidence, where rule 1 or 2 of the module holds."""
    found = entry_of(result, metric) or entry_of(base, metric)
    if found is None:
        return None
    key, record = found
    what = metric[len(PREFIX) + len(key) + 1:]
    call = str(record.get("call", key))
    drawn_weights = what.startswith(DRAWN_WEIGHTS)
    if record.get("random_stream") or drawn_weights:
        stream = random_stream(key, what, result=result, base=base)
        if stream:
            return Cause.RANDOM_STREAM, f"{call} draws random numbers: {stream}"
    defaults = changed_defaults(call, result=result, base=base, initializers=drawn_weights)
    if defaults:
        return Cause.DEFAULTS, f"{call} leaves to their defaults what changed: {defaults}"
    return None


def random_stream(key: str, what: str, *, result: Result, base: Result) -> str | None:
    """Why the drift of ``what`` (an output's statistic, ``training.checksum``) of entry ``key`` is only its
    random stream (rule 1), in words; ``None`` where its distribution moved, or cannot be told."""
    output, _, statistic = what.rpartition(".")
    if not output or statistic in NEVER_THE_STREAM:
        return None
    sides = [_distribution(key, output, side) for side in (base, result)]
    if any(side is None for side in sides):
        return None
    (mean_a, std_a, n_a, spread_a), (mean_b, std_b, n_b, spread_b) = sides  # type: ignore[misc]
    n = min(n_a, n_b)
    sigma = max(std_a, std_b)
    mean_bound = max(STANDARD_ERRORS * sigma * math.sqrt(2 / n), SEED_SPREADS * max(spread_a[0], spread_b[0]))
    std_bound = max(STANDARD_ERRORS * sigma / math.sqrt(n), SEED_SPREADS * max(spread_a[1], spread_b[1]))
    if abs(mean_a - mean_b) > mean_bound or abs(std_a - std_b) > std_bound:
        return None
    return (f"its {output} keeps its distribution (mean {mean_a:.4g} and {mean_b:.4g}, within {mean_bound:.2g}; std "
            f"{std_a:.4g} and {std_b:.4g}, within {std_bound:.2g}: sampling error over {n} values, or what another "
            "seed moves them) while the values drawn differ")


def _distribution(key: str, output: str, result: Result) -> tuple[float, float, int, tuple[float, float]] | None:
    """``(mean, std, number of values, (spread of the mean, spread of the std))`` of one output of one
    side; ``None`` where its mean, std or size is not recorded."""
    metrics = result.metrics
    mean, std = metrics.get(f"{PREFIX}{key}.{output}.mean"), metrics.get(f"{PREFIX}{key}.{output}.std")
    if not isinstance(mean, (int, float)) or not isinstance(std, (int, float)) or not math.isfinite(mean + std):
        return None
    size = _size(metrics.get(f"{PREFIX}{key}.{output}.shape"), output)
    if not size:
        return None
    record = (result.get(SECTION) or {}).get(key)
    spreads: Mapping[str, Any] = (record.get("seed_spread") or {}) if isinstance(record, Mapping) else {}
    spread = tuple(float(spreads.get(f"{output}.{name}", 0.0)) for name in ("mean", "std"))
    return float(mean), float(std), size, (spread[0], spread[1])


def _size(shape: Any, output: str) -> int | None:
    """The number of values of an output: from its recorded shape (``2x8x8x3``), else from the shape its
    name carries (``shape(3,4,5)``, an initializer's)."""
    sizes = [int(size) for size in shape.split("x") if size] if isinstance(shape, str) else None
    if sizes is None and (named := _SHAPE_IN_NAME.search(output)):
        sizes = [int(size) for size in named.group(1).split(",") if size]
    return math.prod(sizes) if sizes else None


def changed_defaults(call: str, *, result: Result, base: Result, initializers: bool = False, gained: bool = True) -> str | None:
    """The defaults the class of ``call`` (``layers.RandomContrast(factor=0.2,seed=1)``) changed between the
    two sides' API surfaces among the parameters the call does not set, and the parameters it gained, as
    one line; with ``initializers`` (the drift is in weights the layer drew), also the changes of the
    initializer classes its default initializers name (``kernel_initializer='glorot_uniform'``:
    ``initializers.GlorotUniform``); without ``gained``, changed defaults only. ``None`` where none changed,
    or a side did not record its surface."""
    qualified = call.split("(", 1)[0]
    namespace, _, name = qualified.rpartition(".")
    before, after = _entry(base, namespace, name), _entry(result, namespace, name)
    if not before or not after:
        return None
    explicit = set(_ARGUMENT.findall(call))
    parts = [_unset(surface.entry_change(qualified, before, after), explicit, gained)]
    if initializers:
        for parameter in surface.parse_signature(str(before.get("signature", ""))):
            if parameter.name.endswith("_initializer") and parameter.name not in explicit and parameter.default:
                default = parameter.default.strip("'\"")
                cls = "".join(word.capitalize() for word in default.split("_"))
                change = surface.entry_change(f"initializers.{cls}", _entry(base, "initializers", cls) or {},
                                              _entry(result, "initializers", cls) or {})
                text = _unset(change, set(), gained)
                parts.append(f"its default {parameter.name} {parameter.default} ({text})" if text else None)
    found = [part for part in parts if part]
    return "; ".join(found) or None


def _entry(result: Result, namespace: str, name: str) -> Mapping[str, Any] | None:
    return surface.surface_of(result).get(namespace, {}).get(name)


def _unset(change: surface.SignatureChange | None, explicit: set[str], gained: bool) -> str | None:
    """``change``'s changed defaults (and, with ``gained``, its gained parameters), less those in
    ``explicit``, in words."""
    if change is None:
        return None
    relevant = replace(change, kind=None, removed=(), kinds=(), reordered=False, into_kwargs=False,
                       added=tuple(parameter for parameter in change.added if parameter not in explicit and gained),
                       defaults=tuple(found for found in change.defaults if found[0] not in explicit))
    if not relevant.added and not relevant.defaults:
        return None
    return relevant.text()
