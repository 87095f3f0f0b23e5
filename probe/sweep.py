"""The API sweep: coverage by construction, from what the library itself lists as public.

The canaries find what they were written to find; the sweep finds what nobody wrote a canary for. In each
environment it enumerates the public entries of the documented door (``keras`` or ``tf.keras``, as
:func:`probe.frameworks.front_doors` resolves it) and exercises each on deterministic NumPy data, one task
per kind (``sweep.<kind>``):

- ``initializers``: every public initializer class, with ``seed=1`` where it takes one, on the shapes of
  :data:`INITIALIZER_SHAPES` (ranks 1 to 4): mean, std, min, max and a fixed-weight checksum per shape;
- ``activations``: every public activation function on the fixed points of :data:`POINTS`;
- ``losses``: every public loss class with its defaults, on the label layouts that suit it
  (:func:`layouts_of`), without and with :data:`SAMPLE_WEIGHT`;
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
(:func:`watch_constructions` notes them; the result keeps them per task as ``facts.constructed``);
``off`` sweeps nothing. Every entry runs under a time cap (:data:`ENTRY_CAP_S`); one that raises or runs
out of time is skipped with its one-line reason, never failing the task.

**Old versions.** A kind whose public base class a version lacks (loss and metric classes before Keras 2.3,
schedules before tf.keras 2, initializer classes before Keras 2) is ``skipped`` with the reason; layers are
not swept on Keras 0.3, whose layers are only chained by a Sequential.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""

import contextlib
import functools
import inspect
import signal
import sys
import threading
import time

import numpy as np

from probe import frameworks, spelling
from probe.frameworks import NotApplicable
from probe.introspect import public_members
from probe.optimizers import OPTIMIZER_KWARGS
from probe.state import STATE
from probe.task import Task

MODES = ("targeted", "full", "off")
DEFAULT_MODE = "targeted"
KINDS = ("initializers", "activations", "losses", "metrics", "optimizers", "schedules", "layers")
# The namespace each kind sweeps, and the name of the public base class its entries derive from (None: functions).
NAMESPACES = {
    "initializers": ("initializers", "Initializer"),
    "activations": ("activations", None),
    "losses": ("losses", "Loss"),
    "metrics": ("metrics", "Metric"),
    "optimizers": ("optimizers", "Optimizer"),
    "schedules": ("optimizers.schedules", "LearningRateSchedule"),
    "layers": ("layers", "Layer"),
}
# The fixed core the targeted sweep always covers, by public name: the entries most users call.
CORE = {
    "initializers": ("GlorotUniform", "HeNormal", "Orthogonal", "RandomNormal", "Zeros"),
    "activations": ("elu", "gelu", "relu", "selu", "sigmoid", "silu", "softmax", "swish", "tanh"),
    "losses": ("BinaryCrossentropy", "CategoricalCrossentropy", "MeanSquaredError", "SparseCategoricalCrossentropy"),
    "metrics": ("AUC", "BinaryAccuracy", "CategoricalAccuracy", "Mean", "Precision"),
    "optimizers": ("Adam", "AdamW", "SGD"),
    "schedules": ("CosineDecay", "ExponentialDecay"),
    "layers": ("BatchNormalization", "Conv2D", "Dense", "Dropout", "Embedding", "LSTM", "LayerNormalization",
               "MultiHeadAttention", "Normalization", "RandomFlip"),
}

SEED = 1  # given to every entry that takes a seed
WEIGHT_SEED = 1  # the NumPy weights of a layer (set_weights)
CHECKSUM_SEED = 5  # the fixed weights of every checksum and of the scalar whose gradient is taken
ENTRY_CAP_S = 10.0  # one entry's time cap: past it the entry is skipped
SNIPPET_LINES = 15

# Values for parameters without a default, by parameter name, whatever the class.
REQUIRED = {
    # layers
    "units": 3, "filters": 2, "kernel_size": 3, "pool_size": 2, "output_size": 2, "rate": 0.5, "stddev": 0.5,
    "input_dim": 10, "output_dim": 3, "n": 2, "dims": (2, 1), "target_shape": (3, 2), "axes": 1, "scale": 0.5,
    "num_heads": 2, "key_dim": 2, "head_dim": 2, "num_query_heads": 2, "num_key_value_heads": 1,
    "height": 4, "width": 4, "factor": 0.2, "height_factor": 0.2, "width_factor": 0.2, "num_bins": 4,
    "num_tokens": 10, "equation": "ab,bc->ac", "output_shape": 3, "activation": "relu",
    # metrics
    "num_classes": 3, "target_class_ids": (0, 1), "recall": 0.5, "precision": 0.5, "specificity": 0.5,
    "sensitivity": 0.5,
    # schedules
    "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "first_decay_steps": 10,
    "boundaries": (10, 20), "values": (0.1, 0.05, 0.01),
    # activations
    "threshold": 0.5, "default_value": 0.0,
}
# Parameters without a default whose value is another public object: (namespace, name, arguments).
REQUIRED_OBJECTS = {
    "layer": ("layers", "Dense", {"units": 2}),
    "cell": ("layers", "SimpleRNNCell", {"units": 2}),
    "inner_optimizer": ("optimizers", "SGD", {}),
}
# Layers whose defaults cannot run on the small inputs of LAYER_INPUTS, or that need a particular object.
LAYER_ARGUMENTS = {
    "Bidirectional": {"layer": ("layers", "LSTM", {"units": 2})},
    "CategoryEncoding": {"num_tokens": 10},
    "Discretization": {"num_bins": 4},
    "GroupNormalization": {"groups": 3},
    "MelSpectrogram": {"fft_length": 16, "num_mel_bins": 4, "sequence_length": 16, "sequence_stride": 8},
    "RandomPosterization": {"factor": 4},
    "STFTSpectrogram": {"fft_length": 16, "frame_length": 16, "frame_step": 8},
}
# Each optimizer runs with its defaults and with each of these its signature accepts (all keys of one).
OPTIMIZER_VARIANTS = (
    {"weight_decay": 0.1},
    {"clipnorm": 0.1},
    {"clipvalue": 0.01},
    {"global_clipnorm": 0.1},
    {"use_ema": True},
    {"gradient_accumulation_steps": 2},
    {"amsgrad": True},
    {"momentum": 0.9},
    {"momentum": 0.9, "nesterov": True},
    {"centered": True},
)
SCHEDULE_VARIANTS = ({"staircase": True}, {"cycle": True})

# -- data -------------------------------------------------------------------------------------------------

INITIALIZER_SHAPES = ((7,), (5, 6), (3, 4, 5), (2, 3, 4, 5))
POINTS = (-1000.0, -20.0, -3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0, 20.0, 1000.0)  # saturated at both ends
POINTS_SHAPE = (2, 6)  # two rows: softmax-like functions normalise each, glu halves them
OPTIMIZER_STEPS = 5
OPTIMIZER_START = ((0.5, -0.3), (0.2, 0.8), (-0.6, 0.1))  # the variable, shape (3, 2)
OPTIMIZER_SCALES = ((1.0, 2.0), (0.5, 4.0), (3.0, 0.25))  # gradient a * (w - c): a quadratic bowl
OPTIMIZER_CENTRE = ((0.1, 0.2), (-0.3, 0.4), (0.0, -0.5))
SCHEDULE_STEPS = tuple(range(0, 55, 5))

# Label layouts: name -> (y_true, y_pred) as Python literals (the snippets print them as they are).
PROBABILITIES = [[0.0, 0.3, 0.7], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [1.0, 0.0, 0.0]]  # exact 0 and 1: clipping shows
LAYOUTS = {
    "rank1": ([0.0, 1.0, 1.0, 0.0], [0.1, 0.8, 0.4, 0.0]),
    "rank2": ([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], PROBABILITIES),
    "sparse_rank1": ([2, 1, 0, 0], PROBABILITIES),
    "sparse_rank2": ([[2], [1], [0], [0]], PROBABILITIES),
    "ids": ([2, 1, 0, 0], [2, 0, 0, 1]),
    "values": ([1.0, 2.0, 3.0, 4.0], None),
    "ctc": ([[1, 2, 3], [2, 2, 0]], "np.random.RandomState(7).uniform(-1, 1, size=(2, 6, 5))"),
    "embedding": ([0, 1, 0, 1], PROBABILITIES),
}
SAMPLE_WEIGHT = [1.0, 0.5, 2.0, 0.0]
# The layouts of a loss or metric class: the first rule with a word its name contains, else DEFAULT_LAYOUTS.
LAYOUT_RULES = (
    (("CTC",), ("ctc",)),
    (("Circle",), ("embedding",)),
    (("Sparse", "GeneralizedCrossEntropy"), ("sparse_rank1", "sparse_rank2")),
    (("OneHot",), ("rank2",)),
    (("BinaryIoU",), ("rank1", "rank2")),
    (("IoU",), ("ids",)),
    (("Categorical", "TopK", "KLDivergence", "F1Score", "FBetaScore"), ("rank2",)),
)
EXACT_LAYOUTS = {"Mean": ("values",), "Sum": ("values",)}
DEFAULT_LAYOUTS = ("rank1", "rank2")


def _uniform(seed, shape, low=-1, high=1):
    return 'np.random.RandomState(%d).uniform(%g, %g, size=%r).astype("float32")' % (seed, low, high, tuple(shape))


# Layer inputs by family: Python expressions of NumPy (the snippets repeat them as they are).
LAYER_INPUTS = {
    "flat": [_uniform(3, (2, 6))],
    "sequence": [_uniform(3, (2, 5, 3))],
    "1d": [_uniform(3, (2, 8, 3))],
    "2d": [_uniform(3, (2, 6, 6, 3))],
    "3d": [_uniform(3, (2, 4, 4, 4, 2))],
    "convlstm1d": [_uniform(3, (2, 3, 6, 2))],
    "convlstm2d": [_uniform(3, (2, 3, 5, 5, 2))],
    "convlstm3d": [_uniform(3, (2, 2, 4, 4, 4, 1))],
    "image": [_uniform(3, (2, 8, 8, 3), 0, 1)],
    "audio": [_uniform(3, (2, 64))],
    "audio_channels": [_uniform(3, (2, 64, 1))],
    "pair": [_uniform(3, (2, 6)), _uniform(4, (2, 6))],
    "attention": [_uniform(3, (2, 4, 3)), _uniform(4, (2, 5, 3))],
    "tokens": ["np.random.RandomState(3).randint(0, 10, size=(2, 5))"],
    "token_pair": ["np.random.RandomState(3).randint(0, 10, size=(2, 1))", "np.random.RandomState(4).randint(0, 10, size=(2, 1))"],
    "strings": ['np.array([["the", "cat", "sat"], ["a", "dog", "ran"]])'],
}
# A layer's family: the first rule with a word its class name contains (EXACT_FAMILIES first), else "flat".
EXACT_FAMILIES = {
    "Add": "pair", "Subtract": "pair", "Multiply": "pair", "Average": "pair", "Maximum": "pair", "Minimum": "pair",
    "Concatenate": "pair", "Dot": "pair", "Attention": "attention", "AdditiveAttention": "attention",
    "MultiHeadAttention": "attention", "GroupQueryAttention": "attention",
}
LAYER_FAMILIES = (
    (("ConvLSTM1D",), "convlstm1d"),
    (("ConvLSTM2D",), "convlstm2d"),
    (("ConvLSTM3D",), "convlstm3d"),
    (("HashedCrossing",), "token_pair"),
    (("MelSpectrogram",), "audio"),
    (("STFTSpectrogram",), "audio_channels"),
    (("Embedding", "CategoryEncoding", "IntegerLookup", "Hashing"), "tokens"),
    (("StringLookup", "TextVectorization"), "strings"),
    (("3D",), "3d"),
    (("2D",), "2d"),
    (("1D",), "1d"),
    (("Random", "Resizing", "CenterCrop", "AutoContrast", "Equalization", "Solarization", "AugMix", "RandAugment",
      "CutMix", "MixUp"), "image"),
    (("RNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed", "Masking", "Permute", "Flatten"), "sequence"),
)
# Layers called with a list of their inputs; attention layers that take them as arguments (query, value).
LIST_INPUT = ("pair", "token_pair")
ARGUMENT_INPUTS = ("MultiHeadAttention", "GroupQueryAttention")
# Statistics recorded of every array; initializers add min and max.
STATISTICS = ("mean", "std", "checksum")
INITIALIZER_STATISTICS = ("mean", "std", "min", "max", "checksum")
# Packages whose own constructions are not a task's calls (a library building its parts).
LIBRARY_PACKAGES = ("keras", "tf_keras", "tensorflow", "jax", "jaxlib", "flax", "torch", "theano", "optree", "numpy")


class Settings(object):
    """What this process sweeps: ``mode`` (:data:`MODES`), the public classes the tasks run before the sweep
    constructed (``called``: ``layers.Dense``, ...), and whether a sweep task is running (``active``: its
    own constructions are not the tasks' calls)."""

    def __init__(self):
        self.mode = DEFAULT_MODE
        self.called = frozenset()
        self.active = False


SETTINGS = Settings()
# Every watched public class -> its name as noted (``layers.Dense``).
_NOTED_AS = {}


# -- which classes the tasks construct --------------------------------------------------------------------


def watch_constructions(keras):
    """Wrap the ``__init__`` of every public class of the swept namespaces (in place, as
    :func:`probe.optimizers.watch_api_calls` does) so that a construction called from outside the library
    notes the class in ``STATE.constructed``; a class the library builds for itself (an LSTM's cell, the
    loss tracker of ``compile``) is not the task's call. The wrapper keeps the signature the library and
    ``inspect.getfullargspec`` read (Keras 3 reads it to make a layer's config)."""
    if keras is None:  # no framework: the probe's own tests run stand-in tasks
        return
    for kind in KINDS:
        namespace, base_name = NAMESPACES[kind]
        module = _namespace(keras, namespace)
        base = getattr(module, base_name, None) if module is not None and base_name else None
        if not inspect.isclass(base):
            continue
        for name, cls in public_classes(module, base):
            _NOTED_AS[cls] = "%s.%s" % (namespace, name)
            if "__init__" in vars(cls) and not getattr(vars(cls)["__init__"], "_keras_drift_noted", False):
                cls.__init__ = _noting(cls.__init__)


def _noting(original):
    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        if not SETTINGS.active:
            _note(type(self), sys._getframe(1).f_globals.get("__name__", ""))
        original(self, *args, **kwargs)

    __init__._keras_drift_noted = True
    try:
        __init__.__signature__ = inspect.signature(original)
    except (TypeError, ValueError):
        pass
    return __init__


def _note(cls, caller):
    if caller.split(".", 1)[0] in LIBRARY_PACKAGES:
        return
    for klass in cls.__mro__:  # a user's subclass of Dense calls Dense
        if klass in _NOTED_AS:
            STATE.constructed.add(_NOTED_AS[klass])
            return


def called_in(facts):
    """The public classes the finished tasks constructed, from their ``facts`` (``{task: facts}``): kept
    in the result, so a resumed process knows them too."""
    found = set()
    for task_facts in facts.values():
        found.update(task_facts.get("constructed", ()))
    return frozenset(found)


# -- names ------------------------------------------------------------------------------------------------


class Call(object):
    """A public callable of a namespace with keyword arguments, named as a user writes the call
    (``layers.Dense(units=3)``, arguments sorted, no spaces); ``leading`` names positional placeholders
    written first (``activations.relu(x)``)."""

    def __init__(self, namespace, name, arguments=None, leading=()):
        self.namespace = namespace
        self.name = name
        self.arguments = dict(arguments or {})
        self.leading = tuple(leading)

    def text(self, prefix=""):
        """The call as written, each namespace after ``prefix`` (``keras.`` in a snippet)."""
        parts = list(self.leading) + ["%s=%s" % (key, render(value, prefix)) for key, value in sorted(self.arguments.items())]
        return "%s%s.%s(%s)" % (prefix, self.namespace, self.name, ",".join(parts))

    def target(self, keras):
        """The callable this call names in ``keras``."""
        return getattr(_namespace(keras, self.namespace), self.name)

    def make(self, keras):
        """Call it with its arguments (objects among them made first), without the leading placeholders."""
        return self.target(keras)(**dict((key, made(keras, value)) for key, value in self.arguments.items()))


def render(value, prefix=""):
    """An argument value as a user writes it, without spaces: stable in every environment."""
    if isinstance(value, Call):
        return value.text(prefix)
    if isinstance(value, tuple):
        return "(%s%s)" % (",".join(render(item, prefix) for item in value), "," if len(value) == 1 else "")
    if isinstance(value, list):
        return "[%s]" % ",".join(render(item, prefix) for item in value)
    return repr(value)


def made(keras, value):
    """An argument value as passed: a :class:`Call` made into its object."""
    return value.make(keras) if isinstance(value, Call) else value


def entry_key(kind, call):
    """The entry's name in the result's ``sweep`` section and in its metrics: ``<kind>.<call without the
    namespace>`` (``layers.Dense(units=3)``, ``schedules.ExponentialDecay(...)``)."""
    return "%s.%s" % (kind, call.text()[len(call.namespace) + 1:])


def shape_text(shape):
    """``shape(3,4,5)``; ``shape(7)`` for a rank-1 shape."""
    return "shape(%s)" % ",".join(str(size) for size in shape)


# -- enumeration ------------------------------------------------------------------------------------------


def _namespace(keras, dotted):
    module = keras
    for part in dotted.split("."):
        module = getattr(module, part, None) if module is not None else None
    return module


def public_classes(module, base):
    """``[(name, class)]``: the public classes of ``module`` that derive from ``base`` (not ``base``
    itself), each once under its canonical name, sorted by name. The canonical name is the shortest name
    the module exports it under, a capitalised one first, then alphabetically (``Conv2D``, not
    ``Convolution2D``; ``Orthogonal``, whose ``__name__`` was ``OrthogonalInitializer`` in Keras 3.5 and is
    ``Orthogonal`` in 3.15): never the class's own ``__name__``, which a release may change."""
    names = {}
    for name, value in public_members(module):
        if inspect.isclass(value) and issubclass(value, base) and value is not base:
            names.setdefault(value, []).append(name)
    found = [(min(aliases, key=lambda alias: (not alias[:1].isupper(), len(alias), alias)), cls) for cls, aliases in names.items()]
    return sorted(found, key=lambda pair: pair[0])


EXCLUDED_FUNCTIONS = ("deserialize", "get", "serialize")


def public_functions(module, word):
    """``[(name, function)]``: the public functions of ``module`` defined in a module whose name holds
    ``word`` (not the helpers it imports), each once under its first name, sorted by name."""
    seen, found = set(), []
    for name, value in public_members(module):
        if name in EXCLUDED_FUNCTIONS:
            continue
        if (callable(value) and not inspect.isclass(value) and word in str(getattr(value, "__module__", ""))
                and id(value) not in seen):
            seen.add(id(value))
            found.append((name, value))
    return found


def arguments_for(target, name, given=None, always=None, leading=0, partial=False):
    """The keyword arguments of a call of ``target`` (a class's ``__init__`` or a function, whose first
    ``leading`` parameters the sweep passes itself): ``given``, then :data:`REQUIRED` (and
    :data:`REQUIRED_OBJECTS`) for each parameter without a default, then ``always`` (``seed``) where it
    accepts them. Raise ``ValueError("... needs <parameter>=...")`` for a required parameter no table names."""
    arguments = dict((key, argument_value(value)) for key, value in (given or {}).items())
    for parameter in _parameters(target)[leading:]:
        if parameter.name in arguments or parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if parameter.name in REQUIRED:
            arguments[parameter.name] = REQUIRED[parameter.name]
        elif parameter.name in REQUIRED_OBJECTS:
            arguments[parameter.name] = argument_value(REQUIRED_OBJECTS[parameter.name])
        elif not partial:  # partial: the arguments the tables do give, to name an entry skipped for the rest
            raise ValueError("%s needs %s=, which the sweep's tables do not give" % (name, parameter.name))
    for key, value in (always or {}).items():
        if spelling.accepts(target, key) and key not in arguments:
            arguments[key] = value
    return arguments


def argument_value(value):
    """A table's value as an argument: ``(namespace, name, arguments)`` is that public object's :class:`Call`."""
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[2], dict):
        return Call(value[0], value[1], value[2])
    return value


