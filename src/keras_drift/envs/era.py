"""Era-authentic resolution: what an environment without a lock installs beside its pins.

People pin old releases to reproduce the past. Resolved today, ``jax[cpu]==0.4.26`` brings ml-dtypes 0.5,
SciPy 1.17 and packaging 26: combinations that never existed while that jax was current, and whose
numbers are not the ones its users saw. So an environment without a lock resolves what its pins leave
open as of its era: the newest upload among its exact pins (read from the index's simple API, PEP 700's
``upload-time``), plus :data:`MARGIN` for a companion package uploaded just after (``jaxlib`` beside
``jax``), handed to uv as ``--exclude-newer``. ``keras-drift lock`` uses the same date; ``resolve =
"latest"`` in an env file opts out.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping

from keras_drift.envs import releases
from keras_drift.envs.specs import EnvSpec

# A companion release published beside a pin (jaxlib beside jax, tensorflow-io beside tensorflow) can be
# uploaded minutes to hours after it: a day keeps it in without reaching into the next release cycle.
MARGIN = datetime.timedelta(days=1)


def as_of(spec: EnvSpec, environment: Mapping[str, str]) -> datetime.datetime | None:
    """The date ``spec`` resolves (or is locked) as of (see the module), or ``None`` where it resolves as of
    today: it floats, says ``resolve = "latest"``, or no pin's upload time can be read (an index without
    PEP 700 metadata). ``environment`` is what the installers see (their index configuration)."""
    if not spec.resolves_as_of_its_era or environment.get("UV_NO_INDEX", "").lower() in ("1", "true", "yes"):
        return None  # no index at all: find-links folders carry no upload times
    return _newest_upload(tuple(sorted(spec.exact_pins().items())), _primary(environment))


def stamp(date: datetime.datetime) -> str:
    """``date`` as uv's ``--exclude-newer`` takes it and the result records it (RFC 3339, UTC)."""
    return date.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _primary(environment: Mapping[str, str]) -> releases.Source:
    """The index upload times are read from: the primary index uv installs from (PyPI unless configured);
    extra indexes and find-links folders carry no upload times."""
    return releases.index_sources(None, environment)[0]


@functools.lru_cache(maxsize=256)
def _newest_upload(pins: tuple[tuple[str, str], ...], source: releases.Source) -> datetime.datetime | None:
    uploads = [uploaded for package, version in pins if (uploaded := releases.upload_time(package, version, source)) is not None]
    return max(uploads) + MARGIN if uploads else None
