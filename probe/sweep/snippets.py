"""Self-contained reproduction snippets: per entry, a short script that runs as is in both
environments through the door's own import and prints what the sweep measured."""



from probe.state import STATE
from probe.sweep.calls import family_of, layouts_of, render
from probe.sweep.exercise import first_item
from probe.sweep.tables import (
    ARGUMENT_INPUTS,
    INITIALIZER_SHAPES,
    LAYER_INPUTS,
    LAYOUTS,
    LIST_INPUT,
    OPTIMIZER_CENTRE,
    OPTIMIZER_SCALES,
    OPTIMIZER_START,
    OPTIMIZER_STEPS,
    POINTS,
    POINTS_SHAPE,
    SAMPLE_WEIGHT,
    SCHEDULE_STEPS,
    WEIGHT_SEED,
)

# -- snippets ---------------------------------------------------------------------------------------------

DOOR_IMPORTS = {
    "keras": ["import keras"],
    "tf.keras": ["from tensorflow import keras"],
}
LEGACY_IMPORT = ['import os; os.environ["TF_USE_LEGACY_KERAS"] = "1"', "from tensorflow import keras"]
TO_NUMPY = 'to_np = keras.ops.convert_to_numpy if hasattr(keras, "ops") else keras.backend.eval'
TO_TENSOR = 'to_t = keras.ops.convert_to_tensor if hasattr(keras, "ops") else keras.backend.constant'


def door_of(keras):
    """The name of the door ``keras`` was reached through (``keras``, ``tf.keras``)."""
    for door, module in STATE.doors:
        if module is keras:
            return door
    return "keras"


def header(door, legacy=False, helpers=(TO_NUMPY,)):
    """The snippet's first lines: NumPy, the door's import, and the conversions it uses."""
    imports = LEGACY_IMPORT if legacy else DOOR_IMPORTS.get(door, ["import keras"])
    return ["import numpy as np"] + list(imports) + list(helpers)


def _literal(values, dtype):
    return "np.array(%r, %r)" % (values, dtype)


def snippet(kind, entry, door="keras", eager=True, legacy=False):
    """A self-contained reproduction of ``entry`` (at most :data:`SNIPPET_LINES` lines) that runs as is
    wherever its door's import works; it prints what the sweep measured."""
    call = entry.call.text("keras.")
    helpers = {"activations": (TO_NUMPY, TO_TENSOR), "optimizers": (TO_NUMPY, TO_TENSOR)}.get(kind, (TO_NUMPY,))
    lines = header(door, legacy, helpers if kind != "layers" or eager else ())
    if kind == "initializers":
        lines += ["initializer = %s" % call,
                  "for shape in %r:" % (INITIALIZER_SHAPES,),
                  '    values = to_np(initializer(shape, dtype="float32"))',
                  "    print(shape, values.mean(), values.std(), values.min(), values.max())"]
    elif kind == "activations":
        arguments = "".join(", %s=%s" % (key, render(value, "keras.")) for key, value in sorted(entry.call.arguments.items()))
        lines += ["x = %s.reshape(%r)" % (_literal(list(POINTS), "float32"), POINTS_SHAPE),
                  "print(to_np(keras.activations.%s(to_t(x)%s)))" % (entry.call.name, arguments)]
    elif kind in ("losses", "metrics"):
        lines += ["sample_weight = %s" % _literal(SAMPLE_WEIGHT, "float32")]
        if kind == "losses":
            lines.append("loss = %s" % call)
        for layout in layouts_of(entry.call.name):
            true, predicted = LAYOUTS[layout]
            y_true = _literal(true, "int32" if isinstance(first_item(true), int) else "float32")
            if predicted is None:
                y_pred = "None"
            elif isinstance(predicted, str):
                y_pred = predicted + '.astype("float32")'
            else:
                y_pred = _literal(predicted, "int32" if isinstance(first_item(predicted), int) else "float32")
            lines.append("y_true, y_pred = %s, %s  # %s" % (y_true, y_pred, layout))
            if kind == "losses":
                lines.append("print(to_np(loss(y_true, y_pred)), to_np(loss(y_true, y_pred, sample_weight=sample_weight[:len(y_true)])))")
            else:
                data = "y_true" if predicted is None else "y_true, y_pred"
                lines.append("for weights in ({}, {\"sample_weight\": sample_weight[:len(y_true)]}):")
                lines.append("    metric = %s; metric.update_state(%s, **weights); print(to_np(metric.result()))" % (call, data))
    elif kind == "optimizers":
        lines += ["optimizer = %s" % call,
                  "scales, centre = %s, %s" % (_literal([list(row) for row in OPTIMIZER_SCALES], "float32"),
                                               _literal([list(row) for row in OPTIMIZER_CENTRE], "float32")),
                  "start = %s" % _literal([list(row) for row in OPTIMIZER_START], "float32"),
                  'variable = keras.Variable(start) if hasattr(keras, "Variable") else keras.backend.variable(start)',
                  "for _ in range(%d):" % OPTIMIZER_STEPS,
                  "    optimizer.apply_gradients([(to_t(scales * (to_np(variable) - centre)), variable)])",
                  'if hasattr(optimizer, "finalize_variable_values"):',
                  "    optimizer.finalize_variable_values([variable])",
                  "print(to_np(variable))"]
    elif kind == "schedules":
        lines += ["schedule = %s" % call,
                  "print([float(to_np(schedule(step))) for step in %r])" % (list(SCHEDULE_STEPS),)]
    elif kind == "layers":
        lines += _layer_snippet(entry, call, eager)
    return "\n".join(lines) + "\n"


def _layer_snippet(entry, call, eager):
    name = entry.call.name
    family = family_of(name)
    recipes = LAYER_INPUTS[family]
    lines = ["inputs = [%s]" % ", ".join(recipes), "layer = %s" % call]
    if family in LIST_INPUT or (family == "attention" and name not in ARGUMENT_INPUTS):
        invocation = "layer(inputs, training=%s)"
    elif family == "attention":
        invocation = "layer(*inputs, training=%s)"
    else:
        invocation = "layer(inputs[0], training=%s)"
    if not eager:  # a graph: the layer on Input tensors, through backend functions in each phase
        lines[1:1] = ["K = keras.backend"]
        lines += ["tensors = [keras.layers.Input(shape=a.shape[1:], dtype=str(a.dtype)) for a in inputs]",
                  "outputs = (%s)" % (invocation.replace("inputs", "tensors") % "None"),
                  'if hasattr(layer, "adapt"): layer.adapt(inputs[0])',
                  "else:",
                  "    rng = np.random.RandomState(%d)" % WEIGHT_SEED,
                  '    layer.set_weights([rng.uniform(0.1, 0.6, np.shape(w)).astype(w.dtype) if w.dtype.kind == "f" else w for w in layer.get_weights()])',
                  "run = K.function(tensors + [K.learning_phase()], outputs if isinstance(outputs, list) else [outputs])",
                  'print("inference", run(inputs + [0]))',
                  'print("training", run(inputs + [1]))']
        return lines
    lines += ["try:",
              "    layer.adapt(inputs[0])  # a preprocessing layer that learns from data",
              "except (AttributeError, NotImplementedError):",
              "    %s  # builds it" % (invocation % "False"),
              "    rng = np.random.RandomState(%d)" % WEIGHT_SEED,
              '    layer.set_weights([rng.uniform(0.1, 0.6, np.shape(w)).astype(w.dtype) if w.dtype.kind == "f" else w for w in layer.get_weights()])',
              'print("inference", to_np(%s))' % (invocation % "False"),
              'print("training", to_np(%s))' % (invocation % "True")]
    return lines
