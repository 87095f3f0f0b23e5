"""Per-layer forward records and per-weight gradient records of a model, so that the host can say which
layer first computes something different (``keras_drift.localise``).

Taken once per task, on the shared-initialisation twin, at its initial weights, on a fixed seeded batch:
every layer's output in topological order (a nested model's own layers first, named by path:
``encoder/gru``), with the names of the outputs it received; and the loss gradient of every trainable
weight. An array of up to :data:`WHOLE_UP_TO` values is kept whole, a larger one as a fingerprint (shape,
checksum, mean, std, largest magnitude, first values). Version differences live in ``probe.compat``.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

import hashlib
import re

import numpy as np

from probe import compat

WHOLE_UP_TO = 4096
# One plain SGD step at this rate reads the gradient back as (before - after) / rate: a power of two, so
# the division is exact, and large, so the rounding of the weights themselves hardly touches it.
GRADIENT_RATE = 1024.0
_TAKEN = set()
_ENABLED = [True]


def disable():
    """Take no records in this process: a re-run (``--trials``) keeps only metrics."""
    _ENABLED[0] = False


def summary(array):
    """An array as the result keeps it: whole when small, else a fingerprint."""
    values = np.asarray(array, dtype="float64")
    if values.size <= WHOLE_UP_TO:
        return {"shape": list(values.shape), "values": [float(v) for v in values.ravel()]}
    as_float32 = np.ascontiguousarray(values.astype("float32"))
    return {"shape": list(values.shape), "sha256": hashlib.sha256(as_float32.tobytes()).hexdigest()[:16],
            "mean": float(values.mean()), "std": float(values.std()), "max_abs": float(np.abs(values).max()),
            "head": [float(v) for v in values.ravel()[:8]]}


def layer_path(layer, position):
    """A layer's name in the records: the name given to it, or ``<position>_<class>`` for a name the library
    made up (``dense_3``), which would differ between versions that count layers differently."""
    cls = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", type(layer).__name__).lower()  # GRU -> gru, BatchNormalization -> batch_normalization
    if any(re.match(r"^%s(_\d+)?$" % re.escape(spelling), layer.name) for spelling in (cls, cls.replace("_", ""))):
        return "%d_%s" % (position, cls)
    return layer.name


def forward(keras, model, x, prefix="", input_names=None, owners=None):
    """Every layer's output for ``x`` (a nested model's own layers recorded before it); ``owners`` collects
    ``(path, layer)`` of the layers that hold weights, for :func:`gradients`."""
    graph = compat.layer_graph(keras, model)
    values = iter(compat.evaluate_tensors(keras, model, [t for _, _, produced in graph for t in produced], x))
    inputs = list(model.inputs)
    names = dict((id(tensor), (input_names or ["input:%d" % k if len(inputs) > 1 else "input" for k in range(len(inputs))])[k])
                 for k, tensor in enumerate(inputs))
    known = dict((id(tensor), array) for tensor, array in zip(inputs, x if isinstance(x, (list, tuple)) else [x]))
    records = []
    for position, (layer, received, produced) in enumerate(graph, 1):
        path = prefix + layer_path(layer, position)
        received_names = [names.get(id(tensor), "?") for tensor in received]
        outputs = [next(values) for _ in produced]
        if hasattr(layer, "layers") and hasattr(layer, "inputs"):  # a nested model: where inside it things part
            fed = [known[id(tensor)] for tensor in received]
            records.extend(forward(keras, layer, fed if len(fed) > 1 else fed[0], path + "/", received_names, owners))
        elif owners is not None and compat.trainable_variables(layer):
            owners.append((path, layer))
        for k, (tensor, array) in enumerate(zip(produced, outputs)):
            name = path if k == 0 else "%s:%d" % (path, k)
            names[id(tensor)], known[id(tensor)] = name, array
            records.append({"path": name, "class": type(layer).__name__, "inputs": received_names, "value": summary(array)})
    return records


def gradients(keras, model, owners, loss, x, y):
    """The gradient of the loss ``loss`` for each trainable weight of ``owners`` at the model's current
    weights: one plain SGD step (every version and backend takes one; none shares a gradient API), read
    back and undone. The model is left compiled with that SGD: the task compiles it again to train."""
    variables = [("%s/%s" % (path, compat.weight_name(layer, variable)), variable)
                 for path, layer in owners for variable in compat.trainable_variables(layer)]
    before = model.get_weights()
    try:
        compat.compile_model(model, compat.optimizer(keras, "SGD", learning_rate=GRADIENT_RATE), loss)
        start = [compat.variable_value(keras, variable) for _, variable in variables]
        compat.train_on_batch(model, x, y)
        compat.STEPS[0] -= 1  # not one of the task's training steps
        end = [compat.variable_value(keras, variable) for _, variable in variables]
    finally:
        model.set_weights(before)
    return [{"weight": name, "value": summary((np.asarray(a, "float64") - np.asarray(b, "float64")) / GRADIENT_RATE)}
            for (name, _), a, b in zip(variables, start, end)]


def take(keras, task_name, model, x, y=None, loss=None):
    """The records of ``model`` for the facts of ``task_name``: ``layers`` and, given ``y`` and ``loss``,
    ``gradients``; once per task and probe process (repeats and re-runs take none), restoring the
    weights. Where the version keeps no layer graph, ``records_skipped`` says why."""
    if task_name in _TAKEN or not _ENABLED[0]:
        return {}
    _TAKEN.add(task_name)
    owners = []
    try:
        facts = {"layers": forward(keras, model, x, owners=owners)}
        if y is not None and loss is not None:
            facts["gradients"] = gradients(keras, model, owners, loss, x, y)
    except compat.NotApplicable as reason:
        return {"records_skipped": str(reason)}
    except Exception as exc:  # a record that cannot be taken must not cost the task its metrics
        return {"records_skipped": "could not be taken: %s: %s" % (type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")}
    return facts
