"""The probe's helpers for your own probe modules: every Keras version's dialect, behind one import.

A probe module of your own (``probes/example_model.py`` is the template) writes ``from probe import
compat`` and calls ``compat.optimizer(keras, "Adam", learning_rate=0.01)``, ``compat.fit(...)``,
``compat.evaluate(...)``, ``compat.keras_major(keras)``, and raises ``compat.NotApplicable("why")`` where a
version cannot run its model. The helpers translate to what the installed Keras accepts, from Keras 0.3 on
Theano to Keras 3 on any backend.

This module is that documented facade and nothing else: it re-exports the public helpers, each defined in
the module of its concern, so that user probes written against it keep working however the probe's own
modules are arranged. The probe's own modules import from those modules directly:

- :mod:`probe.frameworks`: loading Keras through its front doors, its version and backend, seeding,
  installed distributions, raw TensorFlow, :class:`NotApplicable`;
- :mod:`probe.spelling`: the canonical argument names and their spellings over time;
- :mod:`probe.models`: building, compiling, calling and evaluating layers and models;
- :mod:`probe.optimizers`: optimizers, and the watch on how a task spells their learning rate;
- :mod:`probe.training`: ``train_on_batch``, ``fit`` and their step counting;
- :mod:`probe.pace`: a task far too slow per step cut short (:class:`SlowTask`);
- :mod:`probe.configs`: optimizer, initializer, layer and loss configs read in one spelling;
- :mod:`probe.graphs`: layer graphs, intermediate values, variables and gradients;
- :mod:`probe.formats`: saved-model formats, written and loaded back.

The process's counters (training steps, compile seconds, API spellings noted, ...) are not helpers: they
live in :data:`probe.state.STATE`. Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

from probe.configs import (  # noqa: F401
    VARIANCE_SCALING_NAMES,
    describe,
    initializer_configs,
    initializer_names,
    layer_defaults,
    optimizer_config,
    optimizer_config_rest,
    stated_loss_reduction,
)
from probe.formats import (  # noqa: F401
    SAVED_FORMATS,
    call_layer,
    load_model,
    model_from_json,
    optimizer_state,
    run_eagerly,
    save_as,
    saving_formats,
    tfsm_layer,
)
from probe.frameworks import (  # noqa: F401
    COMPILE_CACHE_SINCE,
    DOOR_NAMESPACES,
    SUBMODULES,
    NotApplicable,
    backend_name,
    door_differences,
    eager,
    front_doors,
    installed_distributions,
    keep_compiled_programs,
    keras_major,
    keras_version,
    load_keras,
    release_tuple,
    reset,
    seed_everything,
    tensorflow_v1,
    tf_variables_initializer,
    to_numpy,
)
from probe.graphs import (  # noqa: F401
    KERAS1_WEIGHT_NAMES,
    call_on_array,
    evaluate_tensors,
    graph_gradients,
    layer_graph,
    model_inputs,
    trainable_variables,
    variable_value,
    weight_name,
    wrapped_outputs,
)
from probe.models import (  # noqa: F401
    LAYER_DEFAULT_PREFIXES,
    batch_loss,
    compile_model,
    dense,
    dense_weights,
    evaluate,
    evaluate_all,
    layer,
    loss_object,
    model_of,
    predict,
    sequential,
)
from probe.optimizers import (  # noqa: F401
    LR_KEYWORD_CALL,
    OPTIMIZER_KWARGS,
    named_optimizer,
    optimizer,
    optimizer_accepting,
    watch_api_calls,
)
from probe.pace import Pace, SlowTask, listen_for_warnings  # noqa: F401
from probe.spelling import ARGUMENT_SPELLINGS, ARGUMENT_VALUES, CONFIG_KEYS, HISTORY_KEYS, accepts, spell  # noqa: F401
from probe.training import (  # noqa: F401
    FIRST_STEPS,
    batch_counter,
    canonical_history,
    fit,
    fit_signature_defaults,
    note_step_loss,
    train_on_batch,
    train_steps,
)
