"""The API sweep: coverage by construction, from what the library itself lists as public.

The canaries find what they were written to find; the sweep finds what nobody wrote a canary for. In each
environment it enumerates the public entries of the documented door (``keras`` or ``tf.keras``, as
:func:`probe.frameworks.front_doors` resolves it) and exercises each on deterministic NumPy data, one task
per kind (``sweep.<kind>``):

- ``initializers``: every public initializer class, with ``seed=1`` where it takes one, on the shapes of
  :data:`INITIALIZER_SHAPES` (ranks 1 to 4): mean, std, min, max and a fixed-weight checksum per shape;
- ``activations``: every public activation function on the fixed points of :data:`POINTS`;
- ``losses``: every public loss class with its defaults and with each option of :data:`LOSS_VARIANTS`
  it accepts (``from_logits``), on the label layouts that suit it (:func:`layouts_of`), without and with
  :data:`SAMPLE_WEIGHT`;
- ``metrics``: every public metric class, ``update_state`` on the same layouts, without and with the
  sample weight, then ``result()``;
- ``optimizers``: every public optimizer class, :data:`OPTIMIZER_STEPS` steps on a fixed quadratic (one
  variable, a fixed gradient function), with its defaults and with each option of
  :data:`OPTIMIZER_VARIANTS` its signature accepts;
- ``schedules``: every learning-rate schedule over :data:`SCHEDULE_STEPS`, with its defaults and the
  options of :data:`SCHEDULE_VARIANTS` it accepts;
- ``layers``: every public layer built for the input its family suits (:data:`LAYER_FAMILIES`,
  :data:`LAYER_INPUTS`), adapted on that input where it adapts, else with every floating weight set from
  NumPy by shape (:func:`set_weights`); its output in inference mode, the gradient of a fixed scalar of it
  with respect to the input (where the backend gives one, inference mode), then its output in training
  mode. Layers that take a seed get ``seed=1``; their values and their statistics over the batch (mean,
  std) are both recorded, so that a difference that is only the random stream can be told apart.

Arguments come from each signature's defaults, plus the values of :data:`REQUIRED` for parameters without a
default (by parameter name, whatever the class), :data:`LAYER_ARGUMENTS` for the few defaults that cannot
run on small inputs, and the variant tables above: there is no hand-written test per class. A class that
requires a parameter no table names is skipped with that reason.

**Names.** Each entry is named by its call as a user writes it, keyword arguments sorted and no spaces
(``layers.RandomFlip(seed=1)``, ``optimizers.Adam(gradient_accumulation_steps=2)``): the same call has the
same name in every environment. Its metrics are ``sweep.<kind>.<call without the namespace>.<what>``, e.g.
``sweep.initializers.GlorotUniform(seed=1).shape(3,4,5).std``. The result's ``sweep`` section holds, per
entry (``<kind>.<call without the namespace>``), its kind, call and a self-contained reproduction snippet
(at most :data:`SNIPPET_LINES` lines, with the door's own import), and why it was skipped, if it was.

**Targeted or full.** ``--sweep full`` sweeps every entry; ``targeted`` (the default) sweeps the fixed
core of :data:`CORE` plus the classes the tasks run before the sweep constructed themselves
(:func:`watch_constructions` notes them; the result keeps them per task as ``facts.constructed``), each
as its class needs to be called, without the option variants, the second seed of the random entries and
the losses' ``fit()`` with ``class_weight`` (the nightly's full sweep runs them); ``off`` sweeps nothing.
Every entry runs under a time cap (:data:`ENTRY_CAP_S`); one that raises or runs out of time is skipped
with its one-line reason, never failing the task.

**Old versions.** A kind whose public base class a version lacks (loss and metric classes before Keras 2.3,
schedules before tf.keras 2, initializer classes before Keras 2) is ``skipped`` with the reason; layers are
not swept on Keras 0.3, whose layers are only chained by a Sequential.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

import time

from probe import frameworks
from probe.sweep.arrays import EntryTimeout, one_line, time_cap
from probe.sweep.calls import Call, Entry, entries
from probe.sweep.exercise import RUNNERS
from probe.sweep.selection import SETTINGS, selected
from probe.sweep.snippets import door_of, snippet
from probe.sweep.tables import ENTRY_CAP_S, KINDS, NAMESPACES, SEED, SPREAD_SEED
from probe.task import Task

# -- the tasks --------------------------------------------------------------------------------------------


def run_entry(keras, kind, entry):
    """``(metrics, record)`` of one entry: its metrics by full name, and what the result's ``sweep``
    section keeps of it (kind, call, snippet, and why it was skipped, or which parts were)."""
    record = {"kind": kind, "call": entry.call.text(),
              "snippet": snippet(kind, entry, door_of(keras), frameworks.eager(keras), _legacy(keras))}
    if entry.random_stream:
        record["random_stream"] = True
    if entry.reason:
        record["skipped"] = entry.reason
        return {}, record
    started = time.time()
    found, partial, problem = exercised(keras, kind, entry)
    if problem:
        record["skipped"] = problem
    elif entry.random_stream and SETTINGS.mode == "full":  # the targeted sweep judges the stream by sampling alone
        record["seed_spread"] = seed_spread(keras, kind, entry, found)
    record["seconds"] = round(time.time() - started, 4)
    if partial:
        record["partial"] = partial
    prefix = "sweep." + entry.key + "."
    return dict((prefix + what, value) for what, value in found.items()), record


def exercised(keras, kind, entry):
    """``(found, partial, problem)``: the entry run by its kind's runner under the time cap, every seed set
    first (and, on a graph backend, a fresh graph: an entry that cannot run there, CuDNNGRU's kernel on a CPU,
    would otherwise break every entry after it); ``problem`` is why it could not run (``None`` when it ran)."""
    if frameworks.eager(keras):
        frameworks.seed_everything(keras, SEED)
    else:
        frameworks.reset(keras, SEED)
    try:
        with time_cap(ENTRY_CAP_S):
            found, partial = RUNNERS[kind](keras, entry)
        return found, partial, None
    except EntryTimeout:
        return {}, {}, "ran past the sweep's cap of %g s an entry" % ENTRY_CAP_S
    except Exception as exc:
        return {}, {}, one_line(exc)


def seed_spread(keras, kind, entry, found):
    """How far each mean and standard deviation of an entry that draws random numbers moves when only its
    seed changes (``seed=`` :data:`SPREAD_SEED` against :data:`SEED`), in this environment: the host's
    measure of what the random stream alone can move (:mod:`keras_drift.judge.sweep_causes`), beside the
    standard errors of sampling. The full sweep's only (each random entry runs twice). Empty where the
    second run fails."""
    reseeded = Entry(kind, Call(entry.call.namespace, entry.call.name, dict(entry.call.arguments, seed=SPREAD_SEED)))
    other, _, problem = exercised(keras, kind, reseeded)
    if problem:
        return {}
    return dict((what, abs(float(value) - float(other[what]))) for what, value in sorted(found.items())
                if what.rsplit(".", 1)[-1] in ("mean", "std") and isinstance(other.get(what), float) and isinstance(value, float))


def _legacy(keras):
    return keras.__name__.split(".")[0] == "tf_keras"


def sweep_task(kind):
    """The task ``sweep.<kind>``: every selected entry of ``kind`` (:func:`selected`), each exercised by
    :data:`RUNNERS`; ``facts["sweep"]`` holds each entry's record (the runner moves them to the result's
    ``sweep`` section) and ``facts["sweep_summary"]`` the mode, counts and the classes targeted."""

    def run(keras):
        found = entries(kind, keras)
        chosen = selected(kind, found)
        metrics, records = {}, {}
        frameworks.reset(keras, SEED)
        SETTINGS.active = True
        try:
            for entry in chosen:
                entry_metrics, records[entry.key] = run_entry(keras, kind, entry)
                metrics.update(entry_metrics)
        finally:
            SETTINGS.active = False
        summary = {"mode": SETTINGS.mode, "entries": len(found), "swept": len(chosen),
                   "skipped": sum(1 for record in records.values() if "skipped" in record)}
        if SETTINGS.mode == "targeted":
            summary["called"] = sorted(name for name in SETTINGS.called if name.startswith(NAMESPACES[kind][0] + "."))
        return metrics, {}, {"sweep": records, "sweep_summary": summary}

    run.__doc__ = "The public %s through the documented door, each on fixed NumPy data (the API sweep)." % kind
    return Task("sweep." + kind, run, repeat=False, kind="sweep")


TASKS = tuple(sweep_task(kind) for kind in KINDS)


def tasks(mode=None):
    """The sweep's tasks for ``mode`` (none when ``off``)."""
    return [] if (mode or SETTINGS.mode) == "off" else list(TASKS)
