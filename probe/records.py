"""Per-layer forward records and per-weight gradient records of a model, so that the host can say which
layer first computes something different (``keras_drift.judge.localise``).

Taken once per task and model (the shared-initialisation twin of a model task, each model a canary
builds), at its fixed initial weights, on a fixed batch: every layer's output in topological order (a
nested model's or a wrapper's own layers first, named by path: ``head/dense#2``,
``bidirectional#1/forward``), with the names of the outputs it received; and the loss gradient of every
trainable weight. An array of up to :data:`WHOLE_UP_TO` values is kept whole, a larger one as a fingerprint (shape,
checksum, mean, std, largest magnitude, first values). Version differences live in ``probe.graphs``.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

import hashlib
import re
import time

import numpy as np

from probe import frameworks, graphs, models, optimizers, progress, training
from probe.state import STATE

WHOLE_UP_TO = 4096
# One plain SGD step at this rate reads the gradient back as (before - after) / rate: a power of two, so
# the division is exact, and large, so the rounding of the weights themselves hardly touches it.
GRADIENT_RATE = 1024.0


def disable():
    """Take no records in this process: a re-run (``--trials``) keeps only metrics."""
    STATE.records_enabled = False


def enabled():
    """Whether this process takes records (not after :func:`disable`)."""
    return STATE.records_enabled


def summary(array):
    """An array as the result keeps it: whole when small, else a fingerprint."""
    values = np.asarray(array, dtype="float64")
    if values.size <= WHOLE_UP_TO:
        return {"shape": list(values.shape), "values": [float(v) for v in values.ravel()]}
    as_float32 = np.ascontiguousarray(values.astype("float32"))
    return {"shape": list(values.shape), "sha256": hashlib.sha256(as_float32.tobytes()).hexdigest()[:16],
            "mean": float(values.mean()), "std": float(values.std()), "max_abs": float(np.abs(values).max()),
            "head": [float(v) for v in values.ravel()[:8]]}


def layer_path(layer, occurrence):
    """A layer's name in the records: the name given to it, or ``<class>#<k>`` (the k-th layer of its class
    in its model) for a name the library made up (``dense_3``), which would differ between versions that
    count layers differently. Counting by class keeps the names of the others when a version adds nodes
    of its own to the graph (Keras 3's mask operations)."""
    cls = class_key(layer)
    if any(re.match(r"^%s(_\d+)?$" % re.escape(spelling), layer.name) for spelling in (cls, cls.replace("_", ""))):
        return "%s#%d" % (cls, occurrence)
    return layer.name


def class_key(layer):
    """A layer class in snake case: GRU -> gru, BatchNormalization -> batch_normalization."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", type(layer).__name__).lower()


def forward(keras, model, x, prefix="", input_names=None, owners=None):
    """Every layer's output for ``x`` (a nested model's, or a wrapper's, own layers recorded before it; the
    composite's record then names their outputs as its inputs, so that a difference it only carries is
    not taken for its own); ``owners`` collects ``(path, layer)`` of the layers that hold weights, for
    :func:`gradients`."""
    graph = graphs.layer_graph(keras, model)
    values = iter(graphs.evaluate_tensors(keras, model, [t for _, _, produced in graph for t in produced], x))
    inputs = graphs.model_inputs(keras, model)
    names = dict((id(tensor), (input_names or ["input:%d" % k if len(inputs) > 1 else "input" for k in range(len(inputs))])[k])
                 for k, tensor in enumerate(inputs))
    known = dict((id(tensor), array) for tensor, array in zip(inputs, x if isinstance(x, (list, tuple)) else [x]))
    records, seen = [], {}
    for layer, received, produced in graph:
        seen[class_key(layer)] = seen.get(class_key(layer), 0) + 1
        path = prefix + layer_path(layer, seen[class_key(layer)])
        received_names = [names.get(id(tensor), "?") for tensor in received]
        outputs = [next(values) for _ in produced]
        fed = [known[id(tensor)] for tensor in received]
        if hasattr(layer, "layers") and hasattr(layer, "inputs"):  # a nested model: where inside it things part
            inner = forward(keras, layer, fed if len(fed) > 1 else fed[0], path + "/", received_names, owners)
        else:
            parts = wrapped(keras, layer, fed[0])  # Keras 3 also feeds a wrapper the mask: the first input is the data
            inner = [{"path": path + "/" + role, "class": type(part).__name__, "inputs": received_names[:1], "value": summary(output)}
                     for role, part, output in parts]
            if owners is not None:  # a wrapper's weights are named after the layer of it that holds them
                owners.extend((path + "/" + role, part) for role, part, _ in parts if graphs.trainable_variables(part))
                if not parts and graphs.trainable_variables(layer):
                    owners.append((path, layer))
        records.extend(inner)
        carried = _outputs_of(inner) or received_names
        for k, (tensor, array) in enumerate(zip(produced, outputs)):
            name = path if k == 0 else "%s:%d" % (path, k)
            names[id(tensor)], known[id(tensor)] = name, array
            records.append({"path": name, "class": type(layer).__name__, "inputs": carried, "value": summary(array)})
    return records


def wrapped(keras, wrapper, x):
    """``[(role, layer, output)]`` of the layers a wrapper runs (TimeDistributed's layer, Bidirectional's two
    directions) on the wrapper's input ``x``; none for any other layer. Where they cannot be run on their
    own, the wrapper stays one record: a record that costs the others nothing."""
    try:
        return graphs.wrapped_outputs(keras, wrapper, x)
    except Exception:
        return []


def _outputs_of(inner):
    """The records a composite's output is made of: those no other inner record takes as its input."""
    taken = set(name for record in inner for name in record["inputs"])
    return [record["path"] for record in inner if record["path"] not in taken]


