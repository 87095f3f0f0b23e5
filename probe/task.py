"""The one interface of everything the probe runs: a named task returning ``(metrics, series, facts)``.

A task is a name (``family.name``; its metrics are ``family.name.<metric>``), a function of the Keras module
whose docstring's first line says what it isolates, the resolved defaults it depends on (prefixes of the
keys in ``introspection.defaults``, so the defaults diff and the cause rules know), and the defaults it sets
explicitly (so they are never blamed). A task that cannot run in a version raises ``frameworks.NotApplicable``
with the reason and is ``skipped``, never ``failed``.

``facts`` may hold ``resolved_defaults`` (``{key: value}``): the defaults a task found in force (e.g.
``gru.reset_after``), added to the environment's ``introspection.defaults``.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

import fnmatch
import hashlib

import numpy as np

from probe import frameworks, overrides, records, saving

# Models up to this many weight values (a small MLP: the Adam classifier example has 5,569) record them
# whole, so another environment can replay them.
REPLAYABLE_VALUES = 20000


class Task(object):
    """A named unit of the probe (see the module docstring)."""

    def __init__(self, name, run, defaults=(), explicit=(), random_stream=False, repeat=True, kind="user", saves=None, calls=()):
        self.name = name
        # "seed" (the cases keras-drift grew from), "canary" (built in) or "user" (the user's own probes)
        self.kind = kind
        self.family = name.split(".", 1)[0]
        self.run = run
        self.defaults = tuple(defaults)
        self.explicit = tuple(explicit)
        # Draws random numbers by construction (a Dropout mask): its drift is the random stream.
        self.random_stream = random_stream
        # Fed only NumPy inputs and NumPy weights: one run suffices, a repeat would only measure zero.
        self.repeat = repeat
        self.doc = ((run.__doc__ or "").strip().splitlines() or [""])[0]
        # A model task's :class:`saving.Saving`: its trained model (offered with ``saving.keep``) is saved
        # in every format, and other environments load those files.
        self.saving = saves
        # Public classes it calls whatever its defaults (``optimizers.Nadam``): another door to Keras that
        # reaches other objects for them runs it too (:func:`through_door`).
        self.calls = tuple(calls)

    def declaration(self):
        """What the result records of the task, whatever its outcome."""
        return {
            "family": self.family,
            "doc": self.doc,
            "defaults": list(self.defaults),
            "explicit": list(self.explicit),
            "random_stream": self.random_stream,
            "repeat": self.repeat,
            "kind": self.kind,
            "saves": self.saving is not None,
        }


def through_door(task, door, module):
    """``task`` run through another door to Keras (``module``, see :func:`frameworks.front_doors`), named by
    it: ``optimizer.Adam.defaults@keras``, its metrics and series ``optimizer.Adam.defaults@keras.w``. It saves
    no models: the documented door's task does."""
    name = "%s@%s" % (task.name, door)

    def run(_documented):
        metrics, series, facts = task.run(module)
        return _renamed(metrics, task.name, name), _renamed(series, task.name, name), facts

    run.__doc__ = "%s (through %s)" % (task.doc, door)
    return Task(name, run, defaults=task.defaults, explicit=task.explicit, random_stream=task.random_stream,
                repeat=task.repeat, kind=task.kind)


def touches(task, classes, prefixes):
    """Whether ``task`` calls one of ``classes`` (``optimizers.Adam``) or something under one of
    ``prefixes`` (``optimizer.Adam.``): it says it calls the class, or one of the defaults or explicit
    settings it declares starts with the prefix."""
    return bool(set(task.calls) & set(classes)) or any(declared.startswith(prefixes) for declared in task.defaults + task.explicit)


def _renamed(values, old, new):
    return dict((new + key[len(old):] if key.startswith(old) else new + "." + key, value) for key, value in values.items())


def select(tasks, patterns):
    """The tasks whose name matches any of the glob ``patterns`` (all of them when there are none)."""
    if not patterns:
        return list(tasks)
    return [task for task in tasks if any(fnmatch.fnmatchcase(task.name, pattern) for pattern in patterns)]


