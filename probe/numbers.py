"""How the probe writes a number into JSON: JSON has no NaN or infinity, so the result file spells them as
strings, which the host reads back (``keras_drift.results``). Python 3.6 syntax."""

import math

NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def json_scalar(value):
    """``value`` as the result file holds it: a non-finite float as its string spelling, anything else as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return NON_FINITE[repr(value)]
    return value
