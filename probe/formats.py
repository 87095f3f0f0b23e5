"""Saved-model formats in every Keras version: which it writes, how each is written and loaded back.

The saving and loading phases (:mod:`probe.saving`) write a model task's trained model in every format of
:data:`SAVED_FORMATS` this Keras writes and load what other environments wrote; the formats, their
arrival and departure between versions, and each version's way of writing and reading them live here,
with the readings of a loaded model the checks compare (its outputs, its optimizer's state). Python
3.6-compatible on purpose: the probe runs in era-authentic interpreters.
"""

import numpy as np

from probe.frameworks import NotApplicable, backend_name, keras_major, keras_version, to_numpy, version_tuple
from probe.graphs import variable_value
from probe.spelling import parameters

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


def _tf_keras_2(keras):
    """tf.keras 2 on TensorFlow 2 (Keras 2.4 and later, or ``tf_keras``): the generation with SavedModel."""
    return keras_major(keras) == 2 and version_tuple(keras) >= (2, 4) and backend_name(keras) == "tensorflow"


def saving_formats(keras):
    """``{format: reason}`` for every format of :data:`SAVED_FORMATS` this Keras cannot write (the reason
    says why); the others it writes."""
    version = keras_version(keras)
    major = keras_major(keras)
    missing = {}
    if major < 3 and not (_tf_keras_2(keras) and version_tuple(keras) >= (2, 12)):
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
    if "safe_mode" in parameters(keras.models.load_model):
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
