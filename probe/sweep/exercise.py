"""How each kind is exercised: one runner per kind, from an :class:`probe.sweep.calls.Entry` to
``(metrics, partial)``: its numbers by what they measure, and the parts that could not run, with why."""


import numpy as np

from probe import frameworks, optimizers, spelling
from probe.frameworks import NotApplicable
from probe.models import model_of
from probe.sweep.arrays import checksum_weights, described, flat_outputs, input_gradient, one_line, statistics, to_array, to_tensor
from probe.sweep.callbacks import run_callback
from probe.sweep.calls import family_of, layouts_of, made, shape_text
from probe.sweep.selection import SETTINGS
from probe.sweep.tables import (
    ADAPT_INPUTS,
    ARGUMENT_INPUTS,
    CLASS_WEIGHT,
    FIT_EPOCHS,
    FIT_INPUT,
    FIT_LAYOUTS,
    FIT_LEARNING_RATE,
    INITIALIZER_SHAPES,
    INITIALIZER_STATISTICS,
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

# -- each kind --------------------------------------------------------------------------------------------


def run_initializer(keras, entry):
    """Each shape of :data:`INITIALIZER_SHAPES`: mean, std, min, max, checksum; a shape the initializer
    refuses is left out with its reason (``partial``)."""
    initializer = entry.call.make(keras)
    found, partial = {}, {}
    for shape in INITIALIZER_SHAPES:
        try:
            values = to_array(keras, initializer(shape, dtype="float32"))
        except Exception as exc:
            partial[shape_text(shape)] = one_line(exc)
            continue
        found.update((shape_text(shape) + "." + name, value) for name, value in statistics(values, INITIALIZER_STATISTICS).items())
    return found, partial


def points():
    """The activations' input: :data:`POINTS` in :data:`POINTS_SHAPE`, float32."""
    return np.array(POINTS, "float32").reshape(POINTS_SHAPE)


def run_activation(keras, entry):
    """The function at every point (``at(<point>)``) where it keeps the input's shape, else its output's
    statistics; with its statistics either way."""
    x = points()
    output = to_array(keras, entry.call.target(keras)(to_tensor(keras, x), **dict(
        (key, made(keras, value)) for key, value in entry.call.arguments.items())))
    found = described("out", output, INITIALIZER_STATISTICS)
    if output.shape == x.shape:
        found.update(("at(%g)" % point, float(value)) for point, value in zip(POINTS, output.ravel()))
    return found, {}


def run_op(keras, entry):
    """The op on the arrays of :data:`OPS_ARRAYS` its leading parameters are named for: its outputs'
    statistics (a tuple of outputs each under ``out[k]``)."""
    arrays = [to_tensor(keras, eval(OPS_ARRAYS[name])) for name in entry.call.leading]
    output = entry.call.target(keras)(*arrays, **dict((key, made(keras, value)) for key, value in entry.call.arguments.items()))
    return described("out", [to_array(keras, item) for item in flat_outputs(output)], INITIALIZER_STATISTICS), {}


def layout_arrays(layout):
    """``(y_true, y_pred)`` of a label layout as NumPy arrays (``y_pred`` ``None`` for plain values)."""
    true, predicted = LAYOUTS[layout]
    y_true = np.array(true, "int32" if isinstance(first_item(true), int) else "float32")
    if predicted is None:
        return y_true, None
    y_pred = eval(predicted).astype("float32") if isinstance(predicted, str) else np.array(
        predicted, "int32" if isinstance(first_item(predicted), int) else "float32")
    return y_true, y_pred


def first_item(values):
    while isinstance(values, list):
        values = values[0]
    return values


def run_loss(keras, entry):
    """The loss on each of its layouts, without and with the sample weight; in the full sweep, also
    through ``fit()`` with the class weights (:func:`fit_with_class_weight`)."""
    loss = entry.call.make(keras)
    found, partial = {}, {}
    for layout in layouts_of(entry.call.name):
        y_true, y_pred = layout_arrays(layout)
        for weighting, extra in (("unweighted", {}), ("sample_weight", {"sample_weight": np.array(SAMPLE_WEIGHT[:len(y_true)], "float32")})):
            try:
                found.update(described("%s.%s" % (layout, weighting), to_array(keras, loss(y_true, y_pred, **extra))))
            except Exception as exc:
                partial["%s.%s" % (layout, weighting)] = one_line(exc)
    layout = layouts_of(entry.call.name)[0]
    if layout in FIT_LAYOUTS and SETTINGS.mode == "full":  # a compiled fit() per loss: the nightly's
        try:
            found.update(fit_with_class_weight(keras, loss, layout))
        except Exception as exc:
            partial["fit(class_weight)"] = one_line(exc)
    return found, partial


def fit_with_class_weight(keras, loss, layout):
    """``fit()`` of a one-layer model (:data:`FIT_LAYOUTS`) with the loss and :data:`CLASS_WEIGHT` on the
    layout's labels, from NumPy weights: the loss of each epoch and the trained weights."""
    units, activation = FIT_LAYOUTS[layout]
    y_true, _ = layout_arrays(layout)
    model = model_of(keras, lambda first: [keras.layers.Dense(units, activation=activation, **first)], (3,))
    set_weights(model)
    model.compile(optimizer=optimizers.optimizer(keras, "SGD", learning_rate=FIT_LEARNING_RATE), loss=loss)
    history = model.fit(eval(FIT_INPUT), y_true, class_weight=dict(CLASS_WEIGHT), batch_size=len(y_true), epochs=FIT_EPOCHS,
                        shuffle=False, verbose=0)
    found = described("fit(class_weight).loss", [float(value) for value in history.history["loss"]])
    found.update(described("fit(class_weight).weights", model.get_weights()))
    return found


def run_metric(keras, entry):
    """A fresh metric per layout and weighting: ``update_state`` once, then ``result()``."""
    found, partial = {}, {}
    for layout in layouts_of(entry.call.name):
        y_true, y_pred = layout_arrays(layout)
        for weighting, extra in (("unweighted", {}), ("sample_weight", {"sample_weight": np.array(SAMPLE_WEIGHT[:len(y_true)], "float32")})):
            try:
                metric = entry.call.make(keras)
                metric.update_state(*([y_true] if y_pred is None else [y_true, y_pred]), **extra)
                found.update(described("%s.%s" % (layout, weighting), to_array(keras, metric.result())))
            except Exception as exc:
                partial["%s.%s" % (layout, weighting)] = one_line(exc)
    return found, partial


def gradient_of(w):
    """The fixed gradient function of the optimizers' problem: ``a * (w - c)``."""
    return (np.array(OPTIMIZER_SCALES, "float32") * (w - np.array(OPTIMIZER_CENTRE, "float32"))).astype("float32")


def run_optimizer(keras, entry):
    """:data:`OPTIMIZER_STEPS` steps from :data:`OPTIMIZER_START` with the fixed gradient, then the variable
    as ``fit`` leaves it (``finalize_variable_values``: an EMA's average written in)."""
    optimizer = entry.call.make(keras)
    start = np.array(OPTIMIZER_START, "float32")
    if hasattr(optimizer, "apply_gradients") and frameworks.eager(keras):
        variable = keras.Variable(start) if hasattr(keras, "Variable") else keras.backend.variable(start)
        for _ in range(OPTIMIZER_STEPS):
            optimizer.apply_gradients([(to_tensor(keras, gradient_of(to_array(keras, variable))), variable)])
        if hasattr(optimizer, "finalize_variable_values"):
            optimizer.finalize_variable_values([variable])
        value = to_array(keras, variable)
    else:  # a graph: the optimizer's own updates of the same quadratic, through a backend function
        value = _graph_steps(keras, optimizer, start)
    return described("w", value), {}


def _graph_steps(keras, optimizer, start):
    backend = keras.backend
    variable = backend.variable(start)
    # variables, not constants: Keras 0.3 and 1 on Theano have no backend.constant
    scales, centre = backend.variable(np.array(OPTIMIZER_SCALES, "float32")), backend.variable(np.array(OPTIMIZER_CENTRE, "float32"))
    loss = 0.5 * backend.sum(scales * backend.square(variable - centre))
    accepted = spelling.parameters(optimizer.get_updates)
    kwargs = {"loss": loss, "params": [variable]}
    if "constraints" in accepted:  # Keras 0.3 zips a list of constraints with the parameters; Keras 1 looks them up
        kwargs["constraints"] = [lambda value: value] if frameworks.keras_major(keras) < 1 else {}
    step = backend.function([], [loss], updates=optimizer.get_updates(**kwargs))  # TF 1 wants an output beside updates
    for _ in range(OPTIMIZER_STEPS):
        step([])
    return np.asarray(backend.get_value(variable))


def run_schedule(keras, entry):
    """The learning rate at each step of :data:`SCHEDULE_STEPS`."""
    schedule = entry.call.make(keras)
    return dict(("at(%d)" % step, float(to_array(keras, schedule(step)))) for step in SCHEDULE_STEPS), {}


def layer_inputs(family):
    """The NumPy inputs of a layer family (:data:`LAYER_INPUTS`)."""
    return [eval(recipe) for recipe in LAYER_INPUTS[family]]


def invoke(layer, tensors, name, training):
    """Call a layer as its family is called: a list of inputs (merging layers), inputs as arguments
    (query and value of an attention layer), else the one input."""
    family = family_of(name)
    kwargs = {} if training is None else {"training": training}  # None: a graph, whose phase is fed instead
    if family in LIST_INPUT or (family == "attention" and name not in ARGUMENT_INPUTS):
        return layer(list(tensors), **kwargs)
    if family == "attention":
        return layer(*tensors, **kwargs)
    return layer(tensors[0], **kwargs)


def set_weights(layer):
    """Every floating weight of ``layer`` from NumPy by shape, uniform in [0.1, 0.6) (a variance stays
    positive), seeded; integer weights (counters, seed states) as they are. The snippets repeat it."""
    rng = np.random.RandomState(WEIGHT_SEED)
    layer.set_weights([rng.uniform(0.1, 0.6, np.shape(w)).astype(w.dtype) if np.asarray(w).dtype.kind == "f" else w
                       for w in layer.get_weights()])


def adapt(layer, family, inputs):
    """``layer.adapt`` where it adapts, on :data:`ADAPT_INPUTS` of its family (else its input); whether it
    did. Where ``adapt`` needs TensorFlow and this environment has none (Keras 3 on JAX or PyTorch checks
    for ``tf.data``), what ``adapt`` does without it: ``reset_state``, ``update_state``, ``finalize_state``."""
    method = getattr(layer, "adapt", None)
    if method is None:
        return False
    data = adapt_data(family, inputs)
    try:
        method(data)
    except NotImplementedError:  # a preprocessing layer with nothing to learn
        return False
    except ImportError:
        layer.reset_state()
        layer.update_state(data)
        layer.finalize_state()
    return True


def adapt_data(family, inputs):
    """What a layer of ``family`` adapts on: :data:`ADAPT_INPUTS`, else its own input."""
    return eval(ADAPT_INPUTS[family]) if family in ADAPT_INPUTS else inputs[0]


def floating(weights):
    """The floating-point arrays of a layer's weights (not its seed states or counters)."""
    return [np.asarray(weight) for weight in weights if np.asarray(weight).dtype.kind == "f"]


def run_layer(keras, entry):
    """Built on its family's input: its weights as built (``weights``: drawn by its default initializers),
    or, where it adapts, its adapted state (``adapted``) and its output on the data it adapted on
    (``adapted.output``); then, NumPy weights set where it did not adapt, outputs in inference mode, the
    gradient with respect to the input, outputs in training mode."""
    name = entry.call.name
    family = family_of(name)
    inputs = layer_inputs(family)
    layer = entry.call.make(keras)
    if not frameworks.eager(keras):
        return _graph_layer(keras, layer, name, inputs)
    adapted = adapt(layer, family, inputs)
    invoke(layer, inputs, name, False)  # builds it
    found, partial = described("adapted" if adapted else "weights", floating(layer.get_weights())), {}
    if adapted:  # what it learned, as it shows on what it learned from (Discretization keeps no weights)
        learned = flat_outputs(invoke(layer, [adapt_data(family, inputs)], name, False))
        found.update(described("adapted.output", [to_array(keras, output) for output in learned]))
    else:
        set_weights(layer)
    inference = [to_array(keras, output) for output in flat_outputs(invoke(layer, inputs, name, False))]
    found.update(described("inference", inference))
    if all(array.dtype.kind == "f" for array in inputs) and all(array.dtype.kind == "f" for array in inference):
        try:
            gradients = input_gradient(keras, lambda tensors: invoke(layer, tensors, name, False), inputs, [array.shape for array in inference])
            found.update(described("gradient", gradients))
        except NotApplicable as reason:
            partial["gradient"] = str(reason)
        except Exception as exc:
            partial["gradient"] = one_line(exc)
    else:
        partial["gradient"] = "not differentiable: integer or string inputs or outputs"
    training = [to_array(keras, output) for output in flat_outputs(invoke(layer, inputs, name, True))]
    found.update(described("training", training))
    return found, partial


def _graph_layer(keras, layer, name, inputs):
    """A layer of a graph backend (standalone Keras 1 and 2): called on ``Input`` tensors, its outputs and
    input gradients through backend functions in the test and the training phase."""
    backend = keras.backend
    tensors = [keras.layers.Input(shape=array.shape[1:], dtype=str(array.dtype)) for array in inputs]
    outputs = flat_outputs(invoke(layer, tensors, name, None))
    adapted = adapt(layer, family_of(name), inputs)
    found, partial = described("adapted" if adapted else "weights", floating(layer.get_weights())), {}
    if not adapted:
        set_weights(layer)
    run = backend.function(tensors + [backend.learning_phase()], outputs)
    inference = [np.asarray(value) for value in run(inputs + [0])]
    found.update(described("inference", inference))
    if all(array.dtype.kind == "f" for array in inputs):
        try:
            weights = [checksum_weights(array.size).reshape(array.shape).astype("float32") for array in inference]
            total = sum(backend.sum(output * backend.constant(weight)) for output, weight in zip(outputs, weights))
            gradient = backend.function(tensors + [backend.learning_phase()], backend.gradients(total, tensors))
            found.update(described("gradient", [np.asarray(value) for value in gradient(inputs + [0])]))
        except Exception as exc:
            partial["gradient"] = one_line(exc)
    found.update(described("training", [np.asarray(value) for value in run(inputs + [1])]))
    return found, partial


RUNNERS = {
    "initializers": run_initializer,
    "activations": run_activation,
    "losses": run_loss,
    "metrics": run_metric,
    "optimizers": run_optimizer,
    "schedules": run_schedule,
    "layers": run_layer,
    "callbacks": run_callback,
    "ops": run_op,
}
