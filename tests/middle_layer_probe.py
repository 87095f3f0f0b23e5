"""A user probe (copied into a probes folder by test_e2e_localise.py): a model whose middle layer changed between
tf.keras 2 and Keras 3, hard_sigmoid (0.2x + 0.5 -> relu6(x + 3) / 6); and a model of wrappers and a nested
model, whose records the test reads."""

from probe import compat
from probe.task import model_tasks, seeded


def data():
    """Seeded inputs and a label from their sum."""
    rng = seeded(11)
    x = rng.uniform(-2, 2, size=(32, 4)).astype("float32")
    return x, (x.sum(axis=1) > 0).astype("float32").reshape(-1, 1)


def build(keras):
    """Dense, hard_sigmoid, Dense, Dense: the activation in the middle is the layer that changed."""
    if compat.keras_major(keras) < 2:
        raise compat.NotApplicable("the functional API of Keras 2 and later")
    inputs = keras.Input(shape=(4,))
    hidden = keras.layers.Dense(6, activation="relu")(inputs)
    hidden = keras.layers.Activation("hard_sigmoid")(hidden)
    hidden = keras.layers.Dense(3, activation="tanh")(hidden)
    return keras.models.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))


def train(keras, model):
    """Two epochs of plain SGD, no shuffling."""
    x, y = data()
    compat.compile_model(model, compat.optimizer(keras, "SGD", learning_rate=0.1), "binary_crossentropy")
    history = compat.canonical_history(compat.fit(model, x, y, None, epochs=2, batch_size=16, shuffle=False))
    return {"loss": history["loss"][-1], "evaluate_loss": compat.evaluate(model, x, y)}, dict(history, epoch=[1, 2])


def sample():
    """The first eight rows."""
    x, y = data()
    return x[:8], y[:8]


def build_wrapped(keras):
    """TimeDistributed(Dense), Bidirectional(GRU), then a nested Sequential head."""
    if compat.keras_major(keras) < 2:
        raise compat.NotApplicable("the functional API of Keras 2 and later")
    inputs = keras.Input(shape=(5, 3))
    hidden = keras.layers.TimeDistributed(keras.layers.Dense(4))(inputs)
    hidden = keras.layers.Bidirectional(keras.layers.GRU(2, reset_after=True))(hidden)
    head = keras.models.Sequential([keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)], name="head")
    return keras.models.Model(inputs, head(hidden))


def sequences():
    """Seeded sequences and a target."""
    rng = seeded(12)
    return rng.uniform(-1, 1, size=(8, 5, 3)).astype("float32"), rng.uniform(size=(8, 1)).astype("float32")


def predict_only(keras, model):
    """No training: the first prediction."""
    x, _ = sequences()
    return {"prediction": float(compat.predict(model, x, keras).ravel()[0])}, {}


TASKS = model_tasks("middle.hard_sigmoid", build, train, sample=sample, loss="binary_crossentropy") + model_tasks(
    "middle.wrapped", build_wrapped, predict_only, sample=sequences, loss="mse")