def _parameters(target):
    function = target.__init__ if inspect.isclass(target) else target
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return []
    return parameters[1:] if inspect.isclass(target) else parameters


def accepts_all(cls, variant):
    """Whether ``cls``'s signature names every option of ``variant`` (clipping options also where an older
    optimizer takes them through ``**kwargs``)."""
    return all(spelling.accepts(cls, key) or (key in OPTIMIZER_KWARGS and _takes_kwargs(cls)) for key in variant)


def _takes_kwargs(cls):
    return any(parameter.kind == inspect.Parameter.VAR_KEYWORD for parameter in _parameters(cls))


def layouts_of(name):
    """The label layouts a loss or metric class is exercised on (:data:`LAYOUT_RULES`)."""
    return by_rules(name, EXACT_LAYOUTS, LAYOUT_RULES, DEFAULT_LAYOUTS)


def family_of(name):
    """A layer's family (:data:`LAYER_FAMILIES`): which input of :data:`LAYER_INPUTS` it is built for."""
    return by_rules(name, EXACT_FAMILIES, LAYER_FAMILIES, "flat")


def by_rules(name, exact, rules, default):
    """What a table gives a class name: its own entry in ``exact``, else that of the first of ``rules``
    (``(words, value)``) with a word the name contains, else ``default``."""
    if name in exact:
        return exact[name]
    for words, value in rules:
        if any(word in name for word in words):
            return value
    return default


