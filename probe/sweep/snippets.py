"""Self-contained reproduction snippets: per entry, a short script that runs as is in both
environments through the door's own import and prints what the sweep measured."""



from probe.state import STATE
from probe.sweep.calls import family_of, layouts_of, render
from probe.sweep.exercise import first_item
from probe.sweep.tables import (
    ADAPT_INPUTS,
    ARGUMENT_INPUTS,
    CALLBACK_LEARNING_RATE,
    CALLBACK_LOSSES,
    CLASS_WEIGHT,
    FIT_EPOCHS,
    FIT_INPUT,
    FIT_LAYOUTS,
    FIT_LEARNING_RATE,
    INITIALIZER_SHAPES,
    LAYER_INPUTS,
    LAYOUTS,
    LIST_INPUT,
    OPS_ARRAYS,
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
LEGACY_IMPORT = ['import os; os.environ["TF_USE_LEGACY_KERAS"] = "1"; from tensorflow import keras']
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
    helpers = {"activations": (TO_NUMPY, TO_TENSOR), "optimizers": (TO_NUMPY, TO_TENSOR), "ops": (TO_TENSOR,)}.get(kind, (TO_NUMPY,))
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
    elif kind == "ops":
        arguments = "".join(", %s=%s" % (key, render(value, "keras.")) for key, value in sorted(entry.call.arguments.items()))
        lines += ["%s = %s" % (name, OPS_ARRAYS[name]) for name in entry.call.leading]
        lines += ["print(keras.ops.%s(%s%s))" % (entry.call.name, ", ".join("to_t(%s)" % name for name in entry.call.leading), arguments)]
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
        if kind == "losses" and layouts_of(entry.call.name)[0] in FIT_LAYOUTS:
            lines += _fit_snippet(layouts_of(entry.call.name)[0])
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
    elif kind == "callbacks":
        lines += _callback_snippet(call)
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
                  'if hasattr(layer, "adapt"): layer.adapt(%s)' % ADAPT_INPUTS.get(family, "inputs[0]"),
                  "else:",
                  "    rng = np.random.RandomState(%d)" % WEIGHT_SEED,
                  '    layer.set_weights([rng.uniform(0.1, 0.6, np.shape(w)).astype(w.dtype) if w.dtype.kind == "f" else w for w in layer.get_weights()])',
                  "run = K.function(tensors + [K.learning_phase()], outputs if isinstance(outputs, list) else [outputs])",
                  'print("inference", run(inputs + [0]))',
                  'print("training", run(inputs + [1]))']
        return lines
    lines[0] += "; data = %s" % ADAPT_INPUTS.get(family, "inputs[0]")  # what it adapts on, where it adapts
    lines += ["try:",
              '    layer.adapt(data); print("adapted", to_np(layer(data)))  # a preprocessing layer that learns from data',
              "except ImportError: layer.reset_state(); layer.update_state(data); layer.finalize_state(); print(\"adapted\", to_np(layer(data)))",
              "except (AttributeError, NotImplementedError):",
              "    %s  # builds it" % (invocation % "False"),
              '    print("weights as built", [(w.mean(), w.std()) for w in layer.get_weights() if w.dtype.kind == "f"])',
              "    rng = np.random.RandomState(%d)" % WEIGHT_SEED,
              '    layer.set_weights([rng.uniform(0.1, 0.6, np.shape(w)).astype(w.dtype) if w.dtype.kind == "f" else w for w in layer.get_weights()])',
              'print("inference", to_np(%s))' % (invocation % "False"),
              'print("training", to_np(%s))' % (invocation % "True")]
    return lines


def _callback_snippet(call):
    """The callback's hooks in ``fit()``'s order over the scripted logs, twice, the weights marking the epoch
    (:mod:`probe.sweep.callbacks`); files it writes go to the working folder."""
    return ["model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)]); "
            'model.compile(optimizer=keras.optimizers.SGD(learning_rate=%r), loss="mse")' % CALLBACK_LEARNING_RATE,
            "callback = %s" % call,
            'callback.set_model(model); callback.set_params({"epochs": %d, "steps": 1, "verbose": 0})' % len(CALLBACK_LOSSES),
            "for run in (1, 2):  # fit() twice with the same callback",
            "    model.stop_training = False; callback.on_train_begin({})",
            "    for epoch, (loss, val_loss) in enumerate(%r):" % (CALLBACK_LOSSES,),
            '        model.set_weights([np.full((1, 1), epoch + 1.0, "float32"), np.zeros((1,), "float32")])  # mark the epoch',
            '        logs = {"loss": loss, "val_loss": val_loss, "accuracy": 1 - loss / 2, "val_accuracy": 1 - val_loss / 2}',
            "        callback.on_epoch_begin(epoch, {}); callback.on_epoch_end(epoch, logs)",
            '        print(run, epoch, "learning rate", to_np(model.optimizer.learning_rate))',
            '        if model.stop_training: print("stopped after epoch", epoch); break',
            '    callback.on_train_end({}); print("kept the weights of epoch", model.get_weights()[0][0, 0] - 1)']


def _fit_snippet(layout):
    """``fit()`` with the loss and the class weights on ``layout``'s labels, from the sweep's NumPy weights."""
    units, activation = FIT_LAYOUTS[layout]
    true = LAYOUTS[layout][0]
    return ["x, y_true = %s, %s" % (FIT_INPUT, _literal(true, "int32" if isinstance(first_item(true), int) else "float32")),
            'model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(%d, activation="%s")])' % (units, activation),
            "rng = np.random.RandomState(%d); model.set_weights([rng.uniform(0.1, 0.6, w.shape).astype(w.dtype) for w in model.get_weights()])"
            % WEIGHT_SEED,
            "model.compile(optimizer=keras.optimizers.SGD(learning_rate=%r), loss=loss)" % FIT_LEARNING_RATE,
            "print(model.fit(x, y_true, class_weight=%r, batch_size=%d, epochs=%d, shuffle=False, verbose=0).history)"
            % (CLASS_WEIGHT, len(true), FIT_EPOCHS)]
