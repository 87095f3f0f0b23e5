"""Every difference of the Keras API between versions, absorbed in one place.

The rest of the probe speaks one dialect (``units``, ``learning_rate``, ``epochs``, ``accuracy``) and
calls these helpers; they translate to what the installed Keras accepts, from Keras 0.3 on Theano to
Keras 3 on any backend. Python 3.6-compatible on purpose: the probe runs in era-authentic interpreters.
"""

import contextlib
import functools
import importlib
import inspect
import logging
import os
import random
import sys
import time
import warnings

import numpy as np

from probe import overrides

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
# Arguments every optimizer takes through **kwargs, though its signature does not name them.
OPTIMIZER_KWARGS = ("clipnorm", "clipvalue")
# History keys of Keras <= 2.2 -> their later names.
HISTORY_KEYS = {"acc": "accuracy", "val_acc": "val_accuracy"}
SUBMODULES = ("backend", "layers", "models", "optimizers", "callbacks")
# The key prefix of a layer's resolved defaults, where it is not the class name in lower case.
LAYER_DEFAULT_PREFIXES = {"BatchNormalization": "batchnorm"}
# Config keys of older optimizers -> their later names.
CONFIG_KEYS = {"lr": "learning_rate"}


# The behaviour probe (probe.introspect) of an API spelling whose meaning changed: the learning rate spelt
# ``lr=`` was honoured, then silently ignored (tf.keras 2.11-2.15), then refused (Keras 3).
LR_KEYWORD_CALL = "SGD(lr=0.1)"
# The behaviour probes whose spelling the task running now used (its facts record them as api_calls).
API_CALLS = set()


def load_keras(compile_cache=""):
    """Import the Keras under test through the door its users are documented to use (:func:`front_doors`),
    and note every door in :data:`DOORS`. Given a ``compile_cache`` folder, the backend keeps the programs
    it compiles there (:func:`keep_compiled_programs`)."""
    listen_for_warnings()
    DOORS[:] = front_doors()
    keras = DOORS[0][1]
    if backend_name(keras) == "theano":
        # Keras 1.x calls theano.ifelse.ifelse, a submodule Theano 1.0 no longer imports by itself.
        importlib.import_module("theano.ifelse")
    if backend_name(keras) == "jax":
        _count_compile_seconds()
        if compile_cache:
            keep_compiled_programs(compile_cache)
    return keras


# Every documented way to reach Keras in this environment, ``[(door, module)]``, the one tasks use first.
DOORS = []
# The public namespaces whose classes the probe calls, compared across doors.
DOOR_NAMESPACES = ("optimizers", "layers", "losses", "metrics", "initializers", "activations", "callbacks", "models",
                   "regularizers", "constraints")


def front_doors():
    """``[(door, module)]``: the documented ways to reach the Keras of this environment, the one its users
    are told to use first.

    - ``TF_USE_LEGACY_KERAS=1`` (TensorFlow 2.16 and later): ``tf.keras`` is the legacy Keras 2, ``tf_keras``.
    - Keras 2.4 to 2.15 on TensorFlow 2: TensorFlow documents ``tf.keras``; ``import keras`` is a second
      door, and on TensorFlow 2.11 and 2.12 it reaches other classes (the legacy optimizers) than
      ``tf.keras`` users get.
    - Keras 3, and standalone Keras before 2.4 (its own implementation, on Theano or TensorFlow 1):
      ``import keras``.
    """
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        import tf_keras

        return [("tf.keras", _with_submodules(tf_keras))]
    import keras

    keras = _with_submodules(keras)
    if keras_major(keras) == 2 and _version_tuple(keras) >= (2, 4):
        try:
            import tensorflow as tf
        except ImportError:
            return [("keras", keras)]
        if release_tuple(tf.__version__) >= (2, 0, 0):
            return [("tf.keras", _with_submodules(tf.keras)), ("keras", keras)]
    return [("keras", keras)]


def _with_submodules(keras):
    """``keras`` with its submodules imported: Keras 0.3's package ``__init__`` imports none of them, and
    ``tf.keras`` loads them lazily."""
    for name in SUBMODULES:
        if not inspect.ismodule(getattr(keras, name, None)):
            importlib.import_module(keras.__name__ + "." + name)
    return keras


def door_differences():
    """``{door: {"module", "differs", "missing"}}`` for every door but the documented one: the public
    classes and functions of :data:`DOOR_NAMESPACES` (``optimizers.Adam``) that it reaches as other objects
    than the documented door does, and those it does not have."""
    if not DOORS:
        return {}
    documented = DOORS[0][1]
    found = {}
    for door, module in DOORS[1:]:
        differs, missing = [], []
        for namespace in DOOR_NAMESPACES:
            ours, theirs = getattr(documented, namespace, None), getattr(module, namespace, None)
            for name in sorted(dir(ours)) if ours is not None else []:
                if name.startswith("_") or inspect.ismodule(getattr(ours, name)):
                    continue
                if theirs is None or not hasattr(theirs, name):
                    missing.append(namespace + "." + name)
                elif getattr(theirs, name) is not getattr(ours, name):
                    differs.append(namespace + "." + name)
        found[door] = {"module": module.__name__, "differs": differs, "missing": missing}
    return found


# Seconds XLA spent compiling (or fetching from the compile cache) the programs of this process, on JAX:
# the probe subtracts them from a task's time per step, which then does not depend on whether the
# persistent cache already held the programs.
COMPILE_SECONDS = [0.0]


