"""Optimizers in every Keras version's dialect, and the watch on how a task spells their learning rate.

:func:`optimizer` builds one by class name with canonical argument names, taking interventions on its
defaults from :mod:`probe.overrides`. :func:`watch_api_calls` wraps each optimizer class's ``__init__`` so
that a task's ``lr=`` spelling is noted (the spelling whose meaning changed: honoured, then silently
ignored, then refused) and, when an intervention asks, spelt as the baseline's version took it. The depth
of watched calls and the spellings noted live in :data:`probe.state.STATE`. Python 3.6-compatible on
purpose: the probe runs in era-authentic interpreters.
"""

import contextlib
import functools
import inspect

from probe import overrides
from probe.frameworks import NotApplicable, keras_version
from probe.spelling import accepts, parameters, spell
from probe.state import STATE

# Arguments every optimizer takes through **kwargs, though its signature does not name them.
OPTIMIZER_KWARGS = ("clipnorm", "clipvalue")
# The behaviour probe (probe.introspect) of an API spelling whose meaning changed: the learning rate spelt
# ``lr=`` was honoured, then silently ignored (tf.keras 2.11-2.15), then refused (Keras 3).
LR_KEYWORD_CALL = "SGD(lr=0.1)"


def optimizer(keras, name, **kwargs):
    """An optimizer instance by class name, with canonical argument names (``learning_rate``)."""
    cls = getattr(keras.optimizers, name)
    with _spelt_here():
        return cls(**spell(cls, **overrides.take("optimizer.%s." % name, kwargs)))


def named_optimizer(keras, alias):
    """What ``optimizer="sgd"`` means: the string itself, as a user writes it, unless an intervention sets
    one of that optimizer's defaults; then the instance with it."""
    for name in dir(keras.optimizers):
        if name.lower() == alias and overrides.wanted("optimizer.%s." % name):
            return optimizer(keras, name)
    return alias


def optimizer_accepting(keras, name, **kwargs):
    """An optimizer built with those of ``kwargs`` its class accepts; return it and the names it did not."""
    cls = getattr(keras.optimizers, name, None)
    if cls is None:
        raise NotApplicable("no optimizers.%s in Keras %s" % (name, keras_version(keras)))
    kwargs = overrides.take("optimizer.%s." % name, kwargs)
    taken = dict((key, value) for key, value in kwargs.items() if accepts(cls, key) or key in OPTIMIZER_KWARGS)
    with _spelt_here():
        return cls(**spell(cls, **taken)), sorted(set(kwargs) - set(taken))


def watch_api_calls(keras):
    """Wrap the ``__init__`` of each optimizer class on ``keras.optimizers`` (in place: old Keras calls
    ``super(SGD, self)`` through its module's names, so the classes themselves must stay) to note a call
    spelling ``lr=`` in ``STATE.api_calls`` and, when an intervention asks (``api.SGD(lr=0.1)``), spell it so
    that it behaves as the baseline's did: ``honoured`` passes the value under the keyword this version
    honours, ``ignored ...`` drops it."""
    optimizers = getattr(keras, "optimizers", None)
    if optimizers is None:  # no framework: the probe's own tests run stand-in tasks
        return
    for name in dir(optimizers):
        cls = getattr(optimizers, name)
        # Every class that takes a learning rate (the base classes differ between versions) and defines its
        # own __init__ (a subclass that inherits one is watched through it).
        if inspect.isclass(cls) and "__init__" in vars(cls) and accepts(cls, "learning_rate") and not _is_watched(cls):
            cls.__init__ = _watched(cls.__init__)


def _is_watched(cls):
    return getattr(vars(cls)["__init__"], "_keras_drift_watched", False)


@contextlib.contextmanager
def _spelt_here():
    """Construct an optimizer with this module's own spelling: not a call the task spelt."""
    STATE.watch_depth += 1
    try:
        yield
    finally:
        STATE.watch_depth -= 1


def _watched(original):
    @functools.wraps(original)  # inspect.signature follows __wrapped__: spell() still sees the real names
    def __init__(self, *args, **kwargs):
        if "lr" in kwargs and STATE.watch_depth == 0:
            STATE.api_calls.add(LR_KEYWORD_CALL)
            kwargs = _respelt_lr(type(self), kwargs)
        with _spelt_here():
            original(self, *args, **kwargs)

    __init__._keras_drift_watched = True
    return __init__


def _respelt_lr(cls, kwargs):
    key = "api." + LR_KEYWORD_CALL
    behaviour = str(overrides.value(key) or "")
    if behaviour != "honoured" and not behaviour.startswith("ignored"):
        return kwargs  # no intervention, or a behaviour (an error) that a spelling cannot reproduce
    kwargs = dict(kwargs)
    rate = kwargs.pop("lr")
    if behaviour == "honoured":
        kwargs["learning_rate" if "learning_rate" in parameters(cls) else "lr"] = rate
    overrides.applied(key)
    return kwargs
