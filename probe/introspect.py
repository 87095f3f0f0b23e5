"""What the library does when not told: resolved defaults and the behaviour of API calls that changed.

Every probe here is caught and recorded: a call that raises is itself the finding (``error: TypeError``),
never a crash of the probe. Version differences stay in :mod:`probe.compat`.
"""

import numpy as np

from probe import compat

OPTIMIZERS = ("SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam")
LOSSES = (("mse", "MeanSquaredError"), ("bce", "BinaryCrossentropy"))


def resolved_defaults(keras):
    """``{name: value}`` of what the library resolves when the user says nothing."""
    found = {}
    for name in OPTIMIZERS:
        try:
            config = compat.optimizer_config(compat.optimizer(keras, name))
        except Exception as exc:
            found["optimizer." + name] = _error(exc)
            continue
        for key, value in config.items():
            if key != "name":
                found["optimizer." + name + "." + key] = value
    try:
        layer = compat.dense(keras, 1, input_dim=1)
        model = compat.sequential(keras, [layer], input_dim=1)
        for part, initializer in compat.initializer_names(model.layers[-1]).items():
            found["dense." + part + "_initializer"] = initializer
        for key, value in compat.fit_signature_defaults(model).items():
            found["fit." + key] = value
    except Exception as exc:
        found["dense"] = _error(exc)
    for short, class_name in LOSSES:
        try:
            found["loss." + short + ".reduction"] = compat.loss_reduction(keras, class_name)
        except Exception as exc:
            found["loss." + short + ".reduction"] = _error(exc)
    return found


def api_behaviour(keras):
    """How calls whose meaning changed between versions behave here, one short phrase each."""
    probes = (
        ("SGD(lr=0.1)", _sgd_lr),
        ("Adam(decay=0.01)", _adam_decay),
        ("train_on_batch second call returns", _train_on_batch_second_call),
        ("evaluate with a short last batch returns", _evaluate_short_last_batch),
    )
    found = {}
    for name, probe in probes:
        try:
            found[name] = probe(keras)
        except Exception as exc:
            found[name] = _error(exc)
    return found


def _sgd_lr(keras):
    instance = keras.optimizers.SGD(lr=0.1)
    learning_rate = compat.optimizer_config(instance).get("learning_rate")
    if learning_rate is not None and abs(learning_rate - 0.1) < 1e-6:
        return "honoured"
    return "ignored (learning_rate=%s)" % learning_rate


def _adam_decay(keras):
    instance = keras.optimizers.Adam(decay=0.01)
    decay = compat.optimizer_config(instance).get("decay")
    if decay is not None and abs(decay - 0.01) < 1e-6:
        return "honoured"
    return "ignored (decay not in the optimizer's config)"


def _zero_linear_model(keras):
    """Dense(1) at zero weights under plain SGD with learning rate 0: its losses are known exactly."""
    model = compat.sequential(keras, [compat.dense(keras, 1, input_dim=1)], input_dim=1)
    model.set_weights([np.zeros((1, 1), "float32"), np.zeros((1,), "float32")])
    compat.compile_model(model, compat.optimizer(keras, "SGD", learning_rate=0.0), "mse")
    return model


def _train_on_batch_second_call(keras):
    model = _zero_linear_model(keras)
    x = np.ones((4, 1), "float32")
    first_y, second_y = np.ones((4, 1), "float32"), np.full((4, 1), 3.0, "float32")
    first = compat.train_on_batch(model, x, first_y)  # 1.0 at zero weights
    second = compat.train_on_batch(model, x, second_y)  # 9.0 for this batch alone
    return _which(second, {"that batch's loss": 9.0, "running mean over calls": (first + 9.0) / 2})


def _evaluate_short_last_batch(keras):
    model = _zero_linear_model(keras)
    count = 40  # batches of 32 and 8
    x = np.ones((count, 1), "float32")
    y = np.concatenate([np.ones(32), np.full(8, 3.0)]).reshape(-1, 1).astype("float32")
    loss = compat.evaluate(model, x, y)
    sample_mean = float(np.mean(y ** 2))  # (32 * 1 + 8 * 9) / 40 = 2.6
    return _which(loss, {"sample-weighted mean": sample_mean, "mean of batch means": (1.0 + 9.0) / 2})


def _which(value, candidates):
    for label, expected in candidates.items():
        if abs(value - expected) <= 1e-5 * max(1.0, abs(expected)):
            return label
    return "other (%.6g)" % value


def _error(exc):
    return "error: " + type(exc).__name__
