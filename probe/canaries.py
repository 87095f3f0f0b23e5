"""Canaries: tiny, deterministic tasks in the places where Keras really changed between versions, on the
paths the API sweep (:mod:`probe.sweep`) does not take: a compiled model's training step, ``compile()``'s
resolution of what a user names, masking, multi-output losses, normalisation inside ``fit()``, a nested
model that is saved and loaded across.

Each is fed NumPy inputs and, where it has weights, NumPy weights, so a difference is the library's and
never the random stream's. Where the point is a default, a canary runs with the library's defaults and
declares them: the experiment tells a changed default from a changed formula by re-running it with the
baseline's. Functions the sweep calls directly (activations, losses, dropout and noise layers, every
optimizer option) are the sweep's. What a version lacks is left out with its reason
(``facts["unavailable"]``) or, for a whole task, skipped. Python 3.6 syntax; versions differ in the helper
modules only (:mod:`probe.models`, :mod:`probe.optimizers`, :mod:`probe.training`, ...).
"""

import numpy as np

from probe import configs, frameworks, models, optimizers, records, saving, spelling, training
from probe.state import STATE
from probe.task import Task, seeded, shared_weights, start_from

SEED = 11
OPTIMIZER_STEPS = 5
# The optimizers of the canaries, each with the library's defaults. Each update rule with its options given
# (momentum, Nesterov, AMSGrad, clipping, EMA, weight decay, ...) is the sweep's (``optimizers.SGD(momentum=0.9)``,
# every option of OPTIMIZER_VARIANTS in the full sweep): a changed default is told from a changed formula by the
# experiment, which re-runs a canary with the baseline's declared defaults.
OPTIMIZERS = ("SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam")


def optimizer_problem():
    """The regression every optimizer canary trains: Dense(1) on 3 features, fixed start, full batch."""
    rng = seeded(SEED)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = (x.dot(np.array([[1.0], [2.0], [-1.0]])) + 0.5).astype("float32")
    weights = [np.array([[0.5], [-0.3], [0.2]], "float32"), np.array([0.1], "float32")]
    return x, y, weights


def metric_accuracy(keras):
    """What ``metrics=["accuracy"]`` resolves to for a binary, a multi-label and a categorical output."""
    cases = (
        # binary accuracy 0.75; an argmax over one column would say 1.0
        ("binary", "binary_crossentropy", np.array([[0.6], [0.7], [0.4], [0.3]], "float32"),
         np.array([[1.0], [1.0], [1.0], [0.0]], "float32")),
        # element-wise binary accuracy 4/6; an argmax would say 1.0
        ("multilabel", "binary_crossentropy", np.array([[0.9, 0.2, 0.4], [0.6, 0.7, 0.1]], "float32"),
         np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], "float32")),
        # categorical accuracy 2/3; an element-wise threshold would say 7/9
        ("categorical", "categorical_crossentropy", np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.5, 0.1, 0.4]], "float32"),
         np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], "float32")),
    )
    metrics = {}
    for name, loss, predicted, true in cases:
        model = _identity(keras, predicted.shape[1:])
        models.compile_model(model, optimizers.optimizer(keras, "SGD", learning_rate=0.0), loss, ["accuracy"])
        metrics["metric.accuracy." + name] = models.evaluate_all(model, predicted, true)[-1]
    return metrics, {}, {}


MASKED_INPUT = np.array([[[1.0], [2.0], [0.0], [0.0]], [[3.0], [1.0], [2.0], [0.0]]], "float32")  # zeros: padding
MASKED_TARGET = np.array([[[2.0], [2.0], [9.0], [9.0]], [[1.0], [1.0], [1.0], [9.0]]], "float32")


def loss_masked(keras):
    """MSE of a sequence model whose padded steps are masked: are they left out, and of which mean?"""
    if getattr(keras.layers, "TimeDistributed", None) is None:
        raise frameworks.NotApplicable("no layers.TimeDistributed in Keras %s" % frameworks.keras_version(keras))
    frameworks.reset(keras, SEED)
    model = models.model_of(keras, lambda first: [models.layer(keras, "Masking", mask_value=0.0, **first),
                                                  keras.layers.TimeDistributed(models.layer(keras, "Dense", units=1))], (4, 1))
    model.set_weights([np.ones((1, 1), "float32"), np.zeros((1,), "float32")])  # the identity on each step
    recorded = records.take(keras, "loss.masked", model, MASKED_INPUT, MASKED_TARGET, "mse")  # the masked loss's gradient
    models.compile_model(model, optimizers.optimizer(keras, "SGD", learning_rate=0.0), "mse")
    return {"loss.masked.mse": models.evaluate_all(model, MASKED_INPUT, MASKED_TARGET)[0]}, {}, recorded


