"""Saved models across versions: write each model task's trained model in every format this Keras writes,
and load the files other environments wrote.

Saving (``--artifacts DIR``) follows a model task's first run. ``DIR/<task>/`` gets one file or folder per
format (:data:`formats.SAVED_FORMATS`), the fixed batch the model is judged on (``x.npy``, ``y.npy``) and
``manifest.json``: what each format holds, and what the model computed before it was saved (predictions
on the batch, the loss on it, the optimizer's class, iteration count and slot fingerprint).

Loading runs after a probe's tasks in the same process (``--load-after PLAN``: its own files, and the
baseline's in a candidate), or in a probe process of its own (``--load PLAN``), one import for every file
it loads. Each
attempt loads one format of one task by one method and records whether it loaded (else the error's first
line and its cause's) and how far its predictions are from the saving side's; a whole model loaded with
``load_model`` also how far its evaluate loss is from the saving side's, whether its optimizer state came
back intact and whether one more training step runs (so does an architecture read from JSON). Weights
loaded into the architecture this environment's own task code builds (and trained here) are judged by
their predictions alone. The rebuild methods build the
architecture with this environment's own code of the task (:class:`Saving`). The user's own model files
are loaded the same way, their predictions kept for the host to compare between environments.

Python 3.6 syntax; versions differ in the helper modules only (:mod:`probe.formats` above all).
"""

import json
import os
import shutil
import time
import traceback

import numpy as np

from probe import formats, frameworks, models, optimizers, pace, training
from probe.numbers import json_scalar
from probe.state import STATE

# The most a task's artifacts may take on disk, all formats together; a format that would pass it is
# deleted and recorded as not saved, with its size.
MAX_TASK_BYTES = 4 * 1024 * 1024
# The most prediction values an attempt on a user's file keeps (the host compares them between environments).
MAX_PREDICTION_VALUES = 10000
# Slot fingerprints closer than this (relative) count as the same optimizer state.
SLOT_RTOL = 1e-4
MANIFEST = "manifest.json"
# The most one attempt (load, predict, evaluate, one training step) may take: a few seconds each, Theano's
# compilation included. Past it the attempt fails as a hang: Keras 3.0 and 3.4 never return from loading the
# ``.h5`` of a nested model tf.keras 2.10 wrote (keras-team/keras#19669).
ATTEMPT_TIMEOUT_S = 120.0


class Saving:
    """What a model task tells the saving and loading phases: ``build(keras)`` makes its architecture
    untrained (the rebuild before ``load_weights``; ``None`` for a script's model, which only its script
    builds), ``loss`` compiles a rebuilt model, and ``sample()`` returns the fixed batch ``(x, y)`` its
    predictions and evaluate loss are taken on."""

    def __init__(self, build, loss, sample):
        self.build = build
        self.loss = loss
        self.sample = sample


def keep(model):
    """Offer the model a task has just trained for saving (the probe saves it after the task's first run)."""
    STATE.trained_model = model


def save(keras, task_name, saving, folder):
    """Save the model offered by :func:`keep` under ``folder/<task_name>`` in every format this Keras
    writes; return its manifest (``None`` when no model was offered)."""
    model, STATE.trained_model = STATE.trained_model, None
    if model is None:
        return None
    target = os.path.join(folder, task_name)
    if os.path.isdir(target):
        shutil.rmtree(target)
    os.makedirs(target)
    x, y = saving.sample()
    np.save(os.path.join(target, "x.npy"), np.asarray(x), allow_pickle=False)
    np.save(os.path.join(target, "y.npy"), np.asarray(y), allow_pickle=False)
    manifest = {
        "task": task_name,
        "keras": frameworks.keras_version(keras),
        "backend": frameworks.backend_name(keras),
        "predictions": _finite(models.predict(model, x, keras)),
        "evaluate_loss": _finite(models.batch_loss(model, x, y)),
        "optimizer": formats.optimizer_state(keras, model),
        "formats": {},
    }
    missing = formats.saving_formats(keras)
    used = 0
    for name, filename, methods in formats.SAVED_FORMATS:
        if name in missing:
            manifest["formats"][name] = {"saved": False, "reason": missing[name]}
            continue
        path = os.path.join(target, filename)
        try:
            formats.save_as(keras, model, name, path)
        except Exception as exc:  # a format this version fails to write is a finding, not a crash
            manifest["formats"][name] = {"saved": False, "reason": "saving failed: " + error_line(exc)}
            traceback.print_exc()
            continue
        size = _size(path)
        if used + size > MAX_TASK_BYTES:
            _remove(path)
            manifest["formats"][name] = {"saved": False, "reason": "%d bytes: over the cap of %d per task" % (size, MAX_TASK_BYTES)}
            continue
        used += size
        manifest["formats"][name] = {"saved": True, "file": filename, "bytes": size, "methods": list(methods)}
    json_format = manifest["formats"]["json"]
    if json_format.get("saved"):
        paired = [name for name in ("weights_legacy", "weights") if manifest["formats"][name].get("saved")]
        if paired:
            json_format["weights"] = manifest["formats"][paired[0]]["file"]
        else:
            _remove(os.path.join(target, json_format["file"]))
            manifest["formats"]["json"] = {"saved": False, "reason": "no weights file saved to go with the JSON"}
    with open(os.path.join(target, MANIFEST), "w") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
    return manifest