class Entry(object):
    """One thing the sweep exercises: its kind, its :class:`Call`, whether it draws random numbers, and
    the reason it cannot be called, found before it runs (a required parameter no table names)."""

    def __init__(self, kind, call, random_stream=False, reason=None, public=None):
        self.kind = kind
        self.call = call
        self.random_stream = random_stream
        self.reason = reason
        self.public = public or call.name  # the public name targeted sweeps select by

    @property
    def key(self):
        return entry_key(self.kind, self.call)


def _class_entries(kind, keras, extra_arguments=None, variants=(), accept=None):
    namespace, base_name = NAMESPACES[kind]
    module = _namespace(keras, namespace)
    base = getattr(module, base_name, None) if module is not None else None
    if not inspect.isclass(base):
        raise NotApplicable("no %s.%s in Keras %s" % (namespace, base_name, frameworks.keras_version(keras)))
    found = []
    for name, cls in public_classes(module, base):
        given = dict((extra_arguments or {}).get(name, {}))
        random = spelling.accepts(cls, "seed")
        for variant in ({},) + tuple(variant for variant in variants if (accept or accepts_all)(cls, variant)):
            try:
                arguments = arguments_for(cls, name, dict(given, **variant), {"seed": SEED})
                found.append(Entry(kind, Call(namespace, name, arguments), random_stream=random))
            except ValueError as reason:
                found.append(Entry(kind, Call(namespace, name, arguments_for(cls, name, dict(given, **variant), partial=True)),
                                   reason=str(reason)))
    return found