# -- helpers for task authors (the built-in tasks and the user's own probe modules) --------------------


def seeded(seed):
    """A NumPy random generator that gives the same numbers in every environment."""
    return np.random.RandomState(seed)


def shared_weights(model, seed, scale=0.1):
    """NumPy weights for ``model`` by seed: uniform in [-scale, scale] in the shape of each of its arrays."""
    rng = seeded(seed)
    return [rng.uniform(-scale, scale, size=np.shape(array)).astype("float32") for array in model.get_weights()]


def weights_fingerprint(model):
    """A checksum of all of a model's weights (float32 bytes) and the first kernel values, readable."""
    return arrays_fingerprint(model.get_weights())


def arrays_fingerprint(arrays):
    """:func:`weights_fingerprint` of a list of arrays (several models' weights, one after the other)."""
    arrays = [np.asarray(array, dtype="float32") for array in arrays]
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(array).tobytes() for array in arrays)).hexdigest()
    return {"sha256": digest[:16], "head": [float(v) for v in arrays[0].ravel()[:3]]} if arrays else {"sha256": digest[:16], "head": []}


def start_from(model, weights=None):
    """Give ``model`` its initial weights: ``weights`` (NumPy arrays), or the library's own when ``None``,
    unless an intervention replays another environment's. Return the facts that record them: a
    fingerprint, and the arrays themselves for a model small enough to replay."""
    replayed = overrides.initial_weights()
    if replayed is not None:
        weights = [np.asarray(array, dtype="float32") for array in replayed]
    if weights is not None:
        model.set_weights(weights)
    facts = {"initial_weights": weights_fingerprint(model)}
    arrays = whole_weights(model)
    if arrays is not None:
        facts["initial_arrays"] = arrays
    return facts


def whole_weights(model):
    """All of ``model``'s weights as nested lists (float32 values), for a model small enough to replay or
    to recompute from; ``None`` for a larger one."""
    return whole_arrays(model.get_weights())


def whole_arrays(arrays):
    """:func:`whole_weights` of a list of arrays."""
    if sum(np.size(array) for array in arrays) > REPLAYABLE_VALUES:
        return None
    return [np.asarray(array, dtype="float32").tolist() for array in arrays]


def model_tasks(name, build, train, defaults=(), seed=7, sample=None, loss=None):
    """Two tasks for one model, so that random streams are told apart from everything else:

    ``<name>.defaults`` trains ``build(keras)`` from the library's own initial weights, and
    ``<name>.shared_init`` from NumPy weights by seed (:func:`shared_weights`). ``train(keras, model)``
    compiles and trains it and returns ``(metrics, series)``: metrics by short name (``loss``), series as
    ``{column: [values]}``. The family is the first part of ``name``.

    ``sample()`` returns a small batch ``(x, y)``: the ``shared_init`` twin records every layer's output
    for it before training and, given the task's ``loss``, each weight's gradient (``probe.records``), so
    that a drift can be localised to the layer that introduces it. The ``shared_init`` twin's trained model
    is also saved in every format and loaded by the other environments (``probe.saving``), rebuilt with
    ``build`` and compiled with ``loss`` for the weights-only formats.
    """

    def make(variant, share):
        def run(keras):
            frameworks.reset(keras, seed)
            model = build(keras)
            facts = start_from(model, shared_weights(model, seed) if share else None)
            if share and sample is not None:
                x, y = sample()
                facts.update(records.take(keras, name + "." + variant, model, x, y, loss))
            metrics, series = train(keras, model)
            if share:
                saving.keep(model)
            facts["final_weights"] = weights_fingerprint(model)
            prefix = "%s.%s." % (name, variant)
            return (dict((prefix + key, value) for key, value in metrics.items()),
                    {name + "." + variant: series}, facts)

        run.__doc__ = (build.__doc__ or name).strip().splitlines()[0] + (
            " (NumPy initial weights)" if share else " (the library's initial weights)")
        saves = saving.Saving(build, loss or "mse", sample) if share and sample is not None else None
        return Task(name + "." + variant, run, defaults=defaults, saves=saves)

    return [make("defaults", False), make("shared_init", True)]