def metric_two_outputs(keras):
    """A two-output model compiled with loss_weights: what evaluate and the history report, per output."""
    if frameworks.keras_major(keras) < 2:
        raise frameworks.NotApplicable("per-output metrics by output name need Keras 2 or later")
    frameworks.reset(keras, SEED)
    inputs = keras.Input(shape=(2,))
    regression = models.layer(keras, "Dense", units=1, name="regression")(inputs)
    decision = models.layer(keras, "Dense", units=1, activation="sigmoid", name="decision")(inputs)
    model = keras.models.Model(inputs, [regression, decision])
    model.set_weights([np.array([[1.0], [-1.0]], "float32"), np.zeros(1, "float32"),
                       np.array([[0.5], [0.5]], "float32"), np.zeros(1, "float32")])
    model.compile(optimizer=optimizers.optimizer(keras, "SGD", learning_rate=0.0), loss=["mse", "binary_crossentropy"],
                  loss_weights=[1.0, 0.5], metrics={"regression": ["mae"], "decision": ["accuracy"]})
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [-1.0, 1.0]], "float32")
    targets = [np.array([[1.0], [0.0], [0.0], [-1.0]], "float32"), np.array([[1.0], [0.0], [1.0], [0.0]], "float32")]
    values = models.evaluate_all(model, x, targets)
    history = training.fit(model, x, targets, None, epochs=1, batch_size=4, shuffle=False)
    metrics = dict(("metric.two_outputs.evaluate[%d]" % index, value) for index, value in enumerate(values))
    metrics["metric.two_outputs.history_keys"] = ",".join(sorted(history))
    return metrics, {}, {}


def _identity(keras, shape):
    """A model that outputs its input, so ``evaluate`` judges the given predictions as they are."""
    frameworks.reset(keras, SEED)
    return models.model_of(keras, lambda first: [models.layer(keras, "Activation", "linear", **first)], shape)


# -- optimizers ------------------------------------------------------------------------------------------


def optimizer_task(class_name):
    """One optimizer a few steps from the same weights with the library's defaults, through
    ``train_on_batch``: the path training takes (applying an optimizer directly can differ from it: tf.keras
    2.15's Nadam does). Its own task, so its own defaults are the evidence."""
    name = "optimizer.defaults." + class_name

    def run(keras):
        frameworks.reset(keras, SEED)  # before the optimizer: on graph backends its variables join the new graph
        instance, ignored = optimizers.optimizer_accepting(keras, class_name)  # an experiment's defaults it does not take: ignored
        recorded = {}
        found = _trained(keras, instance, name, recorded, name)
        cls = type(instance)  # which class the door reached (tf.keras 2.11 and 2.12: not import keras's)
        return found, {}, dict(recorded, not_accepted=ignored, optimizer_class=cls.__module__ + "." + cls.__name__)

    run.__doc__ = "%s, %d steps from the same weights, the library's defaults." % (class_name, OPTIMIZER_STEPS)
    return Task(name, run, defaults=("optimizer.%s." % class_name,), repeat=False, kind="canary", calls=("optimizers." + class_name,))


def _trained(keras, instance, prefix, recorded, task_name):
    """The Dense(1) weights after a few ``train_on_batch`` steps of ``instance``. Its records (forward and
    gradient at the start) go to ``recorded``: when they agree, the drift is the optimizer's."""
    x, y, weights = optimizer_problem()
    model = models.model_of(keras, lambda first: [models.layer(keras, "Dense", units=1, **first)], (3,))
    model.set_weights(weights)
    records.extend(recorded, _problem_records(keras, task_name, model, x, y))
    models.compile_model(model, instance, "mse")
    for _ in range(OPTIMIZER_STEPS):
        training.train_on_batch(model, x, y)
    kernel, bias = models.dense_weights(model.layers[-1])
    found = dict((prefix + ".w%d" % index, float(value)) for index, value in enumerate(kernel.ravel()))
    found[prefix + ".b"] = float(bias.ravel()[0])
    return found


def _problem_records(keras, task_name, model, x, y):
    """The records of the optimizer problem at its fixed start, taken once per process and shared by every
    optimizer canary: the same model, weights and batch, whatever the optimizer (the gradient is read
    with a plain SGD step of its own), so each would record the same numbers. Compiling a gradient step
    per canary cost seconds on Theano."""
    if STATE.optimizer_problem_records is None:
        taken = records.take(keras, task_name, model, x, y, "mse")
        if not taken:  # records are off in this process (re-runs)
            return {}
        STATE.optimizer_problem_records = taken
    return dict(STATE.optimizer_problem_records)