def entries(kind, keras):
    """Every entry of ``kind`` this Keras has (:class:`Entry`), in name order; :class:`NotApplicable`
    where the version has no such kind."""
    if keras is None:
        raise NotApplicable("no Keras loaded")
    if kind == "activations":
        module = getattr(keras, "activations", None)
        if module is None:
            raise NotApplicable("no keras.activations in Keras %s" % frameworks.keras_version(keras))
        found = []
        for name, function in public_functions(module, "activations"):
            call = Call("activations", name, leading=("x",))
            try:
                call.arguments = arguments_for(function, name, leading=1)
                found.append(Entry(kind, call))
            except ValueError as reason:
                found.append(Entry(kind, call, reason=str(reason)))
        return found
    if kind == "layers" and frameworks.keras_major(keras) < 1:
        raise NotApplicable("Keras %s's layers are only chained by a Sequential: not swept" % frameworks.keras_version(keras))
    if kind == "initializers" and frameworks.keras_major(keras) < 2:
        raise NotApplicable("Keras %s's initializations are functions of a shape, without classes or seeds: not swept"
                            % frameworks.keras_version(keras))
    variants = {"optimizers": OPTIMIZER_VARIANTS, "schedules": SCHEDULE_VARIANTS}.get(kind, ())
    extra = LAYER_ARGUMENTS if kind == "layers" else None
    return _class_entries(kind, keras, extra, variants)


