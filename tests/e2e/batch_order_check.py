"""Run inside an environment (``python batch_order_check.py PROJECT_ROOT DOOR``): fit a small model three
epochs natively, watched (recorded), and with a replayed order, and print what came of it as JSON, so the
e2e test can check that watching changes nothing, that the recorded orders are permutations, and that a
replayed order trains exactly as the same order given by hand without shuffling."""

import json
import sys

sys.path.insert(0, sys.argv[1])

import numpy as np

from probe import batch_order, overrides
from probe.state import STATE

if sys.argv[2] == "tf.keras":
    import tensorflow as tf

    keras = tf.keras
else:
    import keras

x = np.random.RandomState(0).normal(size=(10, 3)).astype("float32")
y = (x[:, 0] > 0).astype("float32")


def trained(shuffle=True, order=None, watched=False):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.layers.Dense(1, activation="sigmoid", input_shape=(3,))])
    model.set_weights([np.full((3, 1), 0.1, "float32"), np.zeros(1, "float32")])
    model.compile("sgd", "binary_crossentropy")
    data = (x, y) if order is None else (x[order], y[order])
    if watched:
        with batch_order.watched():
            model.fit(*data, batch_size=4, epochs=3, verbose=0, shuffle=shuffle)
    else:
        model.fit(*data, batch_size=4, epochs=3, verbose=0, shuffle=shuffle)
    return model.get_weights()[0].ravel().tolist()


native = trained()
watched = trained(watched=True)
recorded = list(STATE.batch_orders)
reverse = list(range(9, -1, -1))
del STATE.batch_orders[:]
overrides.start({"batch_order": [reverse] * 3})
replayed = trained(watched=True)
applied = overrides.stop()
print(json.dumps({"native": native, "watched": watched, "recorded": recorded, "applied": applied,
                  "replayed": replayed, "by_hand": trained(shuffle=False, order=reverse)}))
