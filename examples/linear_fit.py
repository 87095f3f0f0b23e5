"""The seed case's linear fit, as its author wrote it: y = 0.6 x + 0.8 on 50 points, one Dense unit with
Keras' defaults (Glorot initialisation, SGD at its default learning rate), 1001 full-batch steps, w and b
printed every 50 steps. Run it through keras-drift unchanged:

    keras-drift drift --script examples/linear_fit.py
"""

import keras
import numpy as np

x = np.random.rand(50, 1).astype("float32")
y = 0.6 * x + 0.8

model = keras.Sequential([keras.layers.Dense(units=1, input_dim=1)])
model.compile(loss="mse", optimizer="sgd")
for step in range(1001):
    loss = model.train_on_batch(x, y)
    if step % 50 == 0:
        w, b = model.get_weights()
        print(step, float(w[0, 0]), float(b[0]), loss)