def selected(kind, found, mode=None, called=None):
    """The entries a sweep in ``mode`` exercises: all of them (``full``), or (``targeted``) those of the
    fixed :data:`CORE` and of the classes the tasks constructed (``called``: ``layers.Dense``, ...)."""
    mode = mode or SETTINGS.mode
    if mode == "full":
        return list(found)
    if mode == "off":
        return []
    namespace = NAMESPACES[kind][0]
    wanted = set(CORE[kind]) | set(name[len(namespace) + 1:] for name in (SETTINGS.called if called is None else called)
                                   if name.startswith(namespace + ".") and "." not in name[len(namespace) + 1:])
    return [entry for entry in found if entry.public in wanted]


# -- numbers ----------------------------------------------------------------------------------------------


def checksum_weights(size):
    """The fixed weights of a checksum over ``size`` values (they depend on the size only)."""
    return np.random.RandomState(CHECKSUM_SEED).uniform(-1, 1, size=size)


def statistics(array, names=STATISTICS):
    """The stable statistics of an array: ``names`` of mean, std, min, max, and ``checksum`` (a sum
    weighted by :func:`checksum_weights`: a value that moves moves it, where a permutation keeps the mean)."""
    values = np.asarray(array, dtype="float64").ravel()
    if values.size == 0:
        return {}
    measures = {"mean": lambda: values.mean(), "std": lambda: values.std(), "min": lambda: values.min(),
                "max": lambda: values.max(), "checksum": lambda: np.dot(values, checksum_weights(values.size))}
    return dict((name, float(measures[name]())) for name in names)