def _count_compile_seconds():
    import jax

    def add(event, seconds, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            COMPILE_SECONDS[0] += seconds

    register = getattr(getattr(jax, "monitoring", None), "register_event_duration_secs_listener", None)
    if register is not None:
        register(add)


# The first JAX release whose persistent compile cache is known to work in a probe process. Keras 3.1 to 3.7
# on JAX 0.4.26 to 0.4.35 died with a segmentation fault (or a double free) while collecting garbage with
# it on, and finished without it; 0.5 and later ran the default and smoke matrices with it.
COMPILE_CACHE_SINCE = (0, 5, 0)
# Whether this process keeps JAX's compiled programs (:func:`keep_compiled_programs`).
COMPILE_CACHE_ON = [False]


def keep_compiled_programs(folder):
    """Let JAX keep every program it compiles in ``folder`` and reuse it in later processes, from
    :data:`COMPILE_CACHE_SINCE` on. JAX keys a program by the computation, its own version, the compile
    options and the device, so a reused program is the one XLA would compile again: results cannot
    change, only XLA's compile time (about half a JAX probe) is saved. Return whether it is on."""
    import jax

    if release_tuple(jax.__version__) < COMPILE_CACHE_SINCE:
        return False
    try:
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # our programs compile in ms
    except AttributeError:  # "Unrecognized config option": a JAX without a persistent cache
        return False
    COMPILE_CACHE_ON[0] = True
    return True


def release_tuple(version):
    """The leading numbers of a version string as a tuple of three ints (``0.4.26`` -> ``(0, 4, 26)``;
    ``2.16.0rc0`` -> ``(2, 16, 0)``)."""
    parts = []
    for part in str(version).split(".")[:3]:
        digits = ""
        for character in part:
            if not character.isdigit():
                break
            digits += character
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def keras_version(keras):
    """The version string the Keras module reports about itself (its distribution's where it has none)."""
    version = getattr(keras, "__version__", None)
    if version is None:  # tf.keras of TensorFlow 2.13 to 2.15 (keras.api._v2.keras) says it on its package only
        version = getattr(sys.modules.get(keras.__name__.split(".")[0]), "__version__", None)
    if version is None:
        version = installed_distributions().get(keras.__name__.replace("_", "-"), "unknown")
    return str(version)


def keras_major(keras):
    """The major version of Keras as an int (0 for Keras 0.x)."""
    try:
        return int(keras_version(keras).split(".")[0])
    except ValueError:
        return -1


def backend_name(keras):
    """The backend Keras actually runs on, as Keras reports it."""
    backend = getattr(keras, "backend", None)
    for getter in ("backend", "_BACKEND"):
        value = getattr(backend, getter, None)
        if callable(value):
            return str(value())
        if isinstance(value, str):
            return value
    return "tensorflow" if "tensorflow" in sys.modules else "unknown"


def reset(keras, seed):
    """Start a task from a clean slate: a new graph/session where there is one, and every seed set. Keras 3's
    ``clear_session`` also collects garbage unless told not to: a full collection of the framework's heap,
    0.1 to 0.2 s a call and about a third of a Keras 3 probe's task time, for memory that tiny models do
    not need back early."""
    clear = getattr(keras.backend, "clear_session", None)
    if clear is not None:
        clear(**({"free_memory": False} if "free_memory" in _parameters(clear) else {}))
    return seed_everything(keras, seed)


def seed_everything(keras, seed):
    """Seed Python, NumPy and the backend; return how it was done (recorded in the fingerprint)."""
    random.seed(seed)
    np.random.seed(seed)
    setter = getattr(getattr(keras, "utils", None), "set_random_seed", None)
    if setter is not None:
        setter(seed)
        return "keras.utils.set_random_seed"
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        tf_setter = getattr(getattr(tf, "random", None), "set_seed", None) or getattr(tf, "set_random_seed")
        tf_setter(seed)
        return "numpy + tensorflow seed"
    return "numpy.random.seed"


def spell(callable_, **kwargs):
    """Rename canonical keyword arguments to the spelling ``callable_`` accepts."""
    accepted = _parameters(callable_)
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
    accepted = _parameters(callable_)
    return any(candidate in accepted for candidate in ARGUMENT_SPELLINGS.get(name, (name,)))


def layer(keras, class_name, *args, **kwargs):
    """A layer by class name with canonical argument names; :class:`NotApplicable` where the class is missing."""
    cls = getattr(keras.layers, class_name, None)
    if cls is None:
        raise NotApplicable("no layers.%s in Keras %s" % (class_name, keras_version(keras)))
    prefix = LAYER_DEFAULT_PREFIXES.get(class_name, class_name.lower())
    return cls(*args, **spell(cls, **overrides.take(prefix + ".", kwargs)))


def model_of(keras, make_layers, input_shape):
    """A Sequential model of ``make_layers(first)``, whose first layer gets ``first`` (the input shape
    keyword of Keras < 3); Keras 3 takes an ``Input`` instead."""
    if keras_major(keras) >= 3:
        return keras.models.Sequential([keras.Input(shape=tuple(input_shape))] + list(make_layers({})))
    return keras.models.Sequential(list(make_layers({"input_shape": tuple(input_shape)})))


def eager(keras):
    """Whether layers run eagerly here (Keras 3, tf.keras 2 on TensorFlow 2): then a model can be called
    directly, with nothing compiled or traced."""
    if keras_major(keras) >= 3:
        return True
    tf = sys.modules.get("tensorflow")
    return keras_major(keras) == 2 and tf is not None and getattr(tf, "executing_eagerly", lambda: False)()


def to_numpy(keras, tensor):
    """A backend tensor (or variable) as a NumPy array."""
    ops = getattr(keras, "ops", None)
    if ops is not None and hasattr(ops, "convert_to_numpy"):
        return np.asarray(ops.convert_to_numpy(tensor))
    return np.asarray(tensor)


def predict(model, x, keras=None):
    """The model's output for ``x`` in one batch, as a NumPy array: a direct call where Keras is eager
    (nothing compiled or traced), else ``predict``. Keras 0.3 and 1 predict only once compiled, so a model
    that is not compiled yet is compiled with a loss that does not matter here."""
    # JAX compiles every eager operation on first use: one jitted predict costs less there.
    if keras is not None and eager(keras) and backend_name(keras) != "jax":
        return to_numpy(keras, model(x, training=False))
    if getattr(model, "optimizer", None) is None:
        model.compile(optimizer="sgd", loss="mse")
    kwargs = {"batch_size": len(x)}
    if "verbose" in _parameters(model.predict):
        kwargs["verbose"] = 0
    return np.asarray(model.predict(x, **kwargs))


def evaluate_all(model, x, y, sample_weight=None):
    """``evaluate`` in one batch: every value it returns (the loss, then each metric), as floats."""
    kwargs = {"batch_size": len(x), "verbose": 0}
    if "show_accuracy" in _parameters(model.evaluate):
        kwargs["show_accuracy"] = True
    if sample_weight is not None:
        kwargs["sample_weight"] = sample_weight
    values = model.evaluate(x, y, **kwargs)
    return [float(np.asarray(value)) for value in (values if isinstance(values, (list, tuple)) else [values])]


def optimizer_accepting(keras, name, **kwargs):
    """An optimizer built with those of ``kwargs`` its class accepts; return it and the names it did not."""
    cls = getattr(keras.optimizers, name, None)
    if cls is None:
        raise NotApplicable("no optimizers.%s in Keras %s" % (name, keras_version(keras)))
    kwargs = overrides.take("optimizer.%s." % name, kwargs)
    taken = dict((key, value) for key, value in kwargs.items() if accepts(cls, key) or key in OPTIMIZER_KWARGS)
    with _spelt_here():
        return cls(**spell(cls, **taken)), sorted(set(kwargs) - set(taken))


def loss_object(keras, class_name, **kwargs):
    """A loss class instance (Keras >= 2.3 and tf.keras); :class:`NotApplicable` before loss classes."""
    cls = getattr(getattr(keras, "losses", None), class_name, None)
    if cls is None:
        raise NotApplicable("no losses.%s in Keras %s" % (class_name, keras_version(keras)))
    return cls(**kwargs)


def layer_defaults(layer_, keys):
    """The values ``layer_``'s config holds for ``keys`` (activations by name), where it has them."""
    config = layer_.get_config()
    found = {}
    for key in keys:
        if key in config:
            value = config[key]
            if isinstance(value, dict):  # Keras 3 may serialise an activation as a config
                value = value.get("config", {}).get("name", value.get("class_name"))
            found[key] = _plain(value)
    return found


def dense(keras, units, activation=None, input_dim=None):
    """A Dense layer with default initializers; ``input_dim`` only for the first layer."""
    kwargs = overrides.take("dense.", {"units": units})
    if activation is not None:
        kwargs["activation"] = activation
    if input_dim is not None and keras_major(keras) < 3:
        kwargs["input_shape"] = (input_dim,)
    return keras.layers.Dense(**spell(keras.layers.Dense, **kwargs))


def sequential(keras, layers, input_dim):
    """A Sequential model of ``layers``; Keras 3 wants an explicit Input instead of ``input_shape``."""
    if keras_major(keras) >= 3:
        layers = [keras.Input(shape=(input_dim,))] + list(layers)
    return keras.models.Sequential(layers)


def watch_api_calls(keras):
    """Wrap the ``__init__`` of each optimizer class on ``keras.optimizers`` (in place: old Keras calls
    ``super(SGD, self)`` through its module's names, so the classes themselves must stay) to note a call
    spelling ``lr=`` in :data:`API_CALLS` and, when an intervention asks (``api.SGD(lr=0.1)``), spell it so
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


# How deep in watched __init__ calls (or in this module's own optimizer construction) this process is:
# only the task's own call is noted, not a super().__init__(lr=...) inside the library.
_WATCH_DEPTH = [0]


@contextlib.contextmanager
def _spelt_here():
    """Construct an optimizer with this module's own spelling: not a call the task spelt."""
    _WATCH_DEPTH[0] += 1
    try:
        yield
    finally:
        _WATCH_DEPTH[0] -= 1


def _watched(original):
    @functools.wraps(original)  # inspect.signature follows __wrapped__: spell() still sees the real names
    def __init__(self, *args, **kwargs):
        if "lr" in kwargs and _WATCH_DEPTH[0] == 0:
            API_CALLS.add(LR_KEYWORD_CALL)
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
        kwargs["learning_rate" if "learning_rate" in _parameters(cls) else "lr"] = rate
    overrides.applied(key)
    return kwargs


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


def compile_model(model, optimizer, loss, metrics=None):
    """``compile`` with metrics where the library takes them (Keras 0.3 asks for them in ``fit``)."""
    kwargs = {"optimizer": optimizer, "loss": loss}
    if metrics and "metrics" in _parameters(model.compile):
        kwargs["metrics"] = list(metrics)
    model.compile(**kwargs)


# Training steps taken in this process (train_on_batch calls and fit batches): the probe divides a task's
# time by its steps, so speed compares per step across versions whose fit() defaults differ.
STEPS = [0]
# The loss of each of the running task's first training steps (fit() and train_on_batch alike), so the
# host can name the step where two environments' trajectories part; the runner empties it per task.
FIRST_STEPS = 20
STEP_LOSSES = []


class SlowTask(BaseException):
    """A task runs far slower per step than any release should (see :class:`Pace`): it is cut short, and
    its steps so far measure the slowdown. A BaseException, so that no ``except Exception`` inside a
    framework's callback swallows it."""

    def __init__(self, measured):
        BaseException.__init__(self, measured["reason"])
        self.measured = measured


class Pace(object):
    """Watches the running task's training steps and cuts it short (:class:`SlowTask`) when, after its
    first :data:`MIN_STEPS` steps, it would take longer than ``limit_s`` in all: Keras 3.3 on TensorFlow 2.16
    retraces its training function on every ``train_on_batch`` call, and the seed linear fit took 620 s
    (about 2 s elsewhere) before a task timeout failed it, with nothing learnt. The first step is not
    timed: tracing and compiling (Theano's C, XLA) happen there once. The projection uses the task's
    planned steps where it says them (``of``), else the time so far."""

    MIN_STEPS = 20

    def __init__(self):
        self.limit_s, self.steps, self.since, self.progress = 0.0, 0, None, {}

    def start(self, limit_s, progress):
        """A task starts: cut it short past ``limit_s`` (0: never), reading its planned steps from ``progress``."""
        self.limit_s, self.steps, self.since, self.progress = limit_s, 0, None, progress
        del WARNINGS[:]

    def stop(self):
        """The task ended: steps outside any task (loading saved models) are not paced."""
        self.start(0.0, {})

    def step(self, count=1):
        """``count`` training steps ended (a ``fit`` call runs many)."""
        if self.since is None:  # the first call: tracing and compiling, not timed
            self.steps, self.since = count, time.time()
            return
        self.steps += count
        timed = self.steps - 1
        if not self.limit_s or timed < self.MIN_STEPS:
            return
        elapsed = time.time() - self.since
        per_step, planned = elapsed / timed, self.progress.get("of") or 0
        projected = per_step * planned if planned else elapsed
        if projected > self.limit_s:
            warning = WARNINGS[-1] if WARNINGS else ""
            raise SlowTask({
                "steps": self.steps, "of": planned, "seconds_per_step": per_step, "projected_s": projected,
                "warning": warning,
                "reason": "cut short after %d%s steps: %.3g s per step, %s %.0f s (limit %.0f s)%s" % (
                    self.steps, " of %d" % planned if planned else "", per_step,
                    "projected" if planned else "already", projected, self.limit_s,
                    "; the library warned: " + warning if warning else ""),
            })


PACE = Pace()
# The library's warnings during the running task (Python warnings and WARNING log records), newest last:
# a task cut short quotes the last one (TensorFlow's retracing warning says why it is slow).
WARNINGS = []


class _WarningLog(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING and len(WARNINGS) < 100:
            WARNINGS.append(" ".join(record.getMessage().split())[:300])


def listen_for_warnings():
    """Keep the library's warnings of the running task in :data:`WARNINGS` (they still go to the log)."""
    handler = _WarningLog()
    for name in ("", "tensorflow", "absl"):
        logging.getLogger(name).addHandler(handler)
    shown = warnings.showwarning

    def show(message, category, *args, **kwargs):
        if len(WARNINGS) < 100:
            WARNINGS.append(("%s: %s" % (category.__name__, message))[:300])
        return shown(message, category, *args, **kwargs)

    warnings.showwarning = show


def train_on_batch(model, x, y, counted=True):
    """One optimisation step; return the loss the library reports for it, as a Python float. A ``counted``
    step is one of the task's own: it adds to :data:`STEPS` and :data:`STEP_LOSSES`."""
    loss = _first_scalar(model.train_on_batch(x, y))
    PACE.step()
    if counted:
        STEPS[0] += 1
        note_step_loss(loss)
    return loss


def train_steps(keras, model, x, y, steps):
    """``steps`` more optimisation steps on the one batch ``(x, y)``, counted in :data:`STEPS`, their
    losses not kept. Before Keras 3 they run as one quiet ``fit`` over the batch repeated ``steps`` times,
    unshuffled: the same updates as as many :func:`train_on_batch` calls, bit for bit, without their
    per-call cost (about 6 ms a call in tf.keras 2, a Theano function check per call in Keras 2.0). Keras 3's
    ``train_on_batch`` costs less than a ``fit`` call, so there they stay single calls."""
    if keras_major(keras) >= 3:
        for _ in range(steps):
            train_on_batch(model, x, y, counted=False)
    elif steps:
        repeated = [np.concatenate([array] * steps) for array in (x, y)]
        model.fit(repeated[0], repeated[1], verbose=0, **spell(model.fit, batch_size=len(x), epochs=1, shuffle=False))
        PACE.step(steps)
    STEPS[0] += steps


def note_step_loss(loss):
    """Keep a training step's loss while fewer than :data:`FIRST_STEPS` are kept for the running task."""
    if len(STEP_LOSSES) < FIRST_STEPS:
        STEP_LOSSES.append(float(loss))


def fit(model, x, y, validation_data, counter=None, **kwargs):
    """``fit`` quietly with only the given arguments (the rest stay library defaults), counting its
    batches with ``counter`` (a :func:`batch_counter` the caller reads afterwards) or a fresh one, and
    keeping the loss of its first steps (:data:`STEP_LOSSES`).

    Returns the per-epoch history exactly as the library keyed it (``acc`` or ``accuracy``).
    """
    kwargs = overrides.take("fit.", kwargs)
    accepted = _parameters(model.fit)
    if "show_accuracy" in accepted:
        kwargs["show_accuracy"] = True
    counter = counter or batch_counter(sys.modules[type(model).__module__.split(".")[0]])
    counter.samples = _sample_count(x)
    counter.batch_size = kwargs.get("batch_size") or fit_signature_defaults(model).get("batch_size") or 32
    try:
        history = model.fit(
            x, y, validation_data=validation_data, verbose=0, callbacks=[counter], **spell(model.fit, **kwargs)
        )
    finally:
        STEPS[0] += counter.batches
    return dict((key, [float(value) for value in values]) for key, values in history.history.items())


def _sample_count(x):
    """How many samples ``fit`` is given (the first array of a list or a dict of inputs)."""
    first = list(x.values())[0] if isinstance(x, dict) else _listed(x)[0]
    return len(first) if hasattr(first, "__len__") else None


def canonical_history(history):
    """History with the later key names (``accuracy``, ``val_accuracy``)."""
    return dict((HISTORY_KEYS.get(key, key), values) for key, values in history.items())


def batch_counter(keras):
    """A callback counting the batches ``fit`` runs (the same hook name from Keras 0.3 to 3) and noting
    each step's loss (:func:`note_step_loss`)."""

    class BatchCounter(keras.callbacks.Callback):
        def __init__(self):
            super(BatchCounter, self).__init__()
            self.batches = 0
            # The largest batch fit() ran, where the library reports batch sizes (Keras up to 2.3 does).
            self.largest_batch = None
            self.samples, self.batch_size = None, 32  # set by compat.fit
            self._mean = 0.0

        def on_batch_end(self, batch, logs=None):
            self.batches += 1
            PACE.step()
            logs = logs or {}
            size = logs.get("size")
            if size is not None:
                self.largest_batch = max(int(size), self.largest_batch or 0)
            if "loss" in logs:
                note_step_loss(self._step_loss(batch, float(logs["loss"]), size))

        def _step_loss(self, batch, loss, size):
            """Keras up to 2.3 reports each batch's own loss (beside its ``size``); tf.keras 2 and Keras 3
            report the mean over the epoch so far, weighted by batch size: undone from the batch sizes."""
            if size is not None or not self.samples:
                return loss
            done = batch * self.batch_size
            this = min(self.batch_size, self.samples - done)
            before, self._mean = self._mean if batch else 0.0, loss
            return ((done + this) * loss - done * before) / this

    return BatchCounter()


def fit_signature_defaults(model):
    """The defaults ``fit`` declares for batch size, epochs and shuffle (``None`` where it declares none)."""
    try:
        parameters = inspect.signature(model.fit).parameters
    except (TypeError, ValueError):
        return {}
    found = {}
    for canonical in ("batch_size", "epochs", "shuffle"):
        for name in ARGUMENT_SPELLINGS.get(canonical, (canonical,)):
            if name in parameters and parameters[name].default is not inspect.Parameter.empty:
                found[canonical] = parameters[name].default
                break
    return found


def optimizer_config(instance):
    """The optimizer's resolved hyper-parameters, scalars only, with later key names."""
    config = instance.get_config()
    return dict(
        (CONFIG_KEYS.get(key, key), _plain(value)) for key, value in config.items() if _is_scalar(_plain(value))
    )


# Keras 2.0-2.2 report the named initializers as VarianceScaling(scale, mode, distribution).
VARIANCE_SCALING_NAMES = {
    (1.0, "fan_avg", "uniform"): "glorot_uniform",
    (1.0, "fan_avg", "normal"): "glorot_normal",
    (2.0, "fan_in", "uniform"): "he_uniform",
    (2.0, "fan_in", "normal"): "he_normal",
    (1.0, "fan_in", "uniform"): "lecun_uniform",
    (1.0, "fan_in", "normal"): "lecun_normal",
}


def optimizer_config_rest(instance):
    """The optimizer config values :func:`optimizer_config` leaves out (schedules, lists), as text, under
    the library's own key names: evidence, not settable defaults."""
    return dict(
        (key, describe(value)) for key, value in instance.get_config().items() if not _is_scalar(_plain(value))
    )


def initializer_names(layer):
    """A layer's kernel and bias initializers in one spelling (``glorot_uniform``), however the config
    names them: ``init="glorot_uniform"`` (Keras 0.3/1), ``VarianceScaling`` (2.0-2.2), ``GlorotUniform``."""
    return dict((part, _initializer_name(value)) for part, value in _initializers(layer).items())


def initializer_configs(layer):
    """A layer's kernel and bias initializers as its config states them, class and settings (a truncated
    distribution included), so that the canonical name hides nothing."""
    return dict((part, describe(value)) for part, value in _initializers(layer).items())


def _initializers(layer):
    config = layer.get_config()
    found = {}
    for part, keys in (("kernel", ("kernel_initializer", "init")), ("bias", ("bias_initializer",))):
        for key in keys:
            if key in config:
                found[part] = config[key]
                break
    return found


def describe(value):
    """A config value as one line of text: ``VarianceScaling(distribution='uniform', mode='fan_avg', ...)``
    for a serialised object, the repr of its plain values otherwise."""
    if isinstance(value, dict) and "class_name" in value:
        settings = value.get("config") or {}
        return "%s(%s)" % (value["class_name"], ", ".join(
            "%s=%s" % (key, describe(settings[key])) for key in sorted(settings)))
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (key, describe(value[key])) for key in sorted(value))
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(describe(item) for item in value)
    return repr(_plain(value))


def _initializer_name(value):
    if not isinstance(value, dict):
        return _snake(str(value))
    name, settings = value.get("class_name", "?"), value.get("config", {})
    if name == "VarianceScaling":
        distribution = str(settings.get("distribution", "")).replace("truncated_", "")
        key = (float(settings.get("scale", 0)), settings.get("mode"), distribution)
        return VARIANCE_SCALING_NAMES.get(key, "variance_scaling")
    return _snake(name)


def _snake(name):
    """``GlorotUniform`` -> ``glorot_uniform``; ``zero`` (Keras 0.3/1) -> ``zeros``."""
    snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return {"zero": "zeros", "one": "ones"}.get(snake, snake)


def stated_loss_reduction(keras, class_name):
    """The reduction a loss class states, as the library spells it (Keras 2's ``auto`` included); Keras
    before 2.2 had loss functions only."""
    cls = getattr(getattr(keras, "losses", None), class_name, None)
    if cls is None:
        return "(no loss class)"
    return str(getattr(cls(), "reduction", "(no reduction attribute)"))


def evaluate(model, x, y):
    """``evaluate`` with its default batch size; return the loss only."""
    return _first_scalar(model.evaluate(x, y, verbose=0))


def batch_loss(model, x, y):
    """The loss on ``(x, y)`` taken as one batch (``test_on_batch``): what ``evaluate`` reports for a batch it
    takes whole, without the set-up ``evaluate`` repeats at every call (its data adapter and callbacks: 50 to
    130 ms in tf.keras 2, against 20 ms), which a saved model's check pays once per file loaded."""
    return _first_scalar(model.test_on_batch(x, y))


def dense_weights(layer):
    """The kernel and bias of a Dense layer as NumPy arrays."""
    kernel, bias = layer.get_weights()[:2]
    return np.asarray(kernel), np.asarray(bias)


class NotApplicable(Exception):
    """A task that needs something this environment does not have (raw TensorFlow, say)."""


def tensorflow_v1():
    """TensorFlow's graph-mode API: ``tf.compat.v1`` on TF 1.15/2.x, ``tf`` itself on older releases.

    Raises :class:`NotApplicable` where TensorFlow is not installed (Theano, JAX, torch environments).
    """
    try:
        import tensorflow as tf
    except ImportError:
        raise NotApplicable("TensorFlow is not installed")
    v1 = getattr(getattr(tf, "compat", None), "v1", None)
    return v1 if v1 is not None else tf


def tf_variables_initializer(tf):
    """The op that initialises all variables (``initialize_all_variables`` before TF 0.12)."""
    initializer = getattr(tf, "global_variables_initializer", None) or tf.initialize_all_variables
    return initializer()


def installed_distributions():
    """Every installed distribution as ``{name: version}``, whatever the Python version."""
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8, and venvs there may lack setuptools' pkg_resources
        return _scan_distributions()
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower()] = dist.version
    return found


