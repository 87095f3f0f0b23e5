"""The seed case's Adam classifier: the same code under two Keras versions, Adam with its defaults and
fit() with its defaults, validation on a held-out part. Run it through keras-drift unchanged:

    keras-drift drift --script examples/adam_classifier.py
"""

import keras
import numpy as np

rng = np.random.RandomState(0)
x = rng.normal(size=(600, 20)).astype("float32")
y = (x[:, :5].sum(axis=1) + 0.5 * rng.normal(size=600) > 0).astype("float32")

model = keras.Sequential([keras.layers.Dense(64, activation="relu", input_dim=20),
                          keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x[:400], y[:400], validation_data=(x[400:], y[400:]), verbose=0)
print(model.evaluate(x[400:], y[400:], verbose=0))
