"""Training in every Keras version's dialect, every step counted.

``train_on_batch``, a run of steps on one batch and ``fit`` go through these helpers, which count the
process's training steps and keep the running task's first step losses (both in
:data:`probe.state.STATE`: the probe divides a task's time by its steps, and the host names the step
where two environments' trajectories part) and tell :data:`probe.pace.PACE` of every step. Python
3.6-compatible on purpose: the probe runs in era-authentic interpreters.
"""

import inspect
import sys

import numpy as np

from probe import batch_order, overrides
from probe.frameworks import keras_major
from probe.pace import PACE
from probe.spelling import ARGUMENT_SPELLINGS, HISTORY_KEYS, first_scalar, listed, parameters, spell
from probe.state import STATE

# How many of the running task's first training steps keep their loss (``STATE.step_losses``); the runner
# empties it per task.
FIRST_STEPS = 20


def train_on_batch(model, x, y, counted=True):
    """One optimisation step; return the loss the library reports for it, as a Python float. A ``counted``
    step is one of the task's own: it adds to ``STATE.steps`` and ``STATE.step_losses``."""
    loss = first_scalar(model.train_on_batch(x, y))
    PACE.step()
    if counted:
        STATE.steps += 1
        note_step_loss(loss)
    return loss


def train_steps(keras, model, x, y, steps):
    """``steps`` more optimisation steps on the one batch ``(x, y)``, counted in ``STATE.steps``, their
    losses not kept. Before Keras 3 they run as one quiet ``fit`` over the batch repeated ``steps`` times,
    unshuffled: the same updates as as many :func:`train_on_batch` calls, bit for bit, without their
    per-call cost (about 6 ms a call in tf.keras 2, a Theano function check per call in Keras 2.0). Keras 3's
    ``train_on_batch`` costs less than a ``fit`` call, so there they stay single calls."""
    if keras_major(keras) >= 3:
        for _ in range(steps):
            train_on_batch(model, x, y, counted=False)
    elif steps:
        repeated = [np.concatenate([array] * steps) for array in (x, y)]
        model.fit(repeated[0], repeated[1], verbose=0, **spell(model.fit, batch_size=len(x), epochs=1, shuffle=False))
        PACE.step(steps)
    STATE.steps += steps


def note_step_loss(loss):
    """Keep a training step's loss while fewer than :data:`FIRST_STEPS` are kept for the running task."""
    if len(STATE.step_losses) < FIRST_STEPS:
        STATE.step_losses.append(float(loss))


def fit(model, x, y, validation_data, counter=None, **kwargs):
    """``fit`` quietly with only the given arguments (the rest stay library defaults), counting its
    batches with ``counter`` (a :func:`batch_counter` the caller reads afterwards) or a fresh one, keeping
    the loss of its first steps (``STATE.step_losses``) and the order it shuffled the samples in (replayed
    from another environment under that intervention: :mod:`probe.batch_order`).

    Returns the per-epoch history exactly as the library keyed it (``acc`` or ``accuracy``).
    """
    kwargs = overrides.take("fit.", kwargs)
    accepted = parameters(model.fit)
    if "show_accuracy" in accepted:
        kwargs["show_accuracy"] = True
    counter = counter or batch_counter(sys.modules[type(model).__module__.split(".")[0]])
    counter.samples = sample_count(x)
    declared = fit_signature_defaults(model)
    counter.batch_size = kwargs.get("batch_size") or declared.get("batch_size") or 32
    shuffle = kwargs.get("shuffle", declared.get("shuffle", True))
    try:
        with batch_order.watched(shuffle):
            history = model.fit(
                x, y, validation_data=validation_data, verbose=0, callbacks=[counter], **spell(model.fit, **kwargs)
            )
    finally:
        STATE.steps += counter.batches
    return dict((key, [float(value) for value in values]) for key, values in history.history.items())


def sample_count(x):
    """How many samples ``fit`` is given (the first array of a list or a dict of inputs)."""
    first = list(x.values())[0] if isinstance(x, dict) else listed(x)[0]
    return len(first) if hasattr(first, "__len__") else None


def canonical_history(history):
    """History with the later key names (``accuracy``, ``val_accuracy``)."""
    return dict((HISTORY_KEYS.get(key, key), values) for key, values in history.items())


def batch_counter(keras):
    """A callback counting the batches ``fit`` runs (the same hook name from Keras 0.3 to 3) and noting
    each step's loss (:func:`note_step_loss`)."""

    class BatchCounter(keras.callbacks.Callback):
        def __init__(self):
            super(BatchCounter, self).__init__()
            self.batches = 0
            # The largest batch fit() ran, where the library reports batch sizes (Keras up to 2.3 does).
            self.largest_batch = None
            self.samples, self.batch_size = None, 32  # set by fit
            self._mean = 0.0

        def on_batch_end(self, batch, logs=None):
            self.batches += 1
            PACE.step()
            logs = logs or {}
            size = logs.get("size")
            if size is not None:
                self.largest_batch = max(int(size), self.largest_batch or 0)
            if "loss" in logs:
                note_step_loss(self._step_loss(batch, float(logs["loss"]), size))

        def _step_loss(self, batch, loss, size):
            """Keras up to 2.3 reports each batch's own loss (beside its ``size``); tf.keras 2 and Keras 3
            report the mean over the epoch so far, weighted by batch size: undone from the batch sizes."""
            if size is not None or not self.samples:
                return loss
            done = batch * self.batch_size
            this = min(self.batch_size, self.samples - done)
            before, self._mean = self._mean if batch else 0.0, loss
            return ((done + this) * loss - done * before) / this

    return BatchCounter()


def fit_signature_defaults(model):
    """The defaults ``fit`` declares for batch size, epochs and shuffle (``None`` where it declares none)."""
    try:
        declared = inspect.signature(model.fit).parameters
    except (TypeError, ValueError):
        return {}
    found = {}
    for canonical in ("batch_size", "epochs", "shuffle"):
        for name in ARGUMENT_SPELLINGS.get(canonical, (canonical,)):
            if name in declared and declared[name].default is not inspect.Parameter.empty:
                found[canonical] = declared[name].default
                break
    return found