def _scan_distributions():
    """Read ``Name`` and ``Version`` from the metadata files of every distribution on ``sys.path``."""
    found = {}
    for entry in sys.path:
        if not os.path.isdir(entry):
            continue
        for folder in os.listdir(entry):
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            path = os.path.join(entry, folder, "METADATA" if folder.endswith(".dist-info") else "PKG-INFO")
            if os.path.isfile(path):
                headers = _metadata_headers(path)
                if "name" in headers and "version" in headers:
                    found.setdefault(headers["name"].lower(), headers["version"])
    return found


def _metadata_headers(path):
    headers = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            headers.setdefault(key.strip().lower(), value.strip())
    return headers


def _plain(value):
    """A NumPy or backend scalar as a plain Python value, floats rounded to float32 precision."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float("%.7g" % value)
    return value


def _is_scalar(value):
    return value is None or isinstance(value, (bool, int, float, str))


def _parameters(callable_):
    target = callable_.__init__ if inspect.isclass(callable_) else callable_
    try:
        return set(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return set()


def _first_scalar(value):
    if isinstance(value, (list, tuple)):
        value = value[0]
    return float(np.asarray(value))


# -- per-layer records (``probe/records.py``) ----------------------------------------------------------


def _listed(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def layer_graph(keras, model):
    """The layers of ``model`` in topological order, each with the tensors it received and produced in this
    model's own graph: ``[(layer, input_tensors, output_tensors)]``, input layers left out. Found from the
    outputs backwards through each tensor's ``_keras_history`` (layer, node index, tensor index) and the
    layer's inbound node, which Keras 1, 2 and 3 all keep (``layer.output`` would give a nested model's
    own graph in tf.keras 2). Keras 0.3 keeps none: its Sequential's chain stands in for it."""
    if keras_major(keras) < 1:
        return _sequential_graph_keras_03(model)
    if not hasattr(model, "outputs"):
        raise NotApplicable("per-layer records need a model with a layer graph")
    inputs = set(id(tensor) for tensor in _listed(model.inputs))
    order, seen = [], set()

    def visit(tensor):
        if id(tensor) in inputs:
            return
        history = tensor._keras_history
        layer, node_index = history[0], history[1]
        if (id(layer), node_index) in seen:
            return
        seen.add((id(layer), node_index))
        nodes = layer._inbound_nodes if hasattr(layer, "_inbound_nodes") else layer.inbound_nodes  # Keras 1 to 2.0
        node = nodes[node_index]
        received = _listed(node.input_tensors)
        for inbound in received:
            visit(inbound)
        produced = node.output_tensors if hasattr(node, "output_tensors") else node.outputs
        if type(layer).__name__ != "InputLayer":
            order.append((layer, received, _listed(produced)))

    for output in _listed(model.outputs):
        visit(output)
    return order


