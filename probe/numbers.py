"""How the probe writes a number into JSON: JSON has no NaN or infinity, so the result file spells them as
strings, which the host reads back (``keras_drift.store.results``). Python 3.6 syntax."""

import math

NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def json_scalar(value):
    """``value`` as the result file holds it: a non-finite float as its string spelling, anything else as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return NON_FINITE[repr(float(value))]  # NumPy 2 spells its own floats np.float64(nan)
    return value


def plain(value):
    """``value`` with every non-finite float in it, at any depth, spelt as :func:`json_scalar` spells it, and
    NumPy scalars and arrays as plain Python values: what ``json.dumps(..., allow_nan=False)`` accepts."""
    if isinstance(value, float):
        return json_scalar(float(value))
    if isinstance(value, dict):
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # a NumPy scalar or array
        return plain(value.tolist())
    return value