# -- recurrent layers ------------------------------------------------------------------------------------

RECURRENT_INPUT = seeded(SEED + 1).uniform(-1, 1, size=(2, 4, 2)).astype("float32")
RECURRENT_CLASSES = (("simplernn", "SimpleRNN"), ("lstm", "LSTM"), ("gru", "GRU"))
RECURRENT_KEYS = ("activation", "recurrent_activation", "reset_after", "use_bias", "unit_forget_bias")


def recurrent_defaults(keras):
    """SimpleRNN, LSTM and GRU outputs from the same NumPy weights, each with the library's defaults (which
    it records: a changed default is told from a changed formula by the experiment's re-run with the
    baseline's)."""
    if frameworks.keras_major(keras) < 2:
        raise frameworks.NotApplicable("recurrent weights of Keras %s are laid out per gate; not converted" % frameworks.keras_version(keras))
    metrics, resolved, recorded = {}, {}, {}
    for short, class_name in RECURRENT_CLASSES:
        frameworks.reset(keras, SEED)
        model = models.model_of(keras, lambda first: [models.layer(keras, class_name, units=3, **first)], RECURRENT_INPUT.shape[1:])
        rng = seeded(SEED + 2)  # the same numbers in the same shapes: the layout of Keras 2 and later
        model.set_weights([rng.uniform(-0.5, 0.5, size=np.shape(array)).astype("float32") for array in model.get_weights()])
        records.extend(recorded, records.take(keras, "recurrent.defaults", model, RECURRENT_INPUT, label=short))
        output = models.predict(model, RECURRENT_INPUT, keras)
        for index, value in enumerate(output.ravel()):
            metrics["recurrent.defaults.%s[%d]" % (short, index)] = float(value)
        for key, value in configs.layer_defaults(model.layers[-1], RECURRENT_KEYS).items():
            resolved["%s.%s" % (short, key)] = value
    return metrics, {}, dict(recorded, resolved_defaults=resolved)


# -- normalisation, resizing, dtypes, randomness ---------------------------------------------------------

NORMALISATION_INPUT = seeded(SEED + 3).normal(2.0, 3.0, size=(6, 4)).astype("float32")


def batchnorm_train_step(keras):
    """One training step of a BatchNormalization layer: its moving mean and variance afterwards."""
    frameworks.reset(keras, SEED)
    model = models.model_of(keras, lambda first: [models.layer(keras, "BatchNormalization", **first)], (4,))
    recorded = records.take(keras, "batchnorm.train_step", model, NORMALISATION_INPUT)
    models.compile_model(model, optimizers.optimizer(keras, "SGD", learning_rate=0.0), "mse")
    training.train_on_batch(model, NORMALISATION_INPUT, np.zeros((6, 4), "float32"))
    return _batchnorm_state(model.layers[-1], "batchnorm.train_step", recorded)


def batchnorm_frozen(keras):
    """A BatchNormalization with ``trainable=False`` inside ``fit()``: do its moving statistics move?"""
    frameworks.reset(keras, SEED)
    model = models.model_of(keras, lambda first: [models.layer(keras, "BatchNormalization", **first)], (4,))
    model.layers[-1].trainable = False
    recorded = records.take(keras, "batchnorm.frozen", model, NORMALISATION_INPUT)
    models.compile_model(model, optimizers.optimizer(keras, "SGD", learning_rate=0.0), "mse")
    training.fit(model, NORMALISATION_INPUT, np.zeros((6, 4), "float32"), None, epochs=1, batch_size=6, shuffle=False)
    return _batchnorm_state(model.layers[-1], "batchnorm.frozen", recorded)


def _batchnorm_state(layer, prefix, recorded):
    # gamma, beta, then the moving mean and the moving variance (Keras 0.3/1: a running std)
    arrays = [np.asarray(array) for array in layer.get_weights()]
    metrics = {}
    for name, array in zip(("moving_mean", "moving_variance"), arrays[2:4]):
        for index, value in enumerate(array.ravel()[:2]):
            metrics["%s.%s[%d]" % (prefix, name, index)] = float(value)
    resolved = dict(("batchnorm." + key, value) for key, value in configs.layer_defaults(layer, ("momentum", "epsilon")).items())
    return metrics, {}, dict(recorded, resolved_defaults=resolved)


IMAGE = np.array([[1.0, 2.0], [3.0, 4.0]], "float32").reshape(1, 2, 2, 1)


