"""What the library does when not told: resolved defaults and the behaviour of API calls that changed.

Every probe here is caught and recorded: a call that raises is itself the finding (``error: TypeError``),
never a crash of the probe. Version differences stay in the helper modules (:mod:`probe.optimizers`, :mod:`probe.models`,
:mod:`probe.training`, :mod:`probe.configs`).
"""

import numpy as np

from probe import configs, models, optimizers, training

OPTIMIZERS = ("SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam")
# (short name, the loss string the tasks compile, its class, the output activation, targets)
LOSSES = (
    ("mse", "mse", "MeanSquaredError", None, (1.0, 3.0)),
    ("bce", "binary_crossentropy", "BinaryCrossentropy", "sigmoid", (1.0, 0.0)),
)
# Evidence keys: what the library states beside a canonical key (``raw.loss.MeanSquaredError.reduction``
# says ``auto`` where ``loss.mse.reduction`` says what that does). A change shows; no re-run sets them.
RAW = "raw."


def resolved_defaults(keras):
    """``{name: value}`` of what the library resolves when the user says nothing."""
    found = {}
    for name in OPTIMIZERS:
        try:
            instance = optimizers.optimizer(keras, name)
            config = configs.optimizer_config(instance)
            rest = configs.optimizer_config_rest(instance)
        except Exception as exc:
            found["optimizer." + name] = _error(exc)
            continue
        for key, value in config.items():
            if key != "name":
                found["optimizer." + name + "." + key] = value
        for key, value in rest.items():
            found[RAW + "optimizer." + name + "." + key] = value
    try:
        layer = models.dense(keras, 1, input_dim=1)
        model = models.sequential(keras, [layer], input_dim=1)
        for part, initializer in configs.initializer_names(model.layers[-1]).items():
            found["dense." + part + "_initializer"] = initializer
        for part, config in configs.initializer_configs(model.layers[-1]).items():
            found[RAW + "dense." + part + "_initializer"] = config
        for key, value in training.fit_signature_defaults(model).items():
            found["fit." + key] = value
    except Exception as exc:
        found["dense"] = _error(exc)
    for short, loss, class_name, activation, targets in LOSSES:
        _record(found, "loss." + short + ".reduction", _compiled_reduction, keras, loss, activation, targets)
        _record(found, RAW + "loss." + class_name + ".reduction", configs.stated_loss_reduction, keras, class_name)
    return found


def _record(found, key, measure, *args):
    """``found[key] = measure(*args)``, or the error it raised: a call that fails is itself the finding."""
    try:
        found[key] = measure(*args)
    except Exception as exc:
        found[key] = _error(exc)


def _compiled_reduction(keras, loss, activation, targets):
    """The reduction ``compile(loss=loss)`` really applies, measured: a zero-weight model's one-step loss on
    two samples whose losses differ, against their mean and their sum."""
    model = _zero_model(keras, loss, activation)
    x = np.ones((len(targets), 1), "float32")
    y = np.array(targets, "float32").reshape(-1, 1)
    reported = training.train_on_batch(model, x, y)
    per_sample = _per_sample_loss(loss, y.ravel())
    return _which(reported, {"sum_over_batch_size": float(np.mean(per_sample)), "sum": float(np.sum(per_sample))})


def _per_sample_loss(loss, targets):
    """The loss of each sample at output 0 (mse, a linear unit) or 0.5 (cross-entropy, a sigmoid unit)."""
    if loss == "mse":
        return targets ** 2
    return -(targets * np.log(0.5) + (1 - targets) * np.log(0.5))


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
    learning_rate = configs.optimizer_config(instance).get("learning_rate")
    if learning_rate is not None and abs(learning_rate - 0.1) < 1e-6:
        return "honoured"
    return "ignored (learning_rate=%s)" % learning_rate


def _adam_decay(keras):
    instance = keras.optimizers.Adam(decay=0.01)
    decay = configs.optimizer_config(instance).get("decay")
    if decay is not None and abs(decay - 0.01) < 1e-6:
        return "honoured"
    return "ignored (decay not in the optimizer's config)"


def _zero_model(keras, loss="mse", activation=None):
    """Dense(1) at zero weights under plain SGD with learning rate 0: its losses are known exactly."""
    model = models.sequential(keras, [models.dense(keras, 1, activation=activation, input_dim=1)], input_dim=1)
    model.set_weights([np.zeros((1, 1), "float32"), np.zeros((1,), "float32")])
    models.compile_model(model, optimizers.optimizer(keras, "SGD", learning_rate=0.0), loss)
    return model


def _train_on_batch_second_call(keras):
    model = _zero_model(keras)
    x = np.ones((4, 1), "float32")
    first_y, second_y = np.ones((4, 1), "float32"), np.full((4, 1), 3.0, "float32")
    first = training.train_on_batch(model, x, first_y)  # 1.0 at zero weights
    second = training.train_on_batch(model, x, second_y)  # 9.0 for this batch alone
    return _which(second, {"that batch's loss": 9.0, "running mean over calls": (first + 9.0) / 2})


def _evaluate_short_last_batch(keras):
    model = _zero_model(keras)
    count = 40  # batches of 32 and 8
    x = np.ones((count, 1), "float32")
    y = np.concatenate([np.ones(32), np.full(8, 3.0)]).reshape(-1, 1).astype("float32")
    loss = models.evaluate(model, x, y)
    sample_mean = float(np.mean(y ** 2))  # (32 * 1 + 8 * 9) / 40 = 2.6
    return _which(loss, {"sample-weighted mean": sample_mean, "mean of batch means": (1.0 + 9.0) / 2})


def _which(value, candidates):
    for label, expected in candidates.items():
        if abs(value - expected) <= 1e-5 * max(1.0, abs(expected)):
            return label
    return "other (%.6g)" % value


def _error(exc):
    return "error: " + type(exc).__name__
