"""A model's layer graph, its intermediate values, its variables and their gradients, in every Keras version.

The per-layer records (:mod:`probe.records`) need what no public API gave alike from Keras 0.3 to 3: the
layers in topological order with the tensors each received and produced, those tensors' values on a batch
in inference mode, a wrapper's inner layers run on their own, and each trainable variable's name, value
and loss gradient. Python 3.6-compatible on purpose: the probe runs in era-authentic interpreters.
"""

import numpy as np

from probe.frameworks import NotApplicable, backend_name, eager, keras_major, to_numpy
from probe.spelling import listed
from probe.training import sample_count


def layer_graph(keras, model):
    """The layers of ``model`` in topological order, each with the tensors it received and produced in this
    model's own graph: ``[(layer, input_tensors, output_tensors)]``, input layers left out. Found from the
    outputs backwards through each tensor's ``_keras_history`` (layer, node index, tensor index) and the
    layer's inbound node, which Keras 1, 2 and 3 all keep (``layer.output`` would give a nested model's
    own graph in tf.keras 2). Keras 0.3 keeps none: its Sequential's chain stands in for it."""
    if keras_major(keras) < 1:
        return _sequential_graph_keras_03(model)
    if not hasattr(model, "outputs"):
        raise NotApplicable("per-layer records need a model with a layer graph")
    inputs = set(id(tensor) for tensor in listed(model.inputs))
    order, seen = [], set()

    def visit(tensor):
        if id(tensor) in inputs:
            return
        history = tensor._keras_history
        layer, node_index = history[0], history[1]
        if (id(layer), node_index) in seen:
            return
        seen.add((id(layer), node_index))
        nodes = layer._inbound_nodes if hasattr(layer, "_inbound_nodes") else layer.inbound_nodes  # Keras 1 to 2.0
        node = nodes[node_index]
        received = listed(node.input_tensors)
        for inbound in received:
            visit(inbound)
        produced = node.output_tensors if hasattr(node, "output_tensors") else node.outputs
        if type(layer).__name__ != "InputLayer":
            order.append((layer, received, listed(produced)))

    for output in listed(model.outputs):
        visit(output)
    return order


def _sequential_graph_keras_03(model):
    """Keras 0.3 keeps no graph of tensors, but a Sequential chains its layers: each one's test-phase output
    (``get_output(train=False)``, a Theano or TensorFlow expression) feeds the next."""
    if type(model).__name__ != "Sequential":
        raise NotApplicable("per-layer records on Keras 0.3 need a Sequential model")
    order, previous = [], model.get_input(train=False)
    for layer in model.layers:
        output = layer.get_output(train=False)
        order.append((layer, [previous], [output]))
        previous = output
    return order


def model_inputs(keras, model):
    """The input tensors of ``model``'s graph (Keras 0.3: a Sequential's one input expression)."""
    return [model.get_input(train=False)] if keras_major(keras) < 1 else listed(model.inputs)


def evaluate_tensors(keras, model, tensors, x):
    """The values of ``tensors`` (of ``model``'s graph) for the input ``x``, in inference mode, as NumPy
    arrays: a sub-model where Keras builds models of any tensors (Keras 3, tf.keras 2), else a backend
    function in the test phase (standalone Keras 0.3 to 2, on Theano or TensorFlow 1)."""
    inputs = model_inputs(keras, model)
    feeds = listed(x)
    if eager(keras):
        sub = keras.models.Model(inputs, list(tensors))
        values = sub.predict(feeds if len(feeds) > 1 else feeds[0], batch_size=len(feeds[0]), verbose=0) \
            if backend_name(keras) == "jax" else sub(feeds if len(feeds) > 1 else feeds[0], training=False)
        return [to_numpy(keras, value) for value in listed(values)]
    return _in_test_phase(keras.backend, inputs, list(tensors), feeds)


def _in_test_phase(backend, inputs, outputs, feeds):
    """The values of ``outputs`` for ``feeds`` through a backend function in the test phase (learning
    phase 0), as NumPy arrays; a graph that takes no learning phase (nothing in it behaves differently in
    training) is evaluated without one."""
    try:
        values = backend.function(inputs + [backend.learning_phase()], outputs)(feeds + [0])
    except Exception:
        values = backend.function(inputs, outputs)(feeds)
    return [np.asarray(value) for value in listed(values)]


