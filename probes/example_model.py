"""Your own model across pins: the template. Copy this file, change ``build`` and ``train``, keep ``TASKS``.

keras-drift imports every module in ``probes/`` (or ``--probes DIR``) inside each environment and runs the
tasks in its ``TASKS`` beside the built-in ones, so their metrics are compared, explained and reported like
any other. ``model_tasks`` makes two tasks of one model: ``<name>.defaults`` trains it from the library's
own initial weights, ``<name>.shared_init`` from NumPy weights by seed, so a drift caused by the initial
weights alone (the random stream) is told apart from one in the arithmetic.

Use only the standard library, NumPy, the framework and the probe's helpers (``probe.compat`` speaks every
Keras version's dialect; ``probe.task`` has ``seeded``, ``shared_weights``, ``weights_fingerprint``).
Raise ``compat.NotApplicable("why")`` where a version cannot run the model: the task is then skipped with
that reason, never failed. Keep the syntax of the oldest Python in your matrix (3.6 for the legacy lanes).
"""

from probe import compat
from probe.task import model_tasks, seeded

VOCABULARY, LENGTH, SAMPLES, EPOCHS = 50, 12, 64, 3


def data():
    """Token sequences and a label that depends on their first three tokens (seeded: the same everywhere)."""
    rng = seeded(5)
    x = rng.randint(1, VOCABULARY, size=(SAMPLES, LENGTH)).astype("int32")
    y = (x[:, :3].sum(axis=1) % 2).astype("float32").reshape(-1, 1)
    return x, y


def build(keras):
    """A small text classifier: Embedding, GRU and a Dense head, with the functional API."""
    if compat.keras_major(keras) < 2:
        raise compat.NotApplicable("the example uses the functional API of Keras 2 and later")
    inputs = keras.Input(shape=(LENGTH,), dtype="int32")
    hidden = keras.layers.Embedding(VOCABULARY, 8)(inputs)
    hidden = keras.layers.GRU(8)(hidden)
    outputs = keras.layers.Dense(1, activation="sigmoid")(hidden)
    return keras.models.Model(inputs, outputs)


def train(keras, model):
    """A few epochs of Adam, no shuffling: returns the metrics to compare and the per-epoch history."""
    x, y = data()
    compat.compile_model(model, compat.optimizer(keras, "Adam", learning_rate=0.01), "binary_crossentropy", ["accuracy"])
    history = compat.canonical_history(compat.fit(model, x, y, None, epochs=EPOCHS, batch_size=16, shuffle=False))
    metrics = {"loss": history["loss"][-1], "accuracy": history["accuracy"][-1], "evaluate_loss": compat.evaluate(model, x, y)}
    return metrics, dict(history, epoch=list(range(1, EPOCHS + 1)))


def sample():
    """The batch the per-layer records are taken on: the first 16 sequences."""
    x, y = data()
    return x[:16], y[:16]


TASKS = model_tasks("example.gru_classifier", build, train, defaults=("gru.", "optimizer.Adam."), sample=sample,
                    loss="binary_crossentropy")