def _sequential_graph_keras_03(model):
    """Keras 0.3 keeps no graph of tensors, but a Sequential chains its layers: each one's test-phase output
    (``get_output(train=False)``, a Theano or TensorFlow expression) feeds the next."""
    if type(model).__name__ != "Sequential":
        raise NotApplicable("per-layer records on Keras 0.3 need a Sequential model")
    order, previous = [], model.get_input(train=False)
    for layer in model.layers:
        output = layer.get_output(train=False)
        order.append((layer, [previous], [output]))
        previous = output
    return order


def model_inputs(keras, model):
    """The input tensors of ``model``'s graph (Keras 0.3: a Sequential's one input expression)."""
    return [model.get_input(train=False)] if keras_major(keras) < 1 else _listed(model.inputs)


def evaluate_tensors(keras, model, tensors, x):
    """The values of ``tensors`` (of ``model``'s graph) for the input ``x``, in inference mode, as NumPy
    arrays: a sub-model where Keras builds models of any tensors (Keras 3, tf.keras 2), else a backend
    function in the test phase (standalone Keras 0.3 to 2, on Theano or TensorFlow 1)."""
    inputs = model_inputs(keras, model)
    feeds = _listed(x)
    if eager(keras):
        sub = keras.models.Model(inputs, list(tensors))
        values = sub.predict(feeds if len(feeds) > 1 else feeds[0], batch_size=len(feeds[0]), verbose=0) \
            if backend_name(keras) == "jax" else sub(feeds if len(feeds) > 1 else feeds[0], training=False)
        return [to_numpy(keras, value) for value in _listed(values)]
    return _in_test_phase(keras.backend, inputs, list(tensors), feeds)


