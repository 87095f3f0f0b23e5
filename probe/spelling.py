"""The probe's one dialect of argument names, translated to what the installed Keras accepts.

The rest of the probe speaks one dialect (``units``, ``learning_rate``, ``epochs``, ``accuracy``); Keras
spelt those differently over time (``output_dim``, ``lr``, ``nb_epoch``, ``acc``). This module holds the
spellings and the small readers every other helper module needs: a callable's parameter names, a value as
plain Python. Python 3.6-compatible on purpose: the probe runs in era-authentic interpreters.
"""

import inspect

import numpy as np

# Canonical argument name -> the spellings Keras used over time, newest first.
ARGUMENT_SPELLINGS = {
    "units": ("units", "output_dim"),
    "learning_rate": ("learning_rate", "lr"),
    "epochs": ("epochs", "nb_epoch"),
    "rate": ("rate", "p"),
    "stddev": ("stddev", "sigma"),
    "data_format": ("data_format", "dim_ordering"),
    "kernel_initializer": ("kernel_initializer", "init"),
}
# Values of renamed arguments, for the old spelling: Keras 1 said dim_ordering="tf" for channels_last.
ARGUMENT_VALUES = {("dim_ordering", "channels_last"): "tf", ("dim_ordering", "channels_first"): "th"}
# History keys of Keras <= 2.2 -> their later names.
HISTORY_KEYS = {"acc": "accuracy", "val_acc": "val_accuracy"}
# Config keys of older optimizers -> their later names.
CONFIG_KEYS = {"lr": "learning_rate"}


def spell(callable_, **kwargs):
    """Rename canonical keyword arguments to the spelling ``callable_`` accepts."""
    accepted = parameters(callable_)
    spelled = {}
    for name, value in kwargs.items():
        for candidate in ARGUMENT_SPELLINGS.get(name, (name,)):
            if candidate in accepted:
                spelled[candidate] = ARGUMENT_VALUES.get((candidate, value), value)
                break
        else:
            spelled[name] = value
    return spelled


def accepts(callable_, name):
    """Whether ``callable_`` names the canonical argument ``name`` (in any of its spellings)."""
    accepted = parameters(callable_)
    return any(candidate in accepted for candidate in ARGUMENT_SPELLINGS.get(name, (name,)))


def parameters(callable_):
    """The parameter names of ``callable_`` (of its ``__init__`` for a class); none where it has no signature."""
    target = callable_.__init__ if inspect.isclass(callable_) else callable_
    try:
        return set(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return set()


def plain_scalar(value):
    """A NumPy or backend scalar as a plain Python value, floats rounded to float32 precision."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float("%.7g" % value)
    return value


def is_scalar(value):
    """Whether a config value is a plain scalar (``None``, a bool, a number, a string)."""
    return value is None or isinstance(value, (bool, int, float, str))


def first_scalar(value):
    """The first value a library call returns (the loss of ``[loss, metric, ...]``), as a float."""
    if isinstance(value, (list, tuple)):
        value = value[0]
    return float(np.asarray(value))


def listed(value):
    """``value`` as a list: itself where it is a list or tuple, else in a list of one."""
    return list(value) if isinstance(value, (list, tuple)) else [value]