def described(prefix, value, names=STATISTICS):
    """``{prefix.what: number}`` for a result: itself where it is one number, else its shape (a string),
    dtype and statistics; a list of results each under ``prefix[k]``."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return described(prefix, value[0], names)
        found = {}
        for index, item in enumerate(value):
            found.update(described("%s[%d]" % (prefix, index), item, names))
        return found
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        return {prefix + ".shape": "x".join(str(size) for size in array.shape), prefix + ".dtype": str(array.dtype)}
    if array.size == 1 and array.ndim == 0:
        return {prefix: float(array)}
    found = {prefix + ".shape": "x".join(str(size) for size in array.shape), prefix + ".dtype": str(array.dtype)}
    found.update((prefix + "." + name, number) for name, number in statistics(array, names).items())
    return found


# -- the backend ------------------------------------------------------------------------------------------


def to_array(keras, value):
    """A backend tensor, variable or NumPy value as a NumPy array (a symbolic tensor evaluated)."""
    ops = getattr(keras, "ops", None)
    if ops is not None and hasattr(ops, "convert_to_numpy"):
        return np.asarray(ops.convert_to_numpy(value))
    if isinstance(value, np.ndarray) or np.isscalar(value):
        return np.asarray(value)
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(keras.backend.eval(value))


def to_tensor(keras, array):
    """A NumPy array as a backend tensor (a constant where the backend is a graph)."""
    ops = getattr(keras, "ops", None)
    if ops is not None and hasattr(ops, "convert_to_tensor"):
        return ops.convert_to_tensor(array)
    constant = getattr(keras.backend, "constant", None)
    return constant(array) if constant is not None else keras.backend.variable(array)


def flat_outputs(value):
    """A layer's output as a list of tensors (one output, a tuple or list of them, a dict by sorted key)."""
    if isinstance(value, dict):
        return [item for key in sorted(value) for item in flat_outputs(value[key])]
    if isinstance(value, (list, tuple)):
        return [item for part in value for item in flat_outputs(part)]
    return [value]