def upsampling(keras):
    """UpSampling2D of a 2x2 image to 4x4, nearest and bilinear (channels last)."""
    metrics, unavailable, recorded = {}, {}, {}
    for method in ("nearest", "bilinear"):
        cls = keras.layers.UpSampling2D
        if method != "nearest" and not spelling.accepts(cls, "interpolation"):
            unavailable[method] = "UpSampling2D has no interpolation in Keras %s" % frameworks.keras_version(keras)
            continue
        settings = {"size": (2, 2), "data_format": "channels_last"}
        if spelling.accepts(cls, "interpolation"):
            settings["interpolation"] = method
        frameworks.reset(keras, SEED)
        model = models.model_of(keras, lambda first: [models.layer(keras, "UpSampling2D", **dict(settings, **first))], (2, 2, 1))
        records.extend(recorded, records.take(keras, "resizing.upsampling", model, IMAGE, label=method))
        for index, value in enumerate(models.predict(model, IMAGE, keras).ravel()):
            metrics["resizing.upsampling.%s[%d]" % (method, index)] = float(value)
    return metrics, {}, dict(recorded, unavailable=unavailable)


def dtype_float64_input(keras):
    """float64 inputs into a Dense layer: the dtype and the values that come out."""
    frameworks.reset(keras, SEED)
    model = models.model_of(keras, lambda first: [models.layer(keras, "Dense", units=2, **first)], (3,))
    model.set_weights([np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], "float32"), np.array([0.01, -0.02], "float32")])
    x = np.array([[1.0 / 3.0, 2.0 / 3.0, 1.0]], "float64")
    recorded = records.take(keras, "dtype.float64_input", model, x)
    output = models.predict(model, x, keras)
    metrics = dict(("dtype.float64_input.out[%d]" % index, float(value)) for index, value in enumerate(output.ravel()))
    metrics["dtype.float64_input.dtype"] = str(output.dtype)
    return metrics, {}, recorded


NESTED_X = seeded(SEED + 5).normal(size=(16, 6)).astype("float32")
NESTED_Y = NESTED_X[:, :1] - 0.5 * NESTED_X[:, 1:2]
NESTED_STEPS = 3


def nested_model(keras):
    """A functional model around a nested Sequential (Dense, BatchNormalization), with a Dense head."""
    if frameworks.keras_major(keras) < 2:
        raise frameworks.NotApplicable("the nested model uses the functional API of Keras 2 and later")
    inner = models.model_of(keras, lambda first: [models.layer(keras, "Dense", units=8, activation="relu", **first),
                                                  models.layer(keras, "BatchNormalization")], (6,))
    inputs = keras.Input(shape=(6,))
    return keras.models.Model(inputs, models.layer(keras, "Dense", units=1)(inner(inputs)))


def nested_sequential(keras):
    """Three Adam steps of a functional model around a nested Sequential, from NumPy weights."""
    frameworks.reset(keras, SEED)
    model = nested_model(keras)
    weights = shared_weights(model, SEED)  # Dense kernel and bias, BatchNormalization's four, Dense head
    weights[2] += 1.0  # gamma near 1
    weights[5] += 1.0  # a moving variance is positive
    facts = start_from(model, weights)
    facts.update(records.take(keras, "nested.sequential", model, NESTED_X, NESTED_Y, "mse"))
    models.compile_model(model, optimizers.optimizer(keras, "Adam", learning_rate=0.01), "mse")
    losses = [training.train_on_batch(model, NESTED_X, NESTED_Y) for _ in range(NESTED_STEPS)]
    saving.keep(model)
    metrics = {"nested.sequential.loss": losses[-1], "nested.sequential.evaluate_loss": models.evaluate(model, NESTED_X, NESTED_Y)}
    return metrics, {}, facts


CANARIES = tuple(optimizer_task(name) for name in OPTIMIZERS) + (
    Task("loss.masked", loss_masked, defaults=("loss.",), repeat=False, kind="canary"),
    Task("metric.accuracy", metric_accuracy, repeat=False, kind="canary"),
    Task("metric.two_outputs", metric_two_outputs, repeat=False, kind="canary"),
    Task("recurrent.defaults", recurrent_defaults, defaults=("simplernn.", "lstm.", "gru."), repeat=False, kind="canary"),
    Task("batchnorm.train_step", batchnorm_train_step, defaults=("batchnorm.",), repeat=False, kind="canary"),
    Task("batchnorm.frozen", batchnorm_frozen, defaults=("batchnorm.",), repeat=False, kind="canary"),
    Task("resizing.upsampling", upsampling, repeat=False, kind="canary"),
    Task("dtype.float64_input", dtype_float64_input, repeat=False, kind="canary"),
    Task("nested.sequential", nested_sequential, defaults=("batchnorm.", "optimizer.Adam."), repeat=False, kind="canary",
         saves=saving.Saving(nested_model, "mse", lambda: (NESTED_X, NESTED_Y))),
)
