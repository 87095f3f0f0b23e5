"""The mathematically expected answers, in pure NumPy, following the documented update equations.

Computed for the tasks whose inputs are fully specified (explicit weights and hyper-parameters):
``linear.reference``, ``linear.shared_init`` and ``classifier.shared_init``, in float64 and float32. The
report says which environment lands closest to these. Conventions follow Keras:
- a training step reports the loss of its batch before the update;
- mean squared error and binary cross-entropy are means over the batch (BCE in its exact logits form);
- plain SGD: ``w -= lr * g``; Keras's SGD default learning rate is 0.01;
- Adam as Keras 2.11+ / 3 documents it: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
  ``w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`` with lr 0.001, b1 0.9, b2 0.999, eps 1e-7;
- an epoch's loss and accuracy are sample-weighted means over its batches; accuracy thresholds at 0.5.
"""

import numpy as np

from probe import tasks

SGD_DEFAULT_LEARNING_RATE = 0.01
ADAM = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}


def expected(dtype):
    """``{metric: value}`` for every oracle task, computed in ``dtype`` (``"float64"`` or ``"float32"``)."""
    dtype = np.dtype(dtype)
    zeros = [np.zeros((1, 1)), np.zeros((1,))]
    found = {}
    found.update(_linear("linear.reference.", zeros, 0.1, dtype))
    found.update(_linear("linear.shared_init.", tasks.shared_linear_weights(), SGD_DEFAULT_LEARNING_RATE, dtype))
    found.update(_classifier("classifier.shared_init.", dtype))
    return found


def recompute(task, final_arrays):
    """What ``task`` should report given the weights it ended with (``final_arrays``), in float64: the values
    that depend on the trained weights alone (``evaluate_loss``, ``val_loss``, ``val_accuracy`` of the
    classifier tasks), so that the host can tell a changed report from changed weights. Empty where the
    oracle cannot."""
    if not final_arrays or task not in ("classifier.defaults", "classifier.shared_init"):
        return {}
    x, y, x_val, y_val = (array.astype("float64") for array in tasks.classifier_data())
    params = [np.array(array, dtype="float64") for array in final_arrays]
    loss, _, _ = _forward_backward(params, x, y)
    val_loss, val_correct, _ = _forward_backward(params, x_val, y_val)
    return {task + ".evaluate_loss": float(loss), task + ".val_loss": float(val_loss),
            task + ".val_accuracy": float(val_correct) / len(x_val)}


def _linear(prefix, weights, learning_rate, dtype):
    x, y = (array.astype(dtype) for array in tasks.linear_data())
    w, b = (np.array(array, dtype=dtype).ravel()[0] for array in weights)
    lr, two = dtype.type(learning_rate), dtype.type(2)
    loss = None
    for _ in range(tasks.LINEAR_STEPS):
        error = w * x + b - y
        loss = np.mean(error ** 2)
        w, b = w - lr * two * np.mean(error * x), b - lr * two * np.mean(error)
    return {prefix + "w": float(w), prefix + "b": float(b), prefix + "loss": float(loss)}


def _classifier(prefix, dtype):
    x, y, x_val, y_val = (array.astype(dtype) for array in tasks.classifier_data())
    params = [np.array(array, dtype=dtype) for array in tasks.shared_classifier_weights()]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    hyper = dict((key, dtype.type(value)) for key, value in ADAM.items())
    one, step = dtype.type(1), 0
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for _ in range(tasks.CLASSIFIER_EPOCHS):
        losses, hits = [], []
        for start in range(0, len(x), tasks.CLASSIFIER_BATCH):
            xb, yb = x[start : start + tasks.CLASSIFIER_BATCH], y[start : start + tasks.CLASSIFIER_BATCH]
            loss, correct, grads = _forward_backward(params, xb, yb)
            losses.append(loss * len(xb))
            hits.append(correct)
            step += 1
            scale = hyper["learning_rate"] * np.sqrt(one - hyper["beta_2"] ** step) / (one - hyper["beta_1"] ** step)
            for p, m, v, g in zip(params, moments, squares, grads):
                m += (one - hyper["beta_1"]) * (g - m)
                v += (one - hyper["beta_2"]) * (g * g - v)
                p -= scale * m / (np.sqrt(v) + hyper["epsilon"])
        history["loss"].append(float(np.sum(losses) / len(x)))
        history["accuracy"].append(float(np.sum(hits) / len(x)))
        val_loss, val_correct, _ = _forward_backward(params, x_val, y_val)
        history["val_loss"].append(float(val_loss))
        history["val_accuracy"].append(float(val_correct) / len(x_val))
    found = dict((prefix + key, values[-1]) for key, values in history.items())
    found[prefix + "evaluate_loss"] = float(_forward_backward(params, x, y)[0])
    return found


def _forward_backward(params, x, y):
    """Mean BCE of the batch, the count of correct predictions, and the gradients of the mean BCE."""
    kernel1, bias1, kernel2, bias2 = params
    hidden_in = x.dot(kernel1) + bias1
    hidden = np.maximum(hidden_in, 0)
    logits = hidden.dot(kernel2) + bias2
    # log(1 + exp(z)) - y z, stable for both signs of z
    loss = np.mean(np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits))))
    probability = 1 / (1 + np.exp(-logits))
    correct = np.sum((probability > 0.5) == (y > 0.5))
    d_logits = (probability - y) / x.shape[0]
    d_hidden = d_logits.dot(kernel2.T) * (hidden_in > 0)
    grads = [x.T.dot(d_hidden), d_hidden.sum(axis=0), hidden.T.dot(d_logits), d_logits.sum(axis=0)]
    return loss, correct, [g.astype(x.dtype) for g in grads]
