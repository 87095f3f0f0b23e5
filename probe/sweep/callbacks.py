"""Callbacks, driven as ``fit()`` drives them, with scripted logs.

A callback decides from what ``fit()`` logs at the end of each epoch: when to stop, which weights to keep,
which checkpoint to write, what learning rate comes next. Training a real model would make those logs
depend on everything else that drifts; instead the sweep builds a one-weight model, marks its weights with
the epoch (kernel = epoch + 1), and calls the callback's hooks in ``fit()``'s order with the logs of
:data:`probe.sweep.tables.CALLBACK_LOSSES` (:func:`logs_of`), twice with the same callback (a user who
calls ``fit()`` again reuses it: what it keeps from the first run shows in the second). What it records,
per run (``fit#1.``, ``fit#2.``):

- ``epoch(<k>).learning_rate``: the optimizer's learning rate after each epoch's hooks;
- ``stopped_at``: the epoch after which the callback asked training to stop (-1: never);
- ``kept``: the epoch whose weights the model holds once training ends (restored best weights show here);
- ``checkpoint``: the epoch whose weights a file the callback wrote holds (``ModelCheckpoint``).

Files a callback writes go to a scratch folder beside the result (:attr:`Settings.scratch`), its working
folder while it runs, removed afterwards.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

import contextlib
import os
import shutil

import numpy as np

from probe.models import model_of
from probe.optimizers import optimizer
from probe.sweep.arrays import to_array
from probe.sweep.selection import SETTINGS
from probe.sweep.tables import CALLBACK_LEARNING_RATE, CALLBACK_LOSSES, REQUIRED


def logs_of(loss, val_loss):
    """An epoch's logs: its losses, and accuracies that move with them."""
    return {"loss": loss, "val_loss": val_loss, "accuracy": 1 - loss / 2, "val_accuracy": 1 - val_loss / 2}


def marked_model(keras):
    """A compiled one-weight model (``Dense(1)`` on one input) with SGD at :data:`CALLBACK_LEARNING_RATE`."""
    model = model_of(keras, lambda first: [keras.layers.Dense(1, **first)], (1,))
    model.compile(optimizer=optimizer(keras, "SGD", learning_rate=CALLBACK_LEARNING_RATE), loss="mse")
    return model


def mark(model, epoch):
    """The model's weights say which epoch they are from: kernel ``epoch + 1``, bias 0."""
    model.set_weights([np.full((1, 1), epoch + 1.0, "float32"), np.zeros((1,), "float32")])


def marker(weights):
    """The epoch a set of marked weights is from (-1 where they are not marked)."""
    value = float(np.asarray(weights[0]).ravel()[0])
    return int(round(value)) - 1 if value >= 1 else -1


def learning_rate(keras, model):
    """The optimizer's current learning rate, as a float."""
    optimizer = model.optimizer
    value = getattr(optimizer, "learning_rate", None)
    if value is None:
        value = optimizer.lr
    return float(to_array(keras, value))


@contextlib.contextmanager
def scratch_folder():
    """A fresh scratch folder (beside the result file), the working folder meanwhile; removed afterwards."""
    folder = SETTINGS.scratch
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(before)
        shutil.rmtree(folder, ignore_errors=True)


def run_callback(keras, entry):
    """The callback's hooks in ``fit()``'s order over :data:`CALLBACK_LOSSES`, twice with the same callback
    and model, as a user who calls ``fit()`` again does (``fit#1.*``, ``fit#2.*``: see the module)."""
    with scratch_folder():
        model = marked_model(keras)
        callback = entry.call.make(keras)
        callback.set_model(model)
        callback.set_params({"epochs": len(CALLBACK_LOSSES), "steps": 1, "samples": 1, "verbose": 0,
                             "metrics": sorted(logs_of(0.0, 0.0))})
        found = {}
        for run in (1, 2):
            found.update(("fit#%d.%s" % (run, what), value) for what, value in drive(keras, callback, model).items())
    return found, {}


def drive(keras, callback, model):
    """One ``fit()``'s calls of the callback's hooks, the weights marking each epoch: the learning rate
    after each epoch, the epoch it stopped after, the epoch whose weights are kept, the one a checkpoint holds."""
    model.stop_training = False
    found = {"stopped_at": -1}
    callback.on_train_begin({})
    for epoch, (loss, val_loss) in enumerate(CALLBACK_LOSSES):
        logs = logs_of(loss, val_loss)
        mark(model, epoch)
        callback.on_epoch_begin(epoch, {})
        _batch(callback, "begin", {})
        _batch(callback, "end", {"loss": loss})
        callback.on_epoch_end(epoch, logs)
        found["epoch(%d).learning_rate" % epoch] = learning_rate(keras, model)
        if model.stop_training:
            found["stopped_at"] = epoch
            break
    callback.on_train_end({})
    found["kept"] = marker(model.get_weights())
    checkpoint = REQUIRED["filepath"]
    if os.path.isfile(checkpoint):
        fresh = marked_model(keras)
        fresh.load_weights(checkpoint)
        found["checkpoint"] = marker(fresh.get_weights())
    return found


def _batch(callback, when, logs):
    """``on_train_batch_<when>`` where the version has it, else ``on_batch_<when>`` (Keras 2.2 and older)."""
    hook = getattr(callback, "on_train_batch_" + when, None) or getattr(callback, "on_batch_" + when)
    hook(0, logs)