def input_gradient(keras, function, inputs, output_shapes):
    """The gradients of ``sum(output * checksum_weights)`` over the outputs of ``function(tensors)`` with
    respect to each of ``inputs`` (NumPy float arrays), as NumPy arrays; :class:`NotApplicable` where the
    backend is none of JAX, TensorFlow (eager) and torch."""
    backend = frameworks.backend_name(keras)
    weights = [checksum_weights(int(np.prod(shape))).reshape(shape).astype("float32") for shape in output_shapes]
    if backend == "jax":
        import jax

        scope = getattr(keras, "StatelessScope", None) or _no_scope

        def scalar(tensors):
            with scope():  # a seed a layer draws even in inference mode stays in the trace (else it leaks into the layer)
                outputs = flat_outputs(function(list(tensors)))
                return sum(jax.numpy.sum(jax.numpy.asarray(output) * weight) for output, weight in zip(outputs, weights))

        arrays = [jax.numpy.asarray(array) for array in inputs]
        try:  # compiled once: op by op, the backward pass cost 0.2 to 2 s a layer, compiled 0.03 to 0.4 s
            gradients = jax.jit(jax.grad(scalar))(arrays)
        except Exception:  # what cannot be traced (a Python branch on a value) is differentiated op by op
            gradients = jax.grad(scalar)(arrays)
        return [np.asarray(gradient) for gradient in gradients]
    if backend == "tensorflow" and frameworks.eager(keras):
        import tensorflow as tf

        tensors = [tf.constant(array) for array in inputs]
        with tf.GradientTape() as tape:
            for tensor in tensors:
                tape.watch(tensor)
            outputs = flat_outputs(function(tensors))
            total = tf.add_n([tf.reduce_sum(tf.cast(output, "float32") * weight) for output, weight in zip(outputs, weights)])
        return [np.asarray(gradient) for gradient in tape.gradient(total, tensors)]
    if backend == "torch":
        import torch

        tensors = [torch.tensor(array, requires_grad=True) for array in inputs]
        outputs = flat_outputs(function(tensors))
        total = sum((output.float() * torch.as_tensor(weight, device=output.device)).sum() for output, weight in zip(outputs, weights))
        total.backward()
        return [tensor.grad.detach().cpu().numpy() for tensor in tensors]
    raise NotApplicable("no gradient with respect to the input on %s here" % backend)


@contextlib.contextmanager
def _no_scope():
    yield


@contextlib.contextmanager
def time_cap(seconds):
    """Raise :class:`EntryTimeout` in the block once ``seconds`` have passed (between Python bytecodes: a
    native call finishes first). Where the task's own budget (an interval timer already running) ends
    sooner, that one is left to fire; otherwise it is paused meanwhile and restarted with what it had left."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer and outer <= seconds:
        yield
        return
    started = time.time()
    previous = signal.signal(signal.SIGALRM, _entry_over)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.time() - started), 0.001))


class EntryTimeout(BaseException):
    """An entry ran past :data:`ENTRY_CAP_S`. A BaseException, so no ``except Exception`` in a library
    swallows it."""


def _entry_over(signum, frame):
    raise EntryTimeout()


def one_line(exc):
    """An exception as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return ("%s: %s" % (type(exc).__name__, text[0]) if text else type(exc).__name__)[:300]


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