def load_source(keras, source, tasks, custom_objects, unsafe, record):
    """Load every saved format of every task in ``source["folder"]`` (one environment's artifacts), each
    by each of its methods; hand each attempt to ``record`` as it ends."""
    folder = source["folder"]
    for task_name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        try:
            with open(os.path.join(folder, task_name, MANIFEST)) as handle:
                manifest = json.load(handle)
            saved_formats = sorted(manifest["formats"].items())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # a task whose saving was cut short left no usable manifest: nothing was promised
        for format_name, saved in saved_formats:
            for method in saved.get("methods", []) if saved.get("saved") else []:
                where = os.path.join(folder, task_name)
                started = time.time()
                outcome = {"source": source["env"], "direction": source["direction"], "task": task_name,
                           "format": format_name, "method": method}
                outcome.update(_limited(lambda: _attempt(keras, where, manifest, saved, method, tasks.get(task_name), custom_objects, unsafe)))
                outcome["seconds"] = time.time() - started
                record(outcome)


def load_user_model(keras, model, custom_objects, unsafe):
    """Load one of the user's own files (``{"name", "path", "input", "reference"}``) and predict on its input; the
    outcome keeps the predictions (up to :data:`MAX_PREDICTION_VALUES` values) for the host to compare."""
    started = time.time()
    outcome = {"name": model["name"], "path": model["path"], "reference": model.get("reference")}
    outcome.update(_limited(lambda: _user_attempt(keras, model, custom_objects, unsafe)))
    outcome["seconds"] = time.time() - started
    return outcome


def _limited(attempt):
    """``attempt()``'s outcome, or a failed one where it did not return within :data:`ATTEMPT_TIMEOUT_S`."""
    try:
        with pace.deadline(ATTEMPT_TIMEOUT_S):
            return attempt()
    except pace.TaskTimeout:
        return {"loaded": False, "cause": None, "error": "did not return within %g s: loading the file, predicting "
                "with it or training it one step hangs" % ATTEMPT_TIMEOUT_S}


def _user_attempt(keras, model, custom_objects, unsafe):
    """One of the user's files loaded and predicting: what :func:`load_user_model` records, less its names."""
    outcome = {"loaded": False, "error": None, "cause": None}
    try:
        x = np.load(model["input"], allow_pickle=False)
        _fresh_graph(keras)
        if os.path.isdir(model["path"]) and frameworks.keras_major(keras) >= 3:
            predict = _inference_layer(keras, model["path"])
            outcome["method"] = "TFSMLayer"
        else:
            loaded = formats.load_model(keras, model["path"], custom_objects, unsafe)
            predict = lambda batch: models.predict(loaded, batch, keras)  # noqa: E731
            outcome["method"] = "load_model"
        outcome["loaded"] = True
        values = np.asarray(predict(x), dtype="float64")
        outcome["shape"] = list(values.shape)
        outcome["predictions"] = _finite(values.ravel()[:MAX_PREDICTION_VALUES])
        outcome["predictions_cut"] = values.size > MAX_PREDICTION_VALUES
    except Exception as exc:  # a missing, truncated or foreign file is a failed cell, never a crash
        outcome.update(error=error_line(exc), cause=cause_line(exc))
        traceback.print_exc()
    return outcome


def _attempt(keras, where, manifest, saved, method, task, custom_objects, unsafe):
    """One format loaded one way: what the module docstring says an attempt records."""
    outcome = {"loaded": False, "error": None, "cause": None, "max_abs_diff": None, "evaluate_diff": None,
               "optimizer": None, "optimizer_detail": None, "trains": None, "train_error": None}
    path = os.path.join(where, saved["file"])
    try:
        x = np.load(os.path.join(where, "x.npy"), allow_pickle=False)
        y = np.load(os.path.join(where, "y.npy"), allow_pickle=False)
        _fresh_graph(keras)
        model, predict = _loaded(keras, method, path, where, saved, task, custom_objects, unsafe)
    except frameworks.NotApplicable as reason:
        outcome["skipped"] = str(reason)
        return outcome
    except Exception as exc:
        outcome.update(error=error_line(exc), cause=cause_line(exc))
        traceback.print_exc()
        return outcome
    outcome["loaded"] = True
    try:
        predictions = np.asarray(predict(x), dtype="float64")
        expected = np.asarray(manifest["predictions"], dtype="float64")
        if predictions.shape != expected.shape:
            raise ValueError("predictions of shape %s, saved %s" % (predictions.shape, expected.shape))
        outcome["max_abs_diff"] = float(np.max(np.abs(predictions - expected))) if expected.size else 0.0
    except Exception as exc:
        outcome["predict_error"] = error_line(exc)
    if model is None or method == "rebuild+load_weights":
        # an inference-only layer; or the architecture this environment's own code built (its task trained
        # it here): what the file brings is the weights, and the predictions judge them
        return outcome
    formats.run_eagerly(keras, model)
    if method == "load_model":
        # the file's own compile config (a rebuilt model is compiled here, by the task's code: its loss is the
        # loading side's, which the metric comparisons already cover)
        try:
            outcome["evaluate_diff"] = abs(models.batch_loss(model, x, y) - float(manifest["evaluate_loss"]))
        except Exception as exc:
            outcome["evaluate_error"] = error_line(exc)
        outcome["optimizer"], outcome["optimizer_detail"] = optimizer_outcome(manifest.get("optimizer"), _state(keras, model))
    try:
        training.train_on_batch(model, x, y, counted=False)
        outcome["trains"] = True
    except Exception as exc:
        outcome.update(trains=False, train_error=error_line(exc))
    return outcome


