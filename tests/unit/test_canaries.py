"""Every canary family on the newest Keras (3.15 on JAX, a real environment), and the targeted sweep's
activations and losses that replaced the activation and loss canaries, against values computed here with
NumPy from the documented formulas: never against numbers copied from a run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import PROJECT_ROOT

from keras_drift.envs.specs import load_spec
from keras_drift.execute.runner import ProbeSettings, run_environment

pytestmark = [pytest.mark.e2e, pytest.mark.network]
FAMILIES = ("loss.*", "metric.*", "optimizer.*", "recurrent.*", "batchnorm.*", "resizing.*", "dtype.*", "sweep.activations", "sweep.losses")
POINTS = (-1000.0, -20.0, -3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0, 20.0, 1000.0)  # the sweep's, two rows of six
EPSILON = 1e-7  # Keras's fuzz factor, clipping probabilities in the cross-entropies


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    work = tmp_path_factory.mktemp("canaries")
    spec = load_spec(PROJECT_ROOT / "envs" / "keras-3.15-jax.toml")
    found = run_environment(spec, work / "run", PROJECT_ROOT, work / "venvs", ProbeSettings(tasks=FAMILIES))
    assert found["status"] == "ok" and not found["errors"], (found.get("reason"), found["errors"], found.get("log_tail"))
    return found


def metric(result, name):
    return result["metrics"][name]


def close(value, expected, rtol=1e-5, atol=1e-6):
    return value == pytest.approx(expected, rel=rtol, abs=atol)


# -- activations -------------------------------------------------------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -700, 700)))


ACTIVATIONS = {
    "sigmoid": sigmoid,
    "hard_sigmoid": lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,  # Keras 3: relu6(x + 3) / 6
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0.0))),
    "silu": lambda x: x * sigmoid(x),  # swish is the same function in Keras 3: the sweep names it once
    "gelu": lambda x: 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0))),  # exact: approximate=False
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_at_fixed_points(result, name):
    x = np.array(POINTS)
    for point, expected in zip(POINTS, ACTIVATIONS[name](x), strict=True):
        assert close(metric(result, f"sweep.activations.{name}(x).at({point:g})"), expected), (name, point)


def test_softmax_of_each_row_including_saturated_ones(result):
    for row in np.array(POINTS).reshape(2, 6):
        shifted = np.exp(row - row.max())
        for point, expected in zip(row, shifted / shifted.sum(), strict=True):
            assert close(metric(result, f"sweep.activations.softmax(x).at({point:g})"), expected), point


# -- losses and metrics --------------------------------------------------------------------------------

RANK1 = (np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.1, 0.8, 0.4, 0.0]))
ONE_HOT = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
PROBABILITIES = np.array([[0.0, 0.3, 0.7], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [1.0, 0.0, 0.0]])  # exact 0 and 1
SAMPLE_WEIGHT = np.array([1.0, 0.5, 2.0, 0.0])


def binary_crossentropy(y, p):
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_losses_on_fixed_predictions(result):
    def loss(name, case):
        return metric(result, f"sweep.losses.{name}().{case}")

    assert close(loss("BinaryCrossentropy", "rank1.unweighted"), binary_crossentropy(*RANK1).mean(), rtol=1e-4)
    per_row = binary_crossentropy(ONE_HOT, PROBABILITIES).mean(axis=1)
    assert close(loss("BinaryCrossentropy", "rank2.unweighted"), per_row.mean(), rtol=1e-4)
    # sum_over_batch_size: a zero-weight sample still counts in the denominator (4), not only the weighted ones
    assert close(loss("BinaryCrossentropy", "rank2.sample_weight"), np.sum(SAMPLE_WEIGHT * per_row) / 4, rtol=1e-4)
    crossentropy = -np.sum(ONE_HOT * np.log(np.clip(PROBABILITIES, EPSILON, 1 - EPSILON)), axis=1)  # rows sum to 1 already
    assert close(loss("CategoricalCrossentropy", "rank2.unweighted"), crossentropy.mean(), rtol=1e-4)
    assert close(loss("SparseCategoricalCrossentropy", "sparse_rank1.unweighted"), crossentropy.mean(), rtol=1e-4)
    squared = ((ONE_HOT - PROBABILITIES) ** 2).mean(axis=1)
    assert close(loss("MeanSquaredError", "rank1.unweighted"), np.mean((RANK1[0] - RANK1[1]) ** 2))
    assert close(loss("MeanSquaredError", "rank2.unweighted"), squared.mean())
    assert close(loss("MeanSquaredError", "rank2.sample_weight"), np.sum(SAMPLE_WEIGHT * squared) / 4)


def test_a_masked_sequence_loss_averages_over_the_unmasked_steps_only(result):
    x = np.array([[1.0, 2.0, 0.0, 0.0], [3.0, 1.0, 2.0, 0.0]])  # zeros are padding
    y = np.array([[2.0, 2.0, 9.0, 9.0], [1.0, 1.0, 1.0, 9.0]])
    kept = x != 0
    assert close(metric(result, "loss.masked.mse"), np.sum(((x - y) ** 2)[kept]) / kept.sum())  # 6 / 5


def test_two_outputs_report_each_loss_and_metric_and_the_weighted_total(result):
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [-1.0, 1.0]])
    regression, decision = x.dot([1.0, -1.0]), sigmoid(x.dot([0.5, 0.5]))
    y_regression, y_decision = np.array([1.0, 0.0, 0.0, -1.0]), np.array([1.0, 0.0, 1.0, 0.0])
    mse = np.mean((regression - y_regression) ** 2)
    bce = np.mean(-(y_decision * np.log(decision) + (1 - y_decision) * np.log(1 - decision)))
    expected = [mse + 0.5 * bce, mse, bce, np.mean(np.abs(regression - y_regression)), np.mean((decision > 0.5) == y_decision)]
    found = [metric(result, f"metric.two_outputs.evaluate[{index}]") for index in range(len(expected))]
    assert sorted(found) == pytest.approx(sorted(expected), rel=1e-5)
    assert metric(result, "metric.two_outputs.history_keys") == "decision_accuracy,decision_loss,loss,regression_loss,regression_mae"


def test_accuracy_resolves_by_output_shape(result):
    assert metric(result, "metric.accuracy.binary") == pytest.approx(3 / 4)  # threshold 0.5 on one column
    assert metric(result, "metric.accuracy.categorical") == pytest.approx(2 / 3)  # argmax
    # three sigmoid columns: Keras 3 takes the argmax too (element-wise thresholding would give 4/6)
    predicted, true = np.array([[0.9, 0.2, 0.4], [0.6, 0.7, 0.1]]), np.array([[1, 0, 1], [0, 1, 0]])
    assert metric(result, "metric.accuracy.multilabel") == pytest.approx(np.mean(predicted.argmax(1) == true.argmax(1)))


# -- optimizers ------------------------------------------------------------------------------------------


def problem():
    rng = np.random.RandomState(11)
    x = rng.normal(size=(8, 3)).astype("float32").astype("float64")
    y = x.dot([[1.0], [2.0], [-1.0]]) + 0.5
    return x, y, [np.array([[0.5], [-0.3], [0.2]]), np.array([0.1])]


def gradient(x, y, kernel, bias):
    error = x.dot(kernel) + bias - y
    return [2.0 / len(x) * x.T.dot(error), 2.0 / len(x) * error.sum(axis=0)]


def sgd(lr=0.01):
    def step(t, w, g, state):
        return w - lr * g
    return step


def adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    def step(t, w, g, state):
        m, v = state.setdefault("m", np.zeros_like(w)), state.setdefault("v", np.zeros_like(w))
        m[...] = m + (g - m) * (1 - b1)
        v[...] = v + (g * g - v) * (1 - b2)
        return w - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    return step


def rmsprop(lr=0.001, rho=0.9, eps=1e-7):
    def step(t, w, g, state):
        v = state.setdefault("v", np.zeros_like(w))
        v[...] = rho * v + (1 - rho) * g * g
        return w - lr * g / np.sqrt(v + eps)
    return step


def adagrad(lr=0.001, eps=1e-7, initial=0.1):
    def step(t, w, g, state):
        accumulator = state.setdefault("a", np.full_like(w, initial))
        accumulator += g * g
        return w - lr * g / np.sqrt(accumulator + eps)
    return step


def adadelta(lr=0.001, rho=0.95, eps=1e-7):
    def step(t, w, g, state):
        grads, deltas = state.setdefault("g", np.zeros_like(w)), state.setdefault("d", np.zeros_like(w))
        grads[...] = rho * grads + (1 - rho) * g * g
        delta = -np.sqrt(deltas + eps) * g / np.sqrt(grads + eps)
        deltas[...] = rho * deltas + (1 - rho) * delta * delta
        return w + lr * delta
    return step


def adamax(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    def step(t, w, g, state):
        m, u = state.setdefault("m", np.zeros_like(w)), state.setdefault("u", np.zeros_like(w))
        m[...] = m + (g - m) * (1 - b1)
        u[...] = np.maximum(b2 * u, np.abs(g))
        return w - lr * m / ((1 - b1 ** t) * (u + eps))
    return step


def nadam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    def step(t, w, g, state):  # Dozat's Nadam with Keras's momentum schedule, as the Keras docs state it
        u_t, u_next = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        product = state["product"] = state.get("product", 1.0) * u_t
        m, v = state.setdefault("m", np.zeros_like(w)), state.setdefault("v", np.zeros_like(w))
        m[...] = m + (g - m) * (1 - b1)
        v[...] = v + (g * g - v) * (1 - b2)
        m_hat = u_next * m / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
        return w - lr * m_hat / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return step


# Each rule's keyword defaults are Keras 3.15's documented ones (keras.io/api/optimizers): learning rate 0.01
# for SGD, 0.001 for the rest, epsilon 1e-7, rho 0.9 (RMSprop) and 0.95 (Adadelta), Adagrad's accumulators at 0.1.
RULES = {"SGD": sgd(), "Adam": adam(), "RMSprop": rmsprop(), "Adagrad": adagrad(), "Adadelta": adadelta(), "Adamax": adamax(), "Nadam": nadam()}


@pytest.mark.parametrize("name", sorted(RULES))
def test_each_update_rule_with_the_documented_defaults(result, name):
    x, y, start = problem()
    weights, states = start, [{}, {}]
    for t in range(1, 6):
        grads = gradient(x, y, *weights)
        weights = [RULES[name](t, w, g, state) for w, g, state in zip(weights, grads, states, strict=True)]
    found = [metric(result, f"optimizer.defaults.{name}.w{index}") for index in range(3)] + [metric(result, f"optimizer.defaults.{name}.b")]
    expected, initial = np.concatenate([weights[0].ravel(), weights[1]]), np.concatenate([start[0].ravel(), start[1]])
    assert np.allclose(found, expected, rtol=1e-4, atol=1e-6), name
    # the distance travelled too: at a learning rate of 0.001 (Adadelta moves by about 1e-6 a step) the weights
    # alone would pass for any rule that barely moves them
    assert np.allclose(np.array(found) - initial, expected - initial, rtol=2e-2, atol=1e-7), name


# -- recurrent, normalisation, resizing, dtype -----------------------------------------------------------


def recurrent_weights(shapes):
    rng = np.random.RandomState(11 + 2)
    return [rng.uniform(-0.5, 0.5, size=shape).astype("float32").astype("float64") for shape in shapes]


def test_recurrent_layers_from_the_same_weights(result):
    x = np.random.RandomState(12).uniform(-1, 1, size=(2, 4, 2)).astype("float32").astype("float64")
    units = 3
    kernel, recurrent, bias = recurrent_weights([(2, units), (units, units), (units,)])
    h = np.zeros((2, units))
    for t in range(4):
        h = np.tanh(x[:, t].dot(kernel) + h.dot(recurrent) + bias)
    expected = {"simplernn": h}
    kernel, recurrent, bias = recurrent_weights([(2, 4 * units), (units, 4 * units), (4 * units,)])
    h, c = np.zeros((2, units)), np.zeros((2, units))
    for t in range(4):
        z = x[:, t].dot(kernel) + h.dot(recurrent) + bias
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    expected["lstm"] = h
    kernel, recurrent, bias = recurrent_weights([(2, 3 * units), (units, 3 * units), (2, 3 * units)])  # reset_after: two biases
    h = np.zeros((2, units))
    for t in range(4):
        xz, hz = x[:, t].dot(kernel) + bias[0], h.dot(recurrent) + bias[1]
        z = sigmoid(xz[:, :units] + hz[:, :units])
        r = sigmoid(xz[:, units:2 * units] + hz[:, units:2 * units])
        candidate = np.tanh(xz[:, 2 * units:] + r * hz[:, 2 * units:])
        h = z * h + (1 - z) * candidate
    expected["gru"] = h
    for layer, output in expected.items():
        for index, value in enumerate(output.ravel()):  # Keras 3's defaults: tanh, a sigmoid recurrent activation, reset_after
            assert close(metric(result, f"recurrent.defaults.{layer}[{index}]"), value), (layer, index)
    assert result["introspection"]["defaults"]["gru.reset_after"] is True
    assert result["introspection"]["defaults"]["lstm.recurrent_activation"] == "sigmoid"


def test_batchnorm_moving_statistics(result):
    x = np.random.RandomState(11 + 3).normal(2.0, 3.0, size=(6, 4)).astype("float32").astype("float64")
    momentum = 0.99
    for index in range(2):
        assert close(metric(result, f"batchnorm.train_step.moving_mean[{index}]"), (1 - momentum) * x[:, index].mean())
        assert close(metric(result, f"batchnorm.train_step.moving_variance[{index}]"), momentum + (1 - momentum) * x[:, index].var())
        # frozen (trainable=False) inside fit(): it runs in inference mode, its statistics stay at 0 and 1
        assert metric(result, f"batchnorm.frozen.moving_mean[{index}]") == 0.0
        assert metric(result, f"batchnorm.frozen.moving_variance[{index}]") == 1.0


def test_upsampling_nearest_and_bilinear(result):
    image = np.array([[1.0, 2.0], [3.0, 4.0]])
    nearest = image.repeat(2, axis=0).repeat(2, axis=1)
    # half-pixel centres: output pixel i samples input coordinate (i + 0.5) / 2 - 0.5, clamped at the edges
    coordinates = np.clip((np.arange(4) + 0.5) / 2 - 0.5, 0, 1)
    low = np.minimum(np.floor(coordinates).astype(int), 0)  # a 2-pixel axis: always between pixel 0 and 1
    weight = coordinates - low
    rows = image[low] * (1 - weight)[:, None] + image[np.minimum(low + 1, 1)] * weight[:, None]
    bilinear = rows[:, low] * (1 - weight)[None, :] + rows[:, np.minimum(low + 1, 1)] * weight[None, :]
    for method, expected in (("nearest", nearest), ("bilinear", bilinear)):
        for index, value in enumerate(expected.ravel()):
            assert close(metric(result, f"resizing.upsampling.{method}[{index}]"), value), (method, index)


def test_float64_input_comes_out_float32(result):
    x = np.array([[1.0 / 3.0, 2.0 / 3.0, 1.0]]).astype("float32").astype("float64")
    expected = x.dot([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]) + np.array([0.01, -0.02])
    assert metric(result, "dtype.float64_input.dtype") == "float32"
    for index, value in enumerate(expected.ravel()):
        assert close(metric(result, f"dtype.float64_input.out[{index}]"), value)


def test_canaries_run_once_and_declare_themselves(result):
    tasks = result["tasks"]
    assert {name.split(".")[0] for name in tasks} == {pattern.split(".")[0] for pattern in FAMILIES}
    assert all(task["status"] == "ok" and task["doc"] for task in tasks.values())
    assert not any(key.startswith("optimizer.defaults") for key in result["noise"])  # not repeated: no noise claimed