def _in_test_phase(backend, inputs, outputs, feeds):
    """The values of ``outputs`` for ``feeds`` through a backend function in the test phase (learning
    phase 0), as NumPy arrays; a graph that takes no learning phase (nothing in it behaves differently in
    training) is evaluated without one."""
    try:
        values = backend.function(inputs + [backend.learning_phase()], outputs)(feeds + [0])
    except Exception:
        values = backend.function(inputs, outputs)(feeds)
    return [np.asarray(value) for value in _listed(values)]


def wrapped_outputs(keras, wrapper, x):
    """``[(role, layer, output)]`` of the layers a wrapper runs, on the wrapper's input ``x``: TimeDistributed's
    layer on every step (``layer``), Bidirectional's ``forward`` and ``backward`` layers; nothing for any
    other layer."""
    kind = type(wrapper).__name__
    if kind == "TimeDistributed":
        shape = np.shape(x)
        steps = call_on_array(keras, wrapper.layer, np.reshape(x, (shape[0] * shape[1],) + tuple(shape[2:])))
        return [("layer", wrapper.layer, steps.reshape(tuple(shape[:2]) + steps.shape[1:]))]
    if kind == "Bidirectional":
        return [(role, layer, call_on_array(keras, layer, x)) for role, layer in (("forward", wrapper.forward_layer), ("backward", wrapper.backward_layer))]
    return []


