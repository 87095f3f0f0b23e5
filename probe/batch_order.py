"""The order in which ``fit`` visits its samples: recorded, and replayed from another environment.

``fit()`` shuffles array inputs every epoch with the backend's own generator, so two environments that
start from the same weights still train on other batches: Keras 3 on JAX and NumPy draws
``np.random.permutation`` (Keras 1 to 2.3 ``np.random.shuffle`` of an index array), on TensorFlow
(tf.keras 2 and Keras 3) ``tf.random.shuffle`` inside its ``tf.data`` pipeline, on PyTorch a
``RandomSampler`` (``torch.randperm``). Each draw is a permutation of the training samples' indices for one epoch, cut into
consecutive batches, so the order one side used means the same to the other.

While a ``fit`` runs (:func:`watched`), those draws pass through here: each permutation is noted in order
(``STATE.batch_orders``; the runner records them in the task's facts, :func:`facts`), and where an
intervention replays another environment's (the override ``batch_order``: its permutations in order), the
draw is made as usual (the generator's state moves on as it would) and the replayed permutation is returned
instead. ``shuffle="batch"`` (shuffling within batches) is left alone: its draws mean other things on each
backend. Data a script passes as a dataset or generator shuffle as that object says: not replayed.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

import contextlib
import hashlib
import sys

import numpy as np

from probe import overrides
from probe.state import STATE

KEY = "batch_order"  # the override that replays another environment's order, and the facts' summary
# Orders up to this many indices in all (every epoch of every fit of a task) are recorded whole, so another
# environment can replay them; larger ones only by their checksum.
REPLAYABLE_INDICES = 100000  # about 600 KB of JSON in the result


@contextlib.contextmanager
def watched(shuffle=True):
    """The block (one ``fit`` call) with the backend's shuffling draws noted and, under the override
    ``batch_order``, replayed; ``shuffle`` is ``fit``'s argument (``"batch"`` and false values: not watched)."""
    if not shuffle or shuffle == "batch" or STATE.watching_batch_order:
        yield
        return
    patched = _patch_numpy() + _patch_torch() + _patch_tensorflow()
    STATE.watching_batch_order = True
    try:
        yield
    finally:
        STATE.watching_batch_order = False
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


def facts():
    """What the running task's ``fit`` calls drew: ``{"batch_order": summary, "batch_orders": [[...], ...]}``,
    the permutations themselves only where they are small enough to replay; empty when nothing was shuffled."""
    orders = STATE.batch_orders
    if not orders:
        return {}
    digest = hashlib.sha256(b"".join(np.asarray(order, dtype="int64").tobytes() for order in orders)).hexdigest()
    found = {KEY: {"sha256": digest[:16], "draws": len(orders), "samples": sorted(set(len(order) for order in orders)),
                   "head": [int(index) for index in orders[0][:5]]}}
    if sum(len(order) for order in orders) <= REPLAYABLE_INDICES:
        found["batch_orders"] = [[int(index) for index in order] for order in orders]
    return found


def _noted(drawn):
    """The permutation ``fit`` gets for one epoch: the draw, or the replayed one of the same length that is
    next in order; noted either way."""
    drawn = np.asarray(drawn)
    replayed = overrides.value(KEY)
    served = len(STATE.batch_orders)
    if replayed is not None and served < len(replayed) and len(replayed[served]) == len(drawn):
        drawn = np.asarray(replayed[served], dtype=drawn.dtype)
        overrides.applied(KEY)
    STATE.batch_orders.append([int(index) for index in drawn])
    return drawn


def _building():
    """Whether the draw is Keras 3's ``_symbolic_build`` taking one batch to build the model (on JAX and
    PyTorch it draws an epoch's permutation for that, then starts over): a draw, not an order fit trains in."""
    frame = sys._getframe(2)
    for _ in range(30):
        if frame is None:
            return False
        if frame.f_code.co_name == "_symbolic_build":
            return True
        frame = frame.f_back
    return False


def _is_index_permutation(array):
    array = np.asarray(array)
    return array.ndim == 1 and array.dtype.kind in "iu" and len(array) > 1 and bool((np.sort(array) == np.arange(len(array))).all())


def _patch_numpy():
    """``np.random.permutation(n)`` (Keras 3 on JAX, NumPy) and ``np.random.shuffle`` of an index array in
    place (Keras 1 to 2.3)."""
    module = np.random
    permutation, shuffle = module.permutation, module.shuffle

    def watched_permutation(x, *args, **kwargs):
        drawn = permutation(x, *args, **kwargs)
        return _noted(drawn) if isinstance(x, (int, np.integer)) and x > 1 and not _building() else drawn

    def watched_shuffle(x, *args, **kwargs):
        shuffle(x, *args, **kwargs)
        if isinstance(x, np.ndarray) and _is_index_permutation(x):
            x[...] = _noted(x)

    module.permutation, module.shuffle = watched_permutation, watched_shuffle
    return [(module, "permutation", permutation), (module, "shuffle", shuffle)]


def _patch_torch():
    """PyTorch's ``RandomSampler`` (Keras 3's on PyTorch), where PyTorch is loaded: each iteration is one
    epoch's order. Its ``torch.randperm`` draws are made as usual, then the order it yields is noted (a draw
    it makes and discards, the empty remainder of ``num_samples % n``, is not an order)."""
    data = getattr(getattr(sys.modules.get("torch"), "utils", None), "data", None)
    sampler = getattr(data, "RandomSampler", None)
    if sampler is None:
        return []
    iterate = sampler.__iter__

    def watched_iter(self):
        order = list(iterate(self))
        if not self.replacement and _is_index_permutation(np.asarray(order)) and not _building():
            order = [int(index) for index in _noted(np.asarray(order))]
        return iter(order)

    sampler.__iter__ = watched_iter
    return [(sampler, "__iter__", iterate)]


def _patch_tensorflow():
    """``tf.random.shuffle`` of the index vector, where TensorFlow is loaded (tf.keras 2 and Keras 3 on
    TensorFlow call it in a ``tf.data`` map): the drawn tensor passes through :func:`_noted` by
    ``tf.numpy_function``. Every loaded TensorFlow module that holds the function (``tf.random``,
    ``tf.compat.v2.random``...) gets the wrapper: each door looks it up where it imported TensorFlow."""
    random = sys.modules.get("tensorflow.random") or getattr(sys.modules.get("tensorflow"), "random", None)
    original = getattr(random, "shuffle", None)
    if original is None:
        return []
    tf = sys.modules["tensorflow"]

    def watched_shuffle(value, *args, **kwargs):
        drawn = original(value, *args, **kwargs)
        if drawn.shape.rank != 1 or not drawn.dtype.is_integer:
            return drawn
        passed = tf.numpy_function(lambda array: _noted(array) if _is_index_permutation(array) else array, [drawn], drawn.dtype)
        passed.set_shape(drawn.shape)
        return passed

    owners = [module for name, module in list(sys.modules.items())
              if name.startswith("tensorflow") and module is not None and getattr(module, "shuffle", None) is original]
    for owner in owners:
        owner.shuffle = watched_shuffle
    return [(owner, "shuffle", original) for owner in owners]