def wrapped_outputs(keras, wrapper, x):
    """``[(role, layer, output)]`` of the layers a wrapper runs, on the wrapper's input ``x``: TimeDistributed's
    layer on every step (``layer``), Bidirectional's ``forward`` and ``backward`` layers; nothing for any
    other layer."""
    kind = type(wrapper).__name__
    if kind == "TimeDistributed":
        shape = np.shape(x)
        steps = call_on_array(keras, wrapper.layer, np.reshape(x, (shape[0] * shape[1],) + tuple(shape[2:])))
        return [("layer", wrapper.layer, steps.reshape(tuple(shape[:2]) + steps.shape[1:]))]
    if kind == "Bidirectional":
        return [(role, layer, call_on_array(keras, layer, x)) for role, layer in (("forward", wrapper.forward_layer), ("backward", wrapper.backward_layer))]
    return []


def call_on_array(keras, layer, x):
    """A built layer applied to a NumPy array in inference mode: called directly where layers run eagerly,
    else through a backend function of a placeholder of ``x``'s shape (standalone Keras 1 and 2)."""
    if eager(keras):
        return to_numpy(keras, layer(x))
    placeholder = keras.backend.placeholder(shape=np.shape(x))
    return _in_test_phase(keras.backend, [placeholder], [layer.call(placeholder)], [x])[0]


def graph_gradients(keras, model, variables, x, y):
    """The loss gradients of ``variables`` for the compiled ``model`` in one backend evaluation, nothing
    updated, where a training step cannot be trusted to give them: standalone Keras on TensorFlow 1, whose
    step may apply one weight's update before another weight's gradient reads it (at the records' rate
    of 1024, Keras 1.2 on TensorFlow 0.12 gave the first Dense of the classifier gradients 40 times too
    large). ``None`` elsewhere: a step is exact there (Theano applies its updates together; eager
    backends compute every gradient first)."""
    if eager(keras) or keras_major(keras) < 1 or keras_major(keras) >= 3 or backend_name(keras) != "tensorflow":
        return None
    backend = keras.backend
    model = getattr(model, "model", model)  # Keras 1 to 2.1: a Sequential compiles the Model inside it
    placeholders = (list(getattr(model, "_feed_inputs", model.inputs)) + list(getattr(model, "_feed_targets", model.targets))
                    + list(getattr(model, "_feed_sample_weights", model.sample_weights)))
    feeds = listed(x) + listed(y)
    feeds += [np.ones((sample_count(x),), "float32")] * (len(placeholders) - len(feeds))  # the sample weights
    # the training phase, as a step runs (an unused placeholder may be fed)
    function = backend.function(placeholders + [backend.learning_phase()], backend.gradients(model.total_loss, list(variables)))
    return [np.asarray(value, "float64") for value in function(feeds + [1])]


# Keras 1's names of the weights Keras 2 renamed, so records match across the two
KERAS1_WEIGHT_NAMES = {"W": "kernel", "b": "bias", "U": "recurrent_kernel"}


def weight_name(layer, variable):
    """A variable's short name within its layer, as Keras 2 and later name it (``kernel``; Keras 1's
    ``dense_1_W`` -> ``W`` -> ``kernel``)."""
    name = str(getattr(variable, "path", None) or getattr(variable, "name", "w")).split("/")[-1].split(":")[0]
    prefix = layer.name + "_"
    name = name[len(prefix):] if name.startswith(prefix) else name
    return KERAS1_WEIGHT_NAMES.get(name, name)


def trainable_variables(layer):
    """The layer's trainable variables (``trainable_weights`` in every version)."""
    return list(getattr(layer, "trainable_weights", []))


def variable_value(keras, variable):
    """A variable's current value as a NumPy array."""
    if getattr(keras, "ops", None) is not None and hasattr(keras.ops, "convert_to_numpy"):
        return to_numpy(keras, variable)
    return np.asarray(keras.backend.get_value(variable))