def gradients(keras, model, owners, loss, x, y):
    """The gradient of the loss ``loss`` for each trainable weight of ``owners`` at the model's current
    weights: one plain SGD step (every version and backend takes one; none shares a gradient API), read
    back and undone; or, where a step cannot be trusted for it, the backend's own gradients
    (``graphs.graph_gradients``). The model is left compiled with that SGD: the task compiles it again."""
    variables, seen = [], {}
    for path, layer in owners:
        for variable in graphs.trainable_variables(layer):
            name = "%s/%s" % (path, graphs.weight_name(layer, variable))
            seen[name] = seen.get(name, 0) + 1
            variables.append((name if seen[name] == 1 else "%s#%d" % (name, seen[name]), variable))
    before = model.get_weights()
    try:
        models.compile_model(model, optimizers.optimizer(keras, "SGD", learning_rate=GRADIENT_RATE), loss)
        found = graphs.graph_gradients(keras, model, [variable for _, variable in variables], x, y)
        if found is None:
            start = [graphs.variable_value(keras, variable) for _, variable in variables]
            training.train_on_batch(model, x, y, counted=False)  # not one of the task's training steps
            end = [graphs.variable_value(keras, variable) for _, variable in variables]
            found = [(np.asarray(a, "float64") - np.asarray(b, "float64")) / GRADIENT_RATE for a, b in zip(start, end)]
    finally:
        model.set_weights(before)
    return [{"weight": name, "value": summary(gradient)} for (name, _), gradient in zip(variables, found)]


def take(keras, task_name, model, x, y=None, loss=None, label=""):
    """The records of ``model`` for the facts of ``task_name``: ``layers`` and, given ``y`` and ``loss``,
    ``gradients``; once per task, model ``label`` and probe process (repeats and re-runs take none),
    restoring the weights. A task of several models labels each: its paths start ``<label>/``. Where the
    version keeps no layer graph, ``records_skipped`` says why."""
    if (task_name, label) in STATE.records_taken or not STATE.records_enabled:
        return {}
    STATE.records_taken.add((task_name, label))
    owners = []
    prefix = label + "/" if label else ""
    started = time.time()
    previous = progress.phase("records")
    try:
        facts = {"layers": forward(keras, model, x, prefix=prefix, owners=owners)}
        if y is not None and loss is not None:
            facts["gradients"] = gradients(keras, model, owners, loss, x, y)
    except frameworks.NotApplicable as reason:
        return {"records_skipped": str(reason)}
    except Exception as exc:  # a record that cannot be taken must not cost the task its metrics
        return {"records_skipped": "could not be taken%s: %s: %s" % (
            " for " + label if label else "", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")}
    finally:
        STATE.records_seconds += time.time() - started
        progress.phase(previous)
    return facts


def extend(facts, taken):
    """Add the records of one more model of a task (:func:`take`) to its ``facts``; the first reason a
    record could not be taken is kept."""
    for key in ("layers", "gradients"):
        if key in taken:
            facts[key] = facts.get(key, []) + taken[key]
    if "records_skipped" in taken:
        facts.setdefault("records_skipped", taken["records_skipped"])
    return facts