def call_on_array(keras, layer, x):
    """A built layer applied to a NumPy array in inference mode: called directly where layers run eagerly,
    else through a backend function of a placeholder of ``x``'s shape (standalone Keras 1 and 2)."""
    if eager(keras):
        return to_numpy(keras, layer(x))
    placeholder = keras.backend.placeholder(shape=np.shape(x))
    return _in_test_phase(keras.backend, [placeholder], [layer.call(placeholder)], [x])[0]


def graph_gradients(keras, model, variables, x, y):
    """The loss gradients of ``variables`` for the compiled ``model`` in one backend evaluation, nothing
    updated, where a training step cannot be trusted to give them: standalone Keras on TensorFlow 1, whose
    step may apply one weight's update before another weight's gradient reads it (at the records' rate
    of 1024, Keras 1.2 on TensorFlow 0.12 gave the first Dense of the classifier gradients 40 times too
    large). ``None`` elsewhere: a step is exact there (Theano applies its updates together; eager
    backends compute every gradient first)."""
    if eager(keras) or keras_major(keras) < 1 or keras_major(keras) >= 3 or backend_name(keras) != "tensorflow":
        return None
    backend = keras.backend
    model = getattr(model, "model", model)  # Keras 1 to 2.1: a Sequential compiles the Model inside it
    placeholders = (list(getattr(model, "_feed_inputs", model.inputs)) + list(getattr(model, "_feed_targets", model.targets))
                    + list(getattr(model, "_feed_sample_weights", model.sample_weights)))
    feeds = _listed(x) + _listed(y)
    feeds += [np.ones((_sample_count(x),), "float32")] * (len(placeholders) - len(feeds))  # the sample weights
    # the training phase, as a step runs (an unused placeholder may be fed)
    function = backend.function(placeholders + [backend.learning_phase()], backend.gradients(model.total_loss, list(variables)))
    return [np.asarray(value, "float64") for value in function(feeds + [1])]