def _loaded(keras, method, path, where, saved, task, custom_objects, unsafe):
    """``(model, predict)`` for one method; ``model`` is ``None`` for an inference-only layer."""
    if method == "TFSMLayer":
        return None, _inference_layer(keras, path)
    if method == "load_model":
        model = formats.load_model(keras, path, custom_objects, unsafe)
    else:
        if method == "model_from_json+load_weights":
            with open(path) as handle:
                model = formats.model_from_json(keras, handle.read(), custom_objects)
            model.load_weights(os.path.join(where, saved["weights"]))
            # an architecture from the file has no optimizer: compiled afresh, as the task's own code would
            models.compile_model(model, optimizers.optimizer(keras, "Adam"), task.saving.loss if task and task.saving else "mse")
        else:
            if task is None or task.saving is None:
                raise frameworks.NotApplicable("no model task of this name here to rebuild the architecture from")
            if task.saving.build is None:
                raise frameworks.NotApplicable("a script's architecture is built by running the script, not rebuilt alone")
            model = task.saving.build(keras)
            model.load_weights(path)
    return model, lambda batch: models.predict(model, batch, keras)


def _fresh_graph(keras):
    """A new graph for the next file on a graph backend; an eager one needs none (and it costs 0.2 s)."""
    if not frameworks.eager(keras):
        frameworks.reset(keras, 0)


def _inference_layer(keras, path):
    layer = formats.tfsm_layer(keras, path)
    return lambda batch: formats.call_layer(keras, layer, batch)


def _state(keras, model):
    try:
        return formats.optimizer_state(keras, model)
    except Exception as exc:
        return {"error": error_line(exc)}


def optimizer_outcome(saved, loaded):
    """Whether the optimizer state came back: ``(word, detail)``, the word one of ``intact``, ``none``
    (no optimizer), ``changed`` (another class), ``reset`` (other iterations), ``lost`` (no slot
    variables, or fewer), ``differs`` (slot values) or ``unknown``; ``(None, None)`` when none was saved."""
    if not saved:
        return None, None
    if loaded is None:
        return "none", "the model came back without an optimizer"
    if "error" in loaded:
        return "unknown", "the optimizer state could not be read: " + loaded["error"]
    if loaded["class"] != saved["class"]:
        return "changed", "%s came back as %s" % (saved["class"], loaded["class"])
    if loaded["iterations"] != saved["iterations"]:
        return "reset", "iterations %s came back as %s" % (saved["iterations"], loaded["iterations"])
    if len(loaded["slots"]) < len(saved["slots"]):
        return "lost", "%d of %d slot variables came back" % (len(loaded["slots"]), len(saved["slots"]))
    for (shape, total), (loaded_shape, loaded_total) in zip(saved["slots"], loaded["slots"]):
        if shape != loaded_shape or abs(total - loaded_total) > SLOT_RTOL * max(abs(total), 1e-12):
            return "differs", "slot variables differ (a %s slot sums to %g, saved %g)" % (loaded_shape, loaded_total, total)
    return "intact", "%s at iteration %s with %d slot variables" % (saved["class"], saved["iterations"], len(saved["slots"]))


def error_line(exc):
    """An exception's type and the first line of its message, kept short."""
    lines = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines() or [type(exc).__name__]
    return lines[0][:300]


def cause_line(exc):
    """The first line of the exception that caused ``exc``, if any: Keras wraps the real reason."""
    cause = exc.__cause__ or exc.__context__
    return error_line(cause) if cause is not None else None


def _finite(values):
    """Floats for JSON, nested as ``values`` is: a non-finite value spelt as the result file spells it."""
    array = np.asarray(values, dtype="float64")
    if array.ndim == 0:
        return json_scalar(float(array))
    return [_finite(item) for item in array]


def _size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)
    return os.path.getsize(path)


def _remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
