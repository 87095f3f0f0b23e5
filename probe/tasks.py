"""The probe's seed tasks, the two cases keras-drift grew from: the same NumPy data and, where shared, the
same NumPy weights everywhere.

Each task returns ``(metrics, series, facts)``: ``metrics`` maps a metric name to a scalar, ``series``
maps a series name to ``{column: [values]}`` (a trajectory per step or per epoch), and ``facts`` holds what
explains a result without being one (a checksum of the initial weights, the history's own key names).
The metric names are the contract: they never change.
"""

import numpy as np

from probe import frameworks, introspect, models, optimizers, records, saving, training
from probe.task import Task, start_from, weights_fingerprint, whole_weights

SEED = 1
LINEAR_POINTS = 50
LINEAR_STEPS = 1001
RECORD_EVERY = 50
RECORD_BATCH = 16  # rows of the training data the per-layer records are taken on
CLASSIFIER_TRAIN = 300  # deliberately not a multiple of any default batch size (32, 128)
CLASSIFIER_VALIDATION = 200
CLASSIFIER_FEATURES = 20
CLASSIFIER_HIDDEN = 32
CLASSIFIER_EPOCHS = 10
CLASSIFIER_BATCH = 32
# Where the running task is, for the message of a task that runs out of time (see probe/run.py).
PROGRESS = {"step": 0, "of": 0}


def linear_data():
    """50 points of y = 0.6 x + 0.8, x uniform in [0, 1), as float32 columns."""
    x = np.random.RandomState(SEED).rand(LINEAR_POINTS, 1).astype("float32")
    return x, (0.6 * x + 0.8).astype("float32")


def classifier_data():
    """A noisy linearly-separable binary problem, small enough to over-fit: (x, y, x_val, y_val)."""
    rng = np.random.RandomState(SEED + 1)
    total = CLASSIFIER_TRAIN + CLASSIFIER_VALIDATION
    x = rng.normal(size=(total, CLASSIFIER_FEATURES)).astype("float32")
    direction = rng.normal(size=(CLASSIFIER_FEATURES,))
    noisy = x.dot(direction) + 2.0 * rng.normal(size=total)
    y = (noisy > 0).astype("float32").reshape(-1, 1)
    n = CLASSIFIER_TRAIN
    return x[:n], y[:n], x[n:], y[n:]


def shared_linear_weights():
    """The NumPy-provided starting point of ``linear.shared_init``: kernel (1, 1) and bias (1,)."""
    rng = np.random.RandomState(SEED + 2)
    return [rng.uniform(-1, 1, size=(1, 1)).astype("float32"), rng.uniform(-1, 1, size=(1,)).astype("float32")]


def shared_classifier_weights():
    """Glorot-uniform-like NumPy weights for both Dense layers of the classifier, zero biases."""
    rng = np.random.RandomState(SEED + 3)
    shapes = [(CLASSIFIER_FEATURES, CLASSIFIER_HIDDEN), (CLASSIFIER_HIDDEN, 1)]
    weights = []
    for fan_in, fan_out in shapes:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype("float32"))
        weights.append(np.zeros((fan_out,), dtype="float32"))
    return weights


def classifier_model(keras):
    """The classifier: Dense(32, relu) then Dense(1, sigmoid), with the library's initial weights."""
    hidden = models.dense(keras, CLASSIFIER_HIDDEN, activation="relu", input_dim=CLASSIFIER_FEATURES)
    return models.sequential(keras, [hidden, models.dense(keras, 1, activation="sigmoid")], CLASSIFIER_FEATURES)


def classifier_sample():
    """The batch the classifier's records and saved-model checks are taken on: its first training rows."""
    x, y = classifier_data()[:2]
    return x[:RECORD_BATCH], y[:RECORD_BATCH]


def linear_reference(keras):
    """The raw-TensorFlow style of the original comparison: zero init, SGD with learning rate 0.1."""
    weights = [np.zeros((1, 1), "float32"), np.zeros((1,), "float32")]
    return _linear_fit(keras, "reference", weights, lambda: optimizers.optimizer(keras, "SGD", learning_rate=0.1))


def linear_defaults(keras):
    """What ``Dense(1)`` and ``optimizer="sgd"`` give with the library's own defaults."""
    return _linear_fit(keras, "defaults", None, lambda: optimizers.named_optimizer(keras, "sgd"))


def linear_shared_init(keras):
    """NumPy-provided initial weights, default optimizer: isolates the optimizer from the initializer."""
    return _linear_fit(keras, "shared_init", shared_linear_weights(), lambda: optimizers.named_optimizer(keras, "sgd"))


def linear_raw_tf(keras):
    """The original raw-TensorFlow program: graph mode, zero variables, GradientDescentOptimizer(0.1)."""
    tf = frameworks.tensorflow_v1()
    x, y = (array.ravel() for array in linear_data())
    graph = tf.Graph()
    with graph.as_default():
        w = tf.Variable(tf.zeros([1]))
        b = tf.Variable(tf.zeros([1]))
        loss = tf.reduce_mean(tf.square(w * x + b - y))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        initialize = frameworks.tf_variables_initializer(tf)
    series = {"step": [], "w": [], "b": [], "loss": []}
    with tf.Session(graph=graph) as session:
        session.run(initialize)
        for step in range(LINEAR_STEPS):
            PROGRESS.update(step=step, of=LINEAR_STEPS)
            _, step_loss = session.run([train, loss])
            if step % RECORD_EVERY == 0 or step == LINEAR_STEPS - 1:
                w_value, b_value = session.run([w, b])
                series["step"].append(step)
                series["w"].append(float(w_value[0]))
                series["b"].append(float(b_value[0]))
                series["loss"].append(float(step_loss))
    metrics = {"linear.raw_tf.w": series["w"][-1], "linear.raw_tf.b": series["b"][-1]}
    return metrics, {"linear.raw_tf": series}, {}


