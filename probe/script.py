"""Your training script, unchanged, as a task: ``script`` (its metrics ``script.<model>.<call>.<what>``).

The question users bring is whether their training code gives the same numbers after a bump, and their
code is a script. This task runs it as it is (``runpy``, as ``python train.py ARGS`` would: its own folder
as the working folder and first on ``sys.path``, its arguments in ``sys.argv``), every seed set the same way
first (:func:`probe.frameworks.seed_everything`: Python, NumPy, the backend, ``keras.utils.set_random_seed``
where it exists), and records, without changing what the script computes:

- every ``fit``, ``evaluate`` and ``predict`` call of every model, in order, numbered per model and method
  (``fit#1``): the arguments that matter (epochs, batch size, shuffle, validation, class and sample
  weights), what it returned (a history as series, its last values and its ``params`` as metrics; an
  evaluation's values by the model's metric names; a summary of predictions), as
  ``script.<model>.<method>#<n>.<what>``;
- ``train_on_batch`` and ``test_on_batch``, which scripts call in loops: the value of every call as a
  series and the last as a metric (``script.<model>.train_on_batch.loss``), and the number of calls; the
  first steps' losses, of these loops or of ``fit`` (one more callback that reads its logs), as a model
  task keeps them (``step_losses``: where two trajectories part);
- every model it trains has its initial weights recorded as a model task's are (:func:`probe.task.start_from`),
  whole where the models are small, by model, and an experiment can replay another environment's (so a
  drift that only the starting weights explain is proven ``random_stream``); the order every ``fit``
  shuffled its samples in is recorded and replayable too (:mod:`probe.batch_order`); the first model's every
  layer output on its first batch, at fixed NumPy weights, is recorded for localisation (:func:`layer_records`);
- every model's weights, by a fingerprint and each array's statistics (a one-value array's value: the
  linear fit's ``weights.final[0]`` is its w), at its first training call (``weights.initial``) and when the
  script ends (``weights.final``); a model that has no weights yet at a training call (a subclassed model,
  built by that call) is noted in ``unbuilt``: its initial weights are drawn where they cannot be recorded;
- the models it saves (``model.save(path)``, noted in its facts' ``saved``): the first one, with its first
  training batch, is written in every format this Keras writes and loaded by the other environments, as a
  model task's trained model is (:mod:`probe.saving`; its architecture is not rebuilt alone);
- what the script records itself: ``keras_drift.record(name, value)`` (``script.record.<name>``), an
  import that works in every environment (the shim in ``probe/script_shim``; the installed keras-drift's is a
  no-op).

A model is named by the order it was first used (``model1``, ``model2``) unless the script named it
(``Sequential(name="regressor")``): Keras' own default names (``sequential_3``) depend on what else the
version built. The classes the script constructs are noted as every task's are (``facts.constructed``),
so the API sweep targets them. A script that raises fails its task with its traceback's tail; one that
never trains says so (its facts' ``trained``).

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

import contextlib
import functools
import importlib
import importlib.util
import math
import os
import re
import runpy
import sys

import numpy as np

from probe import batch_order, frameworks, overrides, records, saving
from probe.state import STATE
from probe.sweep.arrays import described, statistics
from probe.task import Task, arrays_fingerprint, shared_weights, weights_fingerprint, whole_arrays
from probe.tasks import SEED
from probe.training import batch_counter, note_step_loss, sample_count

METHODS = ("fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "save")
TRAINING = ("fit", "train_on_batch")
IN_LOOPS = ("train_on_batch", "test_on_batch")  # a series per model, not a numbered call each
DEFAULT_NAMES = re.compile(r"^(sequential|functional|model)(_\d+)?$")  # names Keras makes up: not the script's
ARGUMENTS = ("epochs", "nb_epoch", "batch_size", "shuffle", "validation_split", "steps_per_epoch", "initial_epoch")
PRESENT = ("validation_data", "class_weight", "sample_weight")  # recorded as given or not
ENV_VARIABLE = "KERAS_DRIFT_ENV"  # the environment's name, as the script sees it
SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "script_shim")


class Settings(object):
    """The script this process runs (``path``, ``None``: none), its arguments (``args``), whether its Keras
    calls are recorded (``recorded``; off only to time the script's own run: ``nox -s bench``), and the
    environment's name (``env``)."""

    def __init__(self):
        self.path = None
        self.args = []
        self.recorded = True
        self.env = ""  # the environment's name, which the script sees as $KERAS_DRIFT_ENV


SETTINGS = Settings()


class Recorder(object):
    """What one run of the script did (see the module docstring)."""

    def __init__(self, keras, saves=None):
        self.keras = keras
        self.saves = saves  # the task's saving.Saving: what the saving phase needs of the model the script saves
        self.batches = {}  # name -> the first batch (x, y) of the model's first training call, where arrays
        self.saved = []  # the script's own model.save calls: {"model", "file"}
        self.names = {}  # id(model) -> its name here
        self.models = {}  # name -> the model (for its final weights)
        self.counts = {}  # (name, method) -> calls so far
        self.depth = 0  # inside a recorded call: fit's own evaluate is not the script's
        self.metrics, self.series, self.calls, self.fingerprints, self.recorded = {}, {}, [], {}, {}
        self.started = {}  # the per-layer records of the first model trained
        self.initial = []  # (name, its weights as given at its first training call), every model trained, in order
        self.unbuilt = set()  # models without weights yet at a training call: their initial weights are not recorded

    def name_of(self, model):
        if id(model) not in self.names:
            own = str(getattr(model, "name", "") or "")
            name = own if own and not DEFAULT_NAMES.match(own) else "model%d" % (len(self.names) + 1)
            self.names[id(model)] = re.sub(r"[^A-Za-z0-9_-]", "_", name)
            self.models[self.names[id(model)]] = model
        return self.names[id(model)]

    def before(self, model, method, args, kwargs):
        name = self.name_of(model)
        if method not in TRAINING or name in self.unbuilt or (name, "initial") in self.fingerprints:
            return name  # only a model's first training call is looked at (a loop's calls cost nothing more)
        x, y = first_batch(method, args, kwargs), args[1] if len(args) > 1 else kwargs.get("y")
        if x is not None and isinstance(y, np.ndarray):
            self.batches[name] = (x, y[:len(x)])
        if not model.get_weights():  # built by this call (a subclassed model): its initial weights are drawn
            self.unbuilt.add(name)  # inside it, where they cannot be recorded (nor, later, be told from trained ones)
            return name
        replayed = overrides.value("initial_weights")  # another environment's, by model (an experiment's)
        if isinstance(replayed, dict) and name in replayed:
            model.set_weights([np.asarray(array, dtype="float32") for array in replayed[name]])
            overrides.applied("initial_weights")
        self.initial.append((name, model.get_weights()))
        if not self.started:  # the first model trained: every layer's output on its first batch
            self.depth += 1  # the records' own predict calls (on a model of each layer's output) are not the script's
            try:
                self.started = layer_records(self.keras, model, x)
            finally:
                self.depth -= 1
        self.weights(name, model, "initial")
        return name

    def note_save(self, model, args, kwargs):
        """The script saves ``model`` (``model.save(path)``): noted, and the first model it saves with a
        training batch recorded is offered to the saving phase (:func:`probe.saving.keep`), which writes it in
        every format this Keras writes, its first training batch as the sample: other environments load those
        files as they load a model task's."""
        name = self.name_of(model)
        path = args[0] if args else kwargs.get("filepath")
        self.saved.append({"model": name, "file": os.path.basename(str(path))})
        if self.saves is not None and STATE.trained_model is None and name in self.batches:
            batch = self.batches[name]
            self.saves.sample = lambda: batch
            loss = getattr(model, "loss", None)
            self.saves.loss = loss if isinstance(loss, str) else "mse"
            saving.keep(model)

    def after(self, name, method, kwargs, value):
        count = self.counts[(name, method)] = self.counts.get((name, method), 0) + 1
        if method in IN_LOOPS:
            values = _numbers(value)
            if method == "train_on_batch" and values:
                note_step_loss(values[0])  # where two trajectories part (the first steps, as a model task's)
            prefix = "script.%s.%s" % (name, method)
            for index, number in enumerate(values):
                key = prefix + (".loss" if index == 0 else ".%d" % index)
                self.series.setdefault(key, {"step": [], "value": []})
                self.series[key]["step"].append(count)
                self.series[key]["value"].append(number)
                self.metrics[key] = number
            self.metrics[prefix + ".calls"] = count
            return
        prefix = "script.%s.%s#%d" % (name, method, count)
        call = {"model": name, "method": method, "number": count}
        call.update((key, _plain(kwargs[key])) for key in ARGUMENTS if key in kwargs)
        call.update((key, kwargs.get(key) is not None) for key in PRESENT if key in kwargs)
        self.calls.append(call)
        if method == "fit":
            history = getattr(value, "history", None) or {}
            for key, values in sorted(history.items()):
                numbers = [float(np.asarray(number)) for number in values]
                self.series[prefix + "." + key] = {"epoch": list(range(1, len(numbers) + 1)), "value": numbers}
                if numbers:
                    self.metrics[prefix + "." + key] = numbers[-1]
            self.metrics[prefix + ".epochs"] = len(next(iter(history.values()), []))
            params = getattr(value, "params", None) or {}
            self.metrics.update((prefix + ".params." + key, number) for key, number in params.items()
                                if isinstance(number, (int, float)) and not isinstance(number, bool) and key != "verbose")
        elif method == "evaluate":
            self.metrics.update((prefix + "." + key, number) for key, number in evaluated(self.models[name], value).items())
        elif method == "predict":
            array = np.asarray(value[0] if isinstance(value, (list, tuple)) else value)
            if array.dtype.kind in "biuf":
                self.metrics.update((prefix + "." + key, number) for key, number in statistics(array).items())
            self.metrics[prefix + ".shape"] = "x".join(str(size) for size in array.shape)

    def weights(self, name, model, when):
        """The model's weights ``when`` (``initial``, ``final``): their fingerprint as a model task's
        (:func:`probe.task.weights_fingerprint`), each floating array's statistics as metrics, a one-value
        array its value (the linear fit's w and b)."""
        self.fingerprints[(name, when)] = weights_fingerprint(model)
        floats = [np.asarray(array) for array in model.get_weights() if np.asarray(array).dtype.kind == "f"]
        self.metrics.update(described("script.%s.weights.%s" % (name, when),
                                      [array.reshape(()) if array.size == 1 else array for array in floats]))

    def facts(self, trained):
        weights = {}
        for (name, when), found in sorted(self.fingerprints.items()):
            weights.setdefault(name, {})[when] = found
        return dict(self.started, path=SETTINGS.path, args=list(SETTINGS.args), calls=self.calls, weights=weights,
                    models=sorted(self.models), trained=trained, recorded=sorted(self.recorded), saved=self.saved,
                    unbuilt=sorted(self.unbuilt), **self.initial_facts())

    def initial_facts(self):
        """Every trained model's initial weights as a model task records its own (:func:`probe.task.start_from`):
        ``initial_weights``, one fingerprint of them all, and ``initial_arrays``, by model, where every model
        is small enough to replay (an experiment gives them back by name)."""
        if not self.initial:
            return {}
        found = {"initial_weights": arrays_fingerprint([array for _, weights in self.initial for array in weights])}
        whole = dict((name, whole_arrays(weights)) for name, weights in self.initial)
        if None not in whole.values():
            found["initial_arrays"] = whole
        return found


RECORDER = []  # the recorder of the running script, if one runs (keras_drift.record reaches it here)


def note_record(name, value):
    """What ``keras_drift.record(name, value)`` does while a script runs here: a metric ``script.record.<name>``."""
    if RECORDER:
        recorder = RECORDER[-1]
        recorder.recorded[str(name)] = True
        number = value if isinstance(value, str) else float(np.asarray(value))
        recorder.metrics["script.record.%s" % name] = number


def first_batch(method, args, kwargs):
    """The first batch of the first training call, where it is arrays: ``train_on_batch``'s ``x``, or the
    first ``batch_size`` rows (32 by default) of ``fit``'s; ``None`` for a dataset or a generator."""
    x = args[0] if args else kwargs.get("x")
    if not isinstance(x, np.ndarray):
        return None
    return x[:fit_batch_size(args, kwargs)] if method == "fit" else x


def fit_batch_size(args, kwargs):
    """The batch size a ``fit`` call gives, by keyword or third by position; 32 (its default) when none."""
    return kwargs.get("batch_size") or (args[2] if len(args) > 2 and isinstance(args[2], int) else 32)


def layer_records(keras, model, x):
    """Every layer's output on the first batch ``x`` at fixed NumPy weights (:func:`probe.task.shared_weights`),
    then the model's own weights back: records every environment computes from the same numbers, so the host
    names the layer that first computes differently (forward only: a gradient record would recompile the
    script's model)."""
    if x is None:
        return {"records_skipped": "the first training call's data are not arrays"}
    own = model.get_weights()
    try:
        model.set_weights(shared_weights(model, SEED))
        return records.take(keras, NAME, model, x)
    finally:
        model.set_weights(own)


def evaluated(model, value):
    """``evaluate``'s values by metric name: Keras 3 names them in ``get_metrics_result()`` (its
    ``metrics_names`` says ``compile_metrics`` for all the compiled ones), earlier versions in ``metrics_names``."""
    results = getattr(model, "get_metrics_result", None)
    if results is not None:
        return dict((str(key), float(np.asarray(number))) for key, number in results().items())
    names = list(getattr(model, "metrics_names", None) or [])
    return dict((names[index] if index < len(names) else str(index), number) for index, number in enumerate(_numbers(value)))


def _numbers(value):
    """A Keras return value (a number, a list of them, a dict) as floats, in order."""
    if isinstance(value, dict):
        return [float(np.asarray(value[key])) for key in value]
    if isinstance(value, (list, tuple)):
        return [float(np.asarray(item)) for item in value]
    return [float(np.asarray(value))]


def _plain(value):
    return value if isinstance(value, (bool, int, float, str)) or value is None else repr(value)


def model_classes(keras):
    """The model classes whose methods a script may call: those of every door to Keras here, and of the
    ``keras`` and ``tf_keras`` packages where they import (with ``TF_USE_LEGACY_KERAS`` the documented door
    is tf_keras, yet a script's ``import keras`` is Keras 3)."""
    modules = [module for _, module in STATE.doors] or [keras]
    for name in ("keras", "tf_keras"):
        try:
            modules.append(importlib.import_module(name))
        except Exception:  # not installed, or broken here: a script cannot call it either
            continue
    found = []
    for module in modules:
        for owner in (getattr(module, "Model", None), getattr(getattr(module, "models", None), "Model", None)):
            if owner is not None and owner not in found:
                found.append(owner)
    return found


@contextlib.contextmanager
def recording(recorder):
    """Every :data:`METHODS` of the model classes recorded into ``recorder`` while the block runs; put back after."""
    patched = []
    for cls in model_classes(recorder.keras):
        for method in METHODS:
            original = getattr(cls, method, None)  # Keras 3 defines them on its backend's trainer, a base class
            if original is None:
                continue
            patched.append((cls, method, cls.__dict__.get(method)))
            setattr(cls, method, _recorded(recorder, method, original))
    RECORDER.append(recorder)
    try:
        yield
    finally:
        RECORDER.pop()
        for cls, method, own in reversed(patched):
            if own is None:
                delattr(cls, method)  # the base class's again
            else:
                setattr(cls, method, own)


@contextlib.contextmanager
def _as_is():
    """Nothing recorded (Python 3.6 has no ``contextlib.nullcontext``)."""
    yield


def _recorded(recorder, method, original):
    @functools.wraps(original)
    def call(self, *args, **kwargs):
        if recorder.depth:
            return original(self, *args, **kwargs)
        if method == "save":
            recorder.note_save(self, args, kwargs)
            return original(self, *args, **kwargs)
        name = recorder.before(self, method, args, kwargs)
        recorder.depth += 1
        try:
            with batch_order.watched(kwargs.get("shuffle", True)) if method == "fit" else _as_is():
                value = original(self, *args, **with_step_losses(self, method, args, kwargs))
        finally:
            recorder.depth -= 1
        recorder.after(name, method, kwargs, value)
        return value

    return call


def with_step_losses(model, method, args, kwargs):
    """``fit``'s keyword arguments with one more callback, :func:`probe.training.batch_counter`, that keeps
    its first steps' losses as a model task's (where two trajectories part) and counts its steps; it only
    reads the logs. Other methods' as they are, and ``fit``'s too where the script passes ``callbacks``
    by position."""
    package = keras_package(model)
    if method != "fit" or len(args) > 5 or package is None:
        return kwargs
    x = args[0] if args else kwargs.get("x")
    samples = sample_count(x) if all(isinstance(part, np.ndarray) for part in _parts(x)) else None  # not a dataset's
    if samples and kwargs.get("validation_split"):
        samples = int(math.ceil(samples * (1.0 - kwargs["validation_split"])))  # as fit() splits them
    counter = batch_counter(package)
    counter.samples = samples
    counter.batch_size = fit_batch_size(args, kwargs)
    return dict(kwargs, callbacks=list(kwargs.get("callbacks") or []) + [counter])


def keras_package(model):
    """The Keras package ``model`` belongs to (``keras``, ``tf_keras``...), found along its classes: a model
    the script subclasses is defined in ``__main__``; ``None`` where none has callbacks."""
    for cls in type(model).__mro__:
        package = sys.modules.get(cls.__module__.split(".")[0])
        if getattr(getattr(package, "callbacks", None), "Callback", None) is not None:
            return package
    return None


def _parts(x):
    """The arrays ``fit``'s ``x`` holds (a list, a dict or one), as given."""
    return list(x.values()) if isinstance(x, dict) else list(x) if isinstance(x, (list, tuple)) else [x]


@contextlib.contextmanager
def as_main(path, args):
    """The interpreter as ``python path args`` sees it: ``sys.argv``, the script's folder first on
    ``sys.path`` and as the working folder, ``keras_drift`` the shim, and the environment's name in
    ``$KERAS_DRIFT_ENV``; all put back after."""
    folder = os.path.dirname(os.path.abspath(path))
    before = (list(sys.argv), list(sys.path), os.getcwd(), sys.modules.get("keras_drift"), os.environ.get(ENV_VARIABLE))
    sys.argv = [path] + list(args)
    os.environ[ENV_VARIABLE] = SETTINGS.env  # every environment runs the script in the same folder: files it
    # writes can carry this name (several environments run at once under -j)
    sys.path.insert(0, folder)
    sys.modules["keras_drift"] = _shim()  # the shim, even where a keras-drift is installed or imported
    os.chdir(folder)
    try:
        yield
    finally:
        sys.argv, sys.path[:] = before[0], before[1]
        os.chdir(before[2])
        if before[3] is None:
            sys.modules.pop("keras_drift", None)
        else:
            sys.modules["keras_drift"] = before[3]
        if before[4] is None:
            os.environ.pop(ENV_VARIABLE, None)
        else:
            os.environ[ENV_VARIABLE] = before[4]


def _shim():
    """The ``keras_drift`` module a script imports here (``probe/script_shim/keras_drift``)."""
    spec = importlib.util.spec_from_file_location("keras_drift", os.path.join(SHIM, "keras_drift", "__init__.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ScriptExited(Exception):
    """The script called ``sys.exit`` with a failing status (argparse does, on arguments it refuses)."""


NAME = "script"  # the task; its metrics script.<model>.<call>.<what> start with it, as every task's do


def script_task(path, args=()):
    """The task :data:`NAME` running ``path`` with ``args`` (see the module docstring)."""
    saves = saving.Saving(None, "mse", None)  # sample and loss: those of the model the script saves

    def run(keras):
        recorder = Recorder(keras, saves)
        frameworks.seed_everything(keras, SEED)
        with recording(recorder) if SETTINGS.recorded else _as_is(), as_main(path, args):
            try:
                runpy.run_path(path, run_name="__main__")
            except SystemExit as exit:  # sys.exit(0) at the end of a script is success; another status is not
                if exit.code not in (None, 0):
                    raise ScriptExited("the script exited with status %r" % (exit.code,))
        for name, model in sorted(recorder.models.items()):
            recorder.weights(name, model, "final")
        trained = any(method in TRAINING for (_, method) in recorder.counts)
        return recorder.metrics, recorder.series, recorder.facts(trained)

    run.__doc__ = "Your script %s, unchanged, with every seed set and its Keras calls recorded." % os.path.basename(path)
    return Task(NAME, run, kind="script", saves=saves)


def tasks():
    """The script's task, where this process runs one."""
    return [script_task(SETTINGS.path, SETTINGS.args)] if SETTINGS.path else []
