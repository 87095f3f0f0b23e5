"""The pace of training: a task far slower per step than any release should be is cut short, measured.

Keras 3.3 on TensorFlow 2.16 retraces its training function on every ``train_on_batch`` call, and the
seed linear fit took 620 s (about 2 s elsewhere) before a task timeout failed it, with nothing learnt.
:data:`PACE` watches the running task's training steps (the training helpers of :mod:`probe.training`
tell it each one) and raises :class:`SlowTask` with what the steps so far measured; the library's warnings
are kept meanwhile (:func:`listen_for_warnings`), so the cut names the last one (TensorFlow's retracing
warning says why it is slow). :func:`deadline` is the hard limit beside it, of a task (``--task-timeout``) or a
load attempt of a saved model. Python 3.6-compatible on purpose: the probe runs in era-authentic interpreters.
"""

import contextlib
import logging
import signal
import time
import warnings

from probe.state import STATE


class TaskTimeout(BaseException):
    """A task (or a load of a saved model) ran past its time limit. A BaseException, so that no
    ``except Exception`` inside a task or a framework swallows it."""


def _time_out(signum, frame):
    raise TaskTimeout()


@contextlib.contextmanager
def deadline(timeout_s):
    """Raise :class:`TaskTimeout` in the block once ``timeout_s`` seconds have passed (0: no limit). A
    signal, so that a library looping in Python is stopped too: Keras 3.0 and 3.4 never return from
    loading the ``.h5`` of a nested model tf.keras 2.10 wrote (keras-team/keras#19669)."""
    if timeout_s <= 0:
        yield
        return
    signal.signal(signal.SIGALRM, _time_out)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


class SlowTask(BaseException):
    """A task runs far slower per step than any release should (see :class:`Pace`): it is cut short, and
    its steps so far measure the slowdown. A BaseException, so that no ``except Exception`` inside a
    framework's callback swallows it."""

    def __init__(self, measured):
        BaseException.__init__(self, measured["reason"])
        self.measured = measured


class Pace(object):
    """Watches the running task's training steps and cuts it short (:class:`SlowTask`) when, after its
    first :data:`MIN_STEPS` steps, it would take longer than ``limit_s`` in all: Keras 3.3 on TensorFlow 2.16
    retraces its training function on every ``train_on_batch`` call, and the seed linear fit took 620 s
    (about 2 s elsewhere) before a task timeout failed it, with nothing learnt. The first step is not
    timed: tracing and compiling (Theano's C, XLA) happen there once. The projection uses the task's
    planned steps where it says them (``of``), else the time so far."""

    MIN_STEPS = 20

    def __init__(self):
        self.limit_s, self.steps, self.since, self.progress = 0.0, 0, None, {}

    def start(self, limit_s, progress):
        """A task starts: cut it short past ``limit_s`` (0: never), reading its planned steps from ``progress``."""
        self.limit_s, self.steps, self.since, self.progress = limit_s, 0, None, progress
        del STATE.warnings[:]

    def stop(self):
        """The task ended: steps outside any task (loading saved models) are not paced."""
        self.start(0.0, {})

    def step(self, count=1):
        """``count`` training steps ended (a ``fit`` call runs many)."""
        if self.since is None:  # the first call: tracing and compiling, not timed
            self.steps, self.since = count, time.time()
            return
        self.steps += count
        timed = self.steps - 1
        if not self.limit_s or timed < self.MIN_STEPS:
            return
        elapsed = time.time() - self.since
        per_step, planned = elapsed / timed, self.progress.get("of") or 0
        projected = per_step * planned if planned else elapsed
        if projected > self.limit_s:
            warning = STATE.warnings[-1] if STATE.warnings else ""
            raise SlowTask({
                "steps": self.steps, "of": planned, "seconds_per_step": per_step, "projected_s": projected,
                "warning": warning,
                "reason": "cut short after %d%s steps: %.3g s per step, %s %.0f s (limit %.0f s)%s" % (
                    self.steps, " of %d" % planned if planned else "", per_step,
                    "projected" if planned else "already", projected, self.limit_s,
                    "; the library warned: " + warning if warning else ""),
            })


PACE = Pace()


class _WarningLog(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING and len(STATE.warnings) < 100:
            STATE.warnings.append(" ".join(record.getMessage().split())[:300])


def listen_for_warnings():
    """Keep the library's warnings of the running task in ``STATE.warnings`` (they still go to the log)."""
    handler = _WarningLog()
    for name in ("", "tensorflow", "absl"):
        logging.getLogger(name).addHandler(handler)
    shown = warnings.showwarning

    def show(message, category, *args, **kwargs):
        if len(STATE.warnings) < 100:
            STATE.warnings.append(("%s: %s" % (category.__name__, message))[:300])
        return shown(message, category, *args, **kwargs)

    warnings.showwarning = show
