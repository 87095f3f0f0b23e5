"""Numbers of arrays and the backend: the stable statistics recorded of every output, conversions to
and from backend tensors, the gradient with respect to an input, and one entry's time cap."""

import contextlib
import signal
import threading
import time

import numpy as np

from probe import frameworks
from probe.frameworks import NotApplicable
from probe.sweep.tables import CHECKSUM_SEED, STATISTICS

# -- numbers ----------------------------------------------------------------------------------------------


def checksum_weights(size):
    """The fixed weights of a checksum over ``size`` values (they depend on the size only)."""
    return np.random.RandomState(CHECKSUM_SEED).uniform(-1, 1, size=size)


def statistics(array, names=STATISTICS):
    """The stable statistics of an array: ``names`` of mean, std, min, max, and ``checksum`` (a sum
    weighted by :func:`checksum_weights`: a value that moves moves it, where a permutation keeps the mean)."""
    values = np.asarray(array, dtype="float64").ravel()
    if values.size == 0:
        return {}
    measures = {"mean": lambda: values.mean(), "std": lambda: values.std(), "min": lambda: values.min(),
                "max": lambda: values.max(), "checksum": lambda: np.dot(values, checksum_weights(values.size))}
    return dict((name, float(measures[name]())) for name in names)


def described(prefix, value, names=STATISTICS):
    """``{prefix.what: number}`` for a result: itself where it is one number, else its shape (a string),
    dtype and statistics; a list of results each under ``prefix[k]``."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return described(prefix, value[0], names)
        found = {}
        for index, item in enumerate(value):
            found.update(described("%s[%d]" % (prefix, index), item, names))
        return found
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        return {prefix + ".shape": "x".join(str(size) for size in array.shape), prefix + ".dtype": str(array.dtype)}
    if array.size == 1 and array.ndim == 0:
        return {prefix: float(array)}
    found = {prefix + ".shape": "x".join(str(size) for size in array.shape), prefix + ".dtype": str(array.dtype)}
    found.update((prefix + "." + name, number) for name, number in statistics(array, names).items())
    return found


# -- the backend ------------------------------------------------------------------------------------------


def to_array(keras, value):
    """A backend tensor, variable or NumPy value as a NumPy array (a symbolic tensor evaluated)."""
    ops = getattr(keras, "ops", None)
    if ops is not None and hasattr(ops, "convert_to_numpy"):
        return np.asarray(ops.convert_to_numpy(value))
    if isinstance(value, np.ndarray) or np.isscalar(value):
        return np.asarray(value)
    if hasattr(value, "numpy") and frameworks.eager(keras):  # a TF 1 variable has numpy() too, which raises
        return np.asarray(value.numpy())
    return np.asarray(keras.backend.eval(value))


def to_tensor(keras, array):
    """A NumPy array as a backend tensor (a constant where the backend is a graph)."""
    ops = getattr(keras, "ops", None)
    if ops is not None and hasattr(ops, "convert_to_tensor"):
        return ops.convert_to_tensor(array)
    constant = getattr(keras.backend, "constant", None)
    return constant(array) if constant is not None else keras.backend.variable(array)


def flat_outputs(value):
    """A layer's output as a list of tensors (one output, a tuple or list of them, a dict by sorted key)."""
    if isinstance(value, dict):
        return [item for key in sorted(value) for item in flat_outputs(value[key])]
    if isinstance(value, (list, tuple)):
        return [item for part in value for item in flat_outputs(part)]
    return [value]


def input_gradient(keras, function, inputs, output_shapes):
    """The gradients of ``sum(output * checksum_weights)`` over the outputs of ``function(tensors)`` with
    respect to each of ``inputs`` (NumPy float arrays), as NumPy arrays; :class:`NotApplicable` where the
    backend is none of JAX, TensorFlow (eager) and torch."""
    backend = frameworks.backend_name(keras)
    weights = [checksum_weights(int(np.prod(shape))).reshape(shape).astype("float32") for shape in output_shapes]
    if backend == "jax":
        import jax

        scope = getattr(keras, "StatelessScope", None) or _no_scope

        def scalar(tensors):
            with scope():  # a seed a layer draws even in inference mode stays in the trace (else it leaks into the layer)
                outputs = flat_outputs(function(list(tensors)))
                return sum(jax.numpy.sum(jax.numpy.asarray(output) * weight) for output, weight in zip(outputs, weights))

        arrays = [jax.numpy.asarray(array) for array in inputs]
        try:  # compiled once: op by op, the backward pass cost 0.2 to 2 s a layer, compiled 0.03 to 0.4 s
            gradients = jax.jit(jax.grad(scalar))(arrays)
        except Exception:  # what cannot be traced (a Python branch on a value) is differentiated op by op
            gradients = jax.grad(scalar)(arrays)
        return [np.asarray(gradient) for gradient in gradients]
    if backend == "tensorflow" and frameworks.eager(keras):
        import tensorflow as tf

        tensors = [tf.constant(array) for array in inputs]
        with tf.GradientTape() as tape:
            for tensor in tensors:
                tape.watch(tensor)
            outputs = flat_outputs(function(tensors))
            total = tf.add_n([tf.reduce_sum(tf.cast(output, "float32") * weight) for output, weight in zip(outputs, weights)])
        return [np.asarray(gradient) for gradient in tape.gradient(total, tensors)]
    if backend == "torch":
        import torch

        tensors = [torch.tensor(array, requires_grad=True) for array in inputs]
        outputs = flat_outputs(function(tensors))
        total = sum((output.float() * torch.as_tensor(weight, device=output.device)).sum() for output, weight in zip(outputs, weights))
        total.backward()
        return [tensor.grad.detach().cpu().numpy() for tensor in tensors]
    raise NotApplicable("no gradient with respect to the input on %s here" % backend)


@contextlib.contextmanager
def _no_scope():
    yield


@contextlib.contextmanager
def time_cap(seconds):
    """Raise :class:`EntryTimeout` in the block once ``seconds`` have passed (between Python bytecodes: a
    native call finishes first). Where the task's own budget (an interval timer already running) ends
    sooner, that one is left to fire; otherwise it is paused meanwhile and restarted with what it had left."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer and outer <= seconds:
        yield
        return
    started = time.time()
    previous = signal.signal(signal.SIGALRM, _entry_over)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.time() - started), 0.001))


class EntryTimeout(BaseException):
    """An entry ran past :data:`ENTRY_CAP_S`. A BaseException, so no ``except Exception`` in a library
    swallows it."""


def _entry_over(signum, frame):
    raise EntryTimeout()


def one_line(exc):
    """An exception as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return ("%s: %s" % (type(exc).__name__, text[0]) if text else type(exc).__name__)[:300]