# Keras 1's names of the weights Keras 2 renamed, so records match across the two
KERAS1_WEIGHT_NAMES = {"W": "kernel", "b": "bias", "U": "recurrent_kernel"}


def weight_name(layer, variable):
    """A variable's short name within its layer, as Keras 2 and later name it (``kernel``; Keras 1's
    ``dense_1_W`` -> ``W`` -> ``kernel``)."""
    name = str(getattr(variable, "path", None) or getattr(variable, "name", "w")).split("/")[-1].split(":")[0]
    prefix = layer.name + "_"
    name = name[len(prefix):] if name.startswith(prefix) else name
    return KERAS1_WEIGHT_NAMES.get(name, name)


def trainable_variables(layer):
    """The layer's trainable variables (``trainable_weights`` in every version)."""
    return list(getattr(layer, "trainable_weights", []))


def variable_value(keras, variable):
    """A variable's current value as a NumPy array."""
    if getattr(keras, "ops", None) is not None and hasattr(keras.ops, "convert_to_numpy"):
        return to_numpy(keras, variable)
    return np.asarray(keras.backend.get_value(variable))


# -- saved models (``probe/saving.py``) -------------------------------------------------------------------

# Each format: the file (or folder) name written, and the ways another environment loads it.
SAVED_FORMATS = (
    ("keras", "model.keras", ("load_model",)),
    ("savedmodel", "savedmodel", ("load_model", "TFSMLayer")),
    ("weights", "model.weights.h5", ("rebuild+load_weights",)),
    ("weights_legacy", "model_weights.h5", ("rebuild+load_weights",)),
    ("json", "model.json", ("model_from_json+load_weights",)),
    # last: in Keras 3, saving .h5 drops the optimizer from the live compile config, so a format saved
    # after it would restore the wrong optimizer
    ("h5", "model.h5", ("load_model",)),
)


