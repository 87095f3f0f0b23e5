"""Building, compiling, calling and evaluating models in every Keras version's dialect.

Tasks and canaries build their layers and models by class name with the probe's canonical argument names
(:mod:`probe.spelling`); these helpers add what a version wants beside them (Keras 3's ``Input``, the
``input_shape`` keyword before it), take interventions on a layer's defaults from :mod:`probe.overrides`,
and read a model's outputs and losses back as NumPy arrays and floats. Python 3.6-compatible on purpose:
the probe runs in era-authentic interpreters.
"""

import numpy as np

from probe import overrides
from probe.frameworks import NotApplicable, backend_name, eager, keras_major, keras_version, to_numpy
from probe.spelling import first_scalar, parameters, spell

# The key prefix of a layer's resolved defaults, where it is not the class name in lower case.
LAYER_DEFAULT_PREFIXES = {"BatchNormalization": "batchnorm"}


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
    if "verbose" in parameters(model.predict):
        kwargs["verbose"] = 0
    return np.asarray(model.predict(x, **kwargs))


def evaluate_all(model, x, y, sample_weight=None):
    """``evaluate`` in one batch: every value it returns (the loss, then each metric), as floats."""
    kwargs = {"batch_size": len(x), "verbose": 0}
    if "show_accuracy" in parameters(model.evaluate):
        kwargs["show_accuracy"] = True
    if sample_weight is not None:
        kwargs["sample_weight"] = sample_weight
    values = model.evaluate(x, y, **kwargs)
    return [float(np.asarray(value)) for value in (values if isinstance(values, (list, tuple)) else [values])]


def loss_object(keras, class_name, **kwargs):
    """A loss class instance (Keras >= 2.3 and tf.keras); :class:`NotApplicable` before loss classes."""
    cls = getattr(getattr(keras, "losses", None), class_name, None)
    if cls is None:
        raise NotApplicable("no losses.%s in Keras %s" % (class_name, keras_version(keras)))
    return cls(**kwargs)


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


def compile_model(model, optimizer, loss, metrics=None):
    """``compile`` with metrics where the library takes them (Keras 0.3 asks for them in ``fit``)."""
    kwargs = {"optimizer": optimizer, "loss": loss}
    if metrics and "metrics" in parameters(model.compile):
        kwargs["metrics"] = list(metrics)
    model.compile(**kwargs)


def evaluate(model, x, y):
    """``evaluate`` with its default batch size; return the loss only."""
    return first_scalar(model.evaluate(x, y, verbose=0))


def batch_loss(model, x, y):
    """The loss on ``(x, y)`` taken as one batch (``test_on_batch``): what ``evaluate`` reports for a batch it
    takes whole, without the set-up ``evaluate`` repeats at every call (its data adapter and callbacks: 50 to
    130 ms in tf.keras 2, against 20 ms), which a saved model's check pays once per file loaded."""
    return first_scalar(model.test_on_batch(x, y))


def dense_weights(layer):
    """The kernel and bias of a Dense layer as NumPy arrays."""
    kernel, bias = layer.get_weights()[:2]
    return np.asarray(kernel), np.asarray(bias)
