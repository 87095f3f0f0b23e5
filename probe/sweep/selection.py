"""Which entries a sweep exercises: the mode, and (targeted) the public classes the tasks run before
the sweep constructed, which :func:`watch_constructions` notes as they run."""

import functools
import inspect
import sys

from probe.state import STATE
from probe.sweep.calls import namespace_module, public_classes
from probe.sweep.tables import CORE, DEFAULT_MODE, KINDS, LIBRARY_PACKAGES, NAMESPACES


class Settings(object):
    """What this process sweeps: ``mode`` (:data:`MODES`), the public classes the tasks run before the sweep
    constructed (``called``: ``layers.Dense``, ...), whether a sweep task is running (``active``: its
    own constructions are not the tasks' calls), and the folder an entry that writes files works in
    (``scratch``: beside the result file, set by the runner; removed after each entry)."""

    def __init__(self):
        self.mode = DEFAULT_MODE
        self.called = frozenset()
        self.active = False
        self.scratch = "keras-drift-sweep-scratch"


SETTINGS = Settings()
# Every watched public class -> its name as noted (``layers.Dense``).
_NOTED_AS = {}


# -- which classes the tasks construct --------------------------------------------------------------------


def watch_constructions(keras):
    """Wrap the ``__init__`` of every public class of the swept namespaces (in place, as
    :func:`probe.optimizers.watch_api_calls` does) so that a construction called from outside the library
    notes the class in ``STATE.constructed``; a class the library builds for itself (an LSTM's cell, the
    loss tracker of ``compile``) is not the task's call. The wrapper keeps the signature the library and
    ``inspect.getfullargspec`` read (Keras 3 reads it to make a layer's config)."""
    if keras is None:  # no framework: the probe's own tests run stand-in tasks
        return
    for kind in KINDS:
        namespace, base_name = NAMESPACES[kind]
        module = namespace_module(keras, namespace)
        base = getattr(module, base_name, None) if module is not None and base_name else None
        if not inspect.isclass(base):
            continue
        for name, cls in public_classes(module, base):
            _NOTED_AS[cls] = "%s.%s" % (namespace, name)
            if "__init__" in vars(cls) and not getattr(vars(cls)["__init__"], "_keras_drift_noted", False):
                cls.__init__ = _noting(cls.__init__)


def _noting(original):
    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        if not SETTINGS.active:
            _note(type(self), sys._getframe(1).f_globals.get("__name__", ""))
        original(self, *args, **kwargs)

    __init__._keras_drift_noted = True
    try:
        __init__.__signature__ = inspect.signature(original)
    except (TypeError, ValueError):
        pass
    return __init__


def _note(cls, caller):
    if caller.split(".", 1)[0] in LIBRARY_PACKAGES:
        return
    for klass in cls.__mro__:  # a user's subclass of Dense calls Dense
        if klass in _NOTED_AS:
            STATE.constructed.add(_NOTED_AS[klass])
            return


def called_in(facts):
    """The public classes the finished tasks constructed, from their ``facts`` (``{task: facts}``): kept
    in the result, so a resumed process knows them too."""
    found = set()
    for task_facts in facts.values():
        found.update(task_facts.get("constructed", ()))
    return frozenset(found)


def selected(kind, found, mode=None, called=None):
    """The entries a sweep in ``mode`` exercises: all of them (``full``), or (``targeted``) those of the
    fixed :data:`CORE` and of the classes the tasks constructed (``called``: ``layers.Dense``, ...), each as
    its class needs to be called, without the variants of the tables (every option of every optimizer and
    callback is the nightly's: they were most of the targeted sweep's cost)."""
    mode = mode or SETTINGS.mode
    if mode == "full":
        return list(found)
    if mode == "off":
        return []
    namespace = NAMESPACES[kind][0]
    wanted = set(CORE[kind]) | set(name[len(namespace) + 1:] for name in (SETTINGS.called if called is None else called)
                                   if name.startswith(namespace + ".") and "." not in name[len(namespace) + 1:])
    return [entry for entry in found if entry.public in wanted and not entry.variant]