def layout_arrays(layout):
    """``(y_true, y_pred)`` of a label layout as NumPy arrays (``y_pred`` ``None`` for plain values)."""
    true, predicted = LAYOUTS[layout]
    y_true = np.array(true, "int32" if isinstance(_first(true), int) else "float32")
    if predicted is None:
        return y_true, None
    y_pred = eval(predicted).astype("float32") if isinstance(predicted, str) else np.array(
        predicted, "int32" if isinstance(_first(predicted), int) else "float32")
    return y_true, y_pred


def _first(values):
    while isinstance(values, list):
        values = values[0]
    return values


def run_loss(keras, entry):
    """The loss on each of its layouts, without and with the sample weight."""
    loss = entry.call.make(keras)
    found, partial = {}, {}
    for layout in layouts_of(entry.call.name):
        y_true, y_pred = layout_arrays(layout)
        for weighting, extra in (("unweighted", {}), ("sample_weight", {"sample_weight": np.array(SAMPLE_WEIGHT[:len(y_true)], "float32")})):
            try:
                found.update(described("%s.%s" % (layout, weighting), to_array(keras, loss(y_true, y_pred, **extra))))
            except Exception as exc:
                partial["%s.%s" % (layout, weighting)] = one_line(exc)
    return found, partial


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
    scales, centre = backend.constant(np.array(OPTIMIZER_SCALES, "float32")), backend.constant(np.array(OPTIMIZER_CENTRE, "float32"))
    loss = 0.5 * backend.sum(scales * backend.square(variable - centre))
    accepted = spelling.parameters(optimizer.get_updates)
    kwargs = {"loss": loss, "params": [variable]}
    if "constraints" in accepted:  # Keras 0.3 zips a list of constraints with the parameters; Keras 1 looks them up
        kwargs["constraints"] = [lambda value: value] if frameworks.keras_major(keras) < 1 else {}
    step = backend.function([], [], updates=optimizer.get_updates(**kwargs))
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


def adapt(layer, inputs):
    """``layer.adapt`` on its input where it adapts; whether it did."""
    method = getattr(layer, "adapt", None)
    if method is None:
        return False
    try:
        method(inputs[0])
    except NotImplementedError:  # a preprocessing layer with nothing to learn
        return False
    return True


def run_layer(keras, entry):
    """Built on its family's input (adapted, else NumPy weights): outputs in inference mode, the gradient
    with respect to the input, outputs in training mode."""
    name = entry.call.name
    inputs = layer_inputs(family_of(name))
    layer = entry.call.make(keras)
    if not frameworks.eager(keras):
        return _graph_layer(keras, layer, name, inputs)
    adapted = adapt(layer, inputs)
    invoke(layer, inputs, name, False)  # builds it
    if not adapted:
        set_weights(layer)
    inference = [to_array(keras, output) for output in flat_outputs(invoke(layer, inputs, name, False))]
    found, partial = described("inference", inference), {}
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
    adapted = adapt(layer, inputs)
    if not adapted:
        set_weights(layer)
    run = backend.function(tensors + [backend.learning_phase()], outputs)
    inference = [np.asarray(value) for value in run(inputs + [0])]
    found, partial = described("inference", inference), {}
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
}

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
            y_true = _literal(true, "int32" if isinstance(_first(true), int) else "float32")
            if predicted is None:
                y_pred = "None"
            elif isinstance(predicted, str):
                y_pred = predicted + '.astype("float32")'
            else:
                y_pred = _literal(predicted, "int32" if isinstance(_first(predicted), int) else "float32")
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
    frameworks.seed_everything(keras, SEED)
    try:
        with time_cap(ENTRY_CAP_S):
            found, partial = RUNNERS[kind](keras, entry)
    except EntryTimeout:
        found, partial = {}, {}
        record["skipped"] = "ran past the sweep's cap of %g s an entry" % ENTRY_CAP_S
    except Exception as exc:
        found, partial = {}, {}
        record["skipped"] = one_line(exc)
    record["seconds"] = round(time.time() - started, 4)
    if partial:
        record["partial"] = partial
    prefix = "sweep." + entry.key + "."
    return dict((prefix + what, value) for what, value in found.items()), record


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