def _version_tuple(keras):
    """Keras's major and minor version as ints."""
    return release_tuple(keras_version(keras))[:2]


def _tf_keras_2(keras):
    """tf.keras 2 on TensorFlow 2 (Keras 2.4 and later, or ``tf_keras``): the generation with SavedModel."""
    return keras_major(keras) == 2 and _version_tuple(keras) >= (2, 4) and backend_name(keras) == "tensorflow"


def saving_formats(keras):
    """``{format: reason}`` for every format of :data:`SAVED_FORMATS` this Keras cannot write (the reason
    says why); the others it writes."""
    version = keras_version(keras)
    major = keras_major(keras)
    missing = {}
    if major < 3 and not (_tf_keras_2(keras) and _version_tuple(keras) >= (2, 12)):
        missing["keras"] = "the .keras format arrived in Keras 2.12 (Keras %s)" % version
    if major >= 3 and (backend_name(keras) != "tensorflow"):
        missing["savedmodel"] = "Keras 3 exports a SavedModel on the TensorFlow backend only (here %s)" % backend_name(keras)
    elif major < 3 and not _tf_keras_2(keras):
        missing["savedmodel"] = "standalone Keras %s has no SavedModel export" % version
    if major < 2 or (major == 2 and not _tf_keras_2(keras)):
        missing["weights"] = "the .weights.h5 name is the same legacy HDF5 file as weights_legacy in Keras %s" % version
    if major >= 3:
        missing["weights_legacy"] = "Keras 3 saves weights only as .weights.h5"
    if major >= 3 or _tf_keras_2(keras):
        missing["json"] = "Keras %s saves whole models (.keras, .h5, SavedModel); JSON plus weights is the older way" % version
    if not hasattr(keras.models.Model, "save") and not hasattr(keras.models.Sequential, "save"):
        missing["h5"] = "Keras %s saves no whole model (weights and JSON only)" % version
    return missing


def save_as(keras, model, format_name, path):
    """Write ``model`` to ``path`` in ``format_name`` (see :data:`SAVED_FORMATS`)."""
    if format_name == "savedmodel":
        if keras_major(keras) >= 3:
            model.export(path)
        else:
            model.save(path, save_format="tf")
    elif format_name in ("weights", "weights_legacy"):
        model.save_weights(path)
    elif format_name == "json":
        with open(path, "w") as handle:
            handle.write(model.to_json())
    else:
        model.save(path)


def load_model(keras, path, custom_objects=None, unsafe=False):
    """``load_model`` with compile on, in the library's safe mode where it has one (``unsafe``: off)."""
    kwargs = {"custom_objects": custom_objects or {}}
    if "safe_mode" in _parameters(keras.models.load_model):
        kwargs["safe_mode"] = not unsafe
    return keras.models.load_model(path, **kwargs)


def tfsm_layer(keras, path):
    """The SavedModel at ``path`` as an inference-only layer (Keras 3's ``TFSMLayer``)."""
    cls = getattr(keras.layers, "TFSMLayer", None)
    if cls is None:
        raise NotApplicable("no layers.TFSMLayer in Keras %s" % keras_version(keras))
    if backend_name(keras) != "tensorflow":
        raise NotApplicable("TFSMLayer runs on the TensorFlow backend only (here %s)" % backend_name(keras))
    return cls(path, call_endpoint="serving_default")


def model_from_json(keras, text, custom_objects=None):
    """The architecture a JSON file describes (``model_from_json``)."""
    return keras.models.model_from_json(text, custom_objects=custom_objects or {})


def run_eagerly(keras, model):
    """Make ``evaluate`` and ``train_on_batch`` run eagerly on TensorFlow (tf.keras 2, Keras 3): a model
    loaded from a file would otherwise trace its functions anew, which costs far more than one small batch;
    the maths are the same. (JAX is the other way round: op by op it is slower than one jitted step.)"""
    if backend_name(keras) == "tensorflow" and hasattr(model, "run_eagerly"):
        model.run_eagerly = True


def call_layer(keras, layer, x):
    """A layer's output for ``x`` as a NumPy array (the first output of a layer that returns a dict)."""
    output = layer(x)
    if isinstance(output, dict):
        output = output[sorted(output)[0]]
    return to_numpy(keras, output)


def optimizer_state(keras, model):
    """What a trained model's optimizer carries: its class, its iteration count and a fingerprint of its
    slot variables (each array's shape and sum of absolute values, sorted: the order differs between
    versions); ``None`` where the model has no optimizer."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    variables = getattr(optimizer, "variables", None)
    if callable(variables):
        variables = variables()
    if not variables:
        variables = getattr(optimizer, "weights", None) or []
    arrays = [np.asarray(variable_value(keras, variable)) for variable in variables]
    iterations = getattr(optimizer, "iterations", None)
    slots = sorted([list(array.shape), float("%.6g" % float(np.abs(array).sum()))] for array in arrays if array.ndim > 0)
    return {
        "class": type(optimizer).__name__,
        "iterations": int(np.asarray(variable_value(keras, iterations))) if iterations is not None else None,
        "slots": slots,
    }