def classifier_defaults(keras):
    """Default initializers, ``Adam()``, and every ``fit()`` default (batch size, epochs, shuffle)."""
    return _classifier_fit(keras, "defaults", None, {})


def classifier_shared_init(keras):
    """NumPy-provided weights, ``Adam()``, explicit epochs and batch size, no shuffling."""
    settings = {"epochs": CLASSIFIER_EPOCHS, "batch_size": CLASSIFIER_BATCH, "shuffle": False}
    return _classifier_fit(keras, "shared_init", shared_classifier_weights(), settings)


TASKS = (
    Task("linear.raw_tf", linear_raw_tf, kind="seed"),
    Task("linear.reference", linear_reference, defaults=("optimizer.SGD.", "loss.mse."), explicit=("optimizer.SGD.learning_rate",), kind="seed"),
    Task("linear.defaults", linear_defaults, defaults=("optimizer.SGD.", "dense.", "loss.mse."), kind="seed"),
    Task("linear.shared_init", linear_shared_init, defaults=("optimizer.SGD.", "loss.mse."), kind="seed"),
    Task("classifier.defaults", classifier_defaults, defaults=("optimizer.Adam.", "dense.", "fit.", "loss.bce."), kind="seed"),
    Task("classifier.shared_init", classifier_shared_init, defaults=("optimizer.Adam.", "loss.bce."), kind="seed",
         saves=saving.Saving(classifier_model, "binary_crossentropy", classifier_sample)),
)


def _linear_fit(keras, variant, weights, make_optimizer):
    # The optimizer is made after the reset: on graph backends its variables belong to the new graph.
    frameworks.reset(keras, SEED)
    x, y = linear_data()
    model = models.sequential(keras, [models.dense(keras, 1, input_dim=1)], input_dim=1)
    facts = start_from(model, weights)
    if variant == "shared_init":
        facts.update(records.take(keras, "linear." + variant, model, x[:RECORD_BATCH], y[:RECORD_BATCH], "mse"))
    initial_w, initial_b = models.dense_weights(model.layers[-1])
    models.compile_model(model, make_optimizer(), "mse")
    series = {"step": [], "w": [], "b": [], "loss": []}
    loss, step = None, 0
    while step < LINEAR_STEPS:
        PROGRESS.update(step=step, of=LINEAR_STEPS)
        loss = training.train_on_batch(model, x, y)
        if step % RECORD_EVERY == 0 or step == LINEAR_STEPS - 1:
            w, b = models.dense_weights(model.layers[-1])
            series["step"].append(step)
            series["w"].append(float(w.ravel()[0]))
            series["b"].append(float(b.ravel()[0]))
            series["loss"].append(loss)
        step += 1
        if training.FIRST_STEPS <= step < LINEAR_STEPS:
            # Steps neither recorded nor among the first (whose losses are kept) run together, at less cost.
            recorded_next = min(-(-step // RECORD_EVERY) * RECORD_EVERY, LINEAR_STEPS - 1)
            training.train_steps(keras, model, x, y, recorded_next - step)
            step = recorded_next
    facts["final_weights"] = weights_fingerprint(model)
    prefix = "linear." + variant + "."
    metrics = {
        prefix + "w": series["w"][-1],
        prefix + "b": series["b"][-1],
        prefix + "loss": loss,
        prefix + "initial_w": float(initial_w.ravel()[0]),
        prefix + "initial_b": float(initial_b.ravel()[0]),
    }
    return metrics, {"linear." + variant: series}, facts


def _classifier_fit(keras, variant, weights, fit_settings):
    frameworks.reset(keras, SEED)
    x, y, x_val, y_val = classifier_data()
    model = classifier_model(keras)
    facts = start_from(model, weights)
    if weights is not None:
        facts.update(records.take(keras, "classifier." + variant, model, *classifier_sample(), loss="binary_crossentropy"))
    models.compile_model(model, optimizers.optimizer(keras, "Adam"), "binary_crossentropy", ["accuracy"])
    counter = training.batch_counter(keras)
    raw_history = training.fit(model, x, y, (x_val, y_val), counter=counter, **fit_settings)
    history = training.canonical_history(raw_history)
    if weights is not None:
        saving.keep(model)
    facts["history_keys"] = sorted(raw_history)
    facts["final_weights"] = weights_fingerprint(model)
    facts["final_arrays"] = whole_weights(model)  # the oracle recomputes the reported losses from them
    prefix = "classifier." + variant + "."
    metrics = dict((prefix + key, values[-1]) for key, values in history.items() if values)
    metrics[prefix + "epochs"] = len(history.get("loss", []))
    metrics[prefix + "evaluate_loss"] = models.evaluate(model, x, y)
    metrics[prefix + "batches_per_epoch"] = counter.batches // max(1, metrics[prefix + "epochs"])
    if not fit_settings:
        # What fit() really did with its defaults, beside the defaults its signature declares.
        facts["resolved_defaults"] = {
            introspect.RAW + "fit.epochs_used": metrics[prefix + "epochs"],
            introspect.RAW + "fit.batch_size_used": counter.largest_batch or "(not reported; %d batches per epoch)" % metrics[prefix + "batches_per_epoch"],
            introspect.RAW + "fit.history_keys": ",".join(sorted(raw_history)),
        }
    series = dict(history)
    series["epoch"] = list(range(1, len(history.get("loss", [])) + 1))
    return metrics, {"classifier." + variant: series}, facts
