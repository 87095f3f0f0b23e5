"""Where the probe is, in a file beside its result, for the host to read when the process dies natively.

A segmentation fault or an abort leaves no Python exception to record: the host then reads this file to
name the task that was running, what it was doing (``phase``) and which optional mechanisms were in
force, and starts a new process that finishes the remaining tasks without the mechanism that was in
force (``keras_drift.execute.runner``). Written at every change of phase: a few hundred bytes, well under a
millisecond. Python 3.6 syntax, standard library only.
"""

import json
import os

# The optional mechanisms of a probe process, each one it can run without (``--without``):
# JAX's persistent compile cache, the per-layer records, saving the trained models, loading them back.
MECHANISMS = ("compile-cache", "records", "saving", "loading")
# What the probe does when it is not inside any task: importing the framework, introspecting, and so on.
OUTSIDE = ""

_STATE = {"path": "", "task": OUTSIDE, "phase": "import", "mechanisms": [], "of": []}


def start(out_path, mechanisms):
    """Note progress beside ``out_path`` from now on, with ``mechanisms`` in force."""
    _STATE.update(path=out_path + ".running", mechanisms=sorted(mechanisms))
    _write()


def enter(task, phase, of=None):
    """The probe now runs ``task`` (``OUTSIDE`` for none) in ``phase`` (``task``, ``records``, ``saving``,
    ``loading``, or a section such as ``introspection``), the ``(n, total)`` of ``of`` when given (what a
    person watching the run is shown: task n of N); return the previous ``(task, phase)``."""
    previous = (_STATE["task"], _STATE["phase"])
    _STATE.update(task=task, phase=phase)
    if of is not None:
        _STATE["of"] = list(of)
    _write()
    return previous


def phase(name):
    """Change the phase of the running task; return the previous phase, to restore afterwards."""
    return enter(_STATE["task"], name)[1]


def finish():
    """The process finished: nothing is running, the file goes."""
    if _STATE["path"] and os.path.exists(_STATE["path"]):
        os.remove(_STATE["path"])
    _STATE["path"] = ""


def _write():
    if not _STATE["path"]:
        return
    temporary = _STATE["path"] + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(dict((key, _STATE[key]) for key in ("task", "phase", "mechanisms", "of")), handle)
    os.replace(temporary, _STATE["path"])
