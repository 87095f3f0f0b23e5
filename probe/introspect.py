"""What the library does when not told: resolved defaults and the behaviour of API calls that changed.

Every probe here is caught and recorded: a call that raises is itself the finding (``error: TypeError``),
never a crash of the probe. Version differences stay in the helper modules (:mod:`probe.optimizers`, :mod:`probe.models`,
:mod:`probe.training`, :mod:`probe.configs`).

Beside them, the public API surface a user reaches through the documented door (:func:`api_surface`) and
what every other door reaches differently (:func:`door_surfaces`): each public name of the namespaces users
call, its kind and its signature as one canonical string, so that the host can say which names a bump adds
or removes and whose parameters or defaults change (``keras_drift.judge.surface``).
"""

import inspect

import numpy as np

from probe import configs, models, optimizers, training
from probe.state import STATE

OPTIMIZERS = ("SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam")
# (short name, the loss string the tasks compile, its class, the output activation, targets)
LOSSES = (
    ("mse", "mse", "MeanSquaredError", None, (1.0, 3.0)),
    ("bce", "binary_crossentropy", "BinaryCrossentropy", "sigmoid", (1.0, 0.0)),
)
# Evidence keys: what the library states beside a canonical key (``raw.loss.MeanSquaredError.reduction``
# says ``auto`` where ``loss.mse.reduction`` says what that does). A change shows; no re-run sets them.
RAW = "raw."


def resolved_defaults(keras):
    """``{name: value}`` of what the library resolves when the user says nothing."""
    found = {}
    for name in OPTIMIZERS:
        try:
            instance = optimizers.optimizer(keras, name)
            config = configs.optimizer_config(instance)
            rest = configs.optimizer_config_rest(instance)
        except Exception as exc:
            found["optimizer." + name] = _error(exc)
            continue
        for key, value in config.items():
            if key != "name":
                found["optimizer." + name + "." + key] = value
        for key, value in rest.items():
            found[RAW + "optimizer." + name + "." + key] = value
    try:
        layer = models.dense(keras, 1, input_dim=1)
        model = models.sequential(keras, [layer], input_dim=1)
        for part, initializer in configs.initializer_names(model.layers[-1]).items():
            found["dense." + part + "_initializer"] = initializer
        for part, config in configs.initializer_configs(model.layers[-1]).items():
            found[RAW + "dense." + part + "_initializer"] = config
        for key, value in training.fit_signature_defaults(model).items():
            found["fit." + key] = value
    except Exception as exc:
        found["dense"] = _error(exc)
    for short, loss, class_name, activation, targets in LOSSES:
        _record(found, "loss." + short + ".reduction", _compiled_reduction, keras, loss, activation, targets)
        _record(found, RAW + "loss." + class_name + ".reduction", configs.stated_loss_reduction, keras, class_name)
    return found


def _record(found, key, measure, *args):
    """``found[key] = measure(*args)``, or the error it raised: a call that fails is itself the finding."""
    try:
        found[key] = measure(*args)
    except Exception as exc:
        found[key] = _error(exc)


def _compiled_reduction(keras, loss, activation, targets):
    """The reduction ``compile(loss=loss)`` really applies, measured: a zero-weight model's one-step loss on
    two samples whose losses differ, against their mean and their sum."""
    model = _zero_model(keras, loss, activation)
    x = np.ones((len(targets), 1), "float32")
    y = np.array(targets, "float32").reshape(-1, 1)
    reported = training.train_on_batch(model, x, y)
    per_sample = _per_sample_loss(loss, y.ravel())
    return _which(reported, {"sum_over_batch_size": float(np.mean(per_sample)), "sum": float(np.sum(per_sample))})


def _per_sample_loss(loss, targets):
    """The loss of each sample at output 0 (mse, a linear unit) or 0.5 (cross-entropy, a sigmoid unit)."""
    if loss == "mse":
        return targets ** 2
    return -(targets * np.log(0.5) + (1 - targets) * np.log(0.5))


def api_behaviour(keras):
    """How calls whose meaning changed between versions behave here, one short phrase each."""
    probes = (
        ("SGD(lr=0.1)", _sgd_lr),
        ("Adam(decay=0.01)", _adam_decay),
        ("train_on_batch second call returns", _train_on_batch_second_call),
        ("evaluate with a short last batch returns", _evaluate_short_last_batch),
    )
    found = {}
    for name, probe in probes:
        try:
            found[name] = probe(keras)
        except Exception as exc:
            found[name] = _error(exc)
    return found


def _sgd_lr(keras):
    instance = keras.optimizers.SGD(lr=0.1)
    learning_rate = configs.optimizer_config(instance).get("learning_rate")
    if learning_rate is not None and abs(learning_rate - 0.1) < 1e-6:
        return "honoured"
    return "ignored (learning_rate=%s)" % learning_rate


def _adam_decay(keras):
    instance = keras.optimizers.Adam(decay=0.01)
    decay = configs.optimizer_config(instance).get("decay")
    if decay is not None and abs(decay - 0.01) < 1e-6:
        return "honoured"
    return "ignored (decay not in the optimizer's config)"


def _zero_model(keras, loss="mse", activation=None):
    """Dense(1) at zero weights under plain SGD with learning rate 0: its losses are known exactly."""
    model = models.sequential(keras, [models.dense(keras, 1, activation=activation, input_dim=1)], input_dim=1)
    model.set_weights([np.zeros((1, 1), "float32"), np.zeros((1,), "float32")])
    models.compile_model(model, optimizers.optimizer(keras, "SGD", learning_rate=0.0), loss)
    return model


def _train_on_batch_second_call(keras):
    model = _zero_model(keras)
    x = np.ones((4, 1), "float32")
    first_y, second_y = np.ones((4, 1), "float32"), np.full((4, 1), 3.0, "float32")
    first = training.train_on_batch(model, x, first_y)  # 1.0 at zero weights
    second = training.train_on_batch(model, x, second_y)  # 9.0 for this batch alone
    return _which(second, {"that batch's loss": 9.0, "running mean over calls": (first + 9.0) / 2})


def _evaluate_short_last_batch(keras):
    model = _zero_model(keras)
    count = 40  # batches of 32 and 8
    x = np.ones((count, 1), "float32")
    y = np.concatenate([np.ones(32), np.full(8, 3.0)]).reshape(-1, 1).astype("float32")
    loss = models.evaluate(model, x, y)
    sample_mean = float(np.mean(y ** 2))  # (32 * 1 + 8 * 9) / 40 = 2.6
    return _which(loss, {"sample-weighted mean": sample_mean, "mean of batch means": (1.0 + 9.0) / 2})


def _which(value, candidates):
    for label, expected in candidates.items():
        if abs(value - expected) <= 1e-5 * max(1.0, abs(expected)):
            return label
    return "other (%.6g)" % value


def _error(exc):
    return "error: " + type(exc).__name__


# -- the public API surface ------------------------------------------------------------------------------

# The namespaces whose public names make the surface, dotted under the door (``optimizers.schedules`` is
# ``keras.optimizers.schedules``); one an environment lacks (``ops`` before Keras 3) is left out.
SURFACE_NAMESPACES = ("layers", "activations", "initializers", "losses", "metrics", "optimizers", "optimizers.schedules",
                      "callbacks", "regularizers", "constraints", "models", "utils", "ops", "backend")
# The packages whose classes, functions and submodules belong to the surface, besides the door's own
# (``tensorflow`` for ``tf.keras`` before TensorFlow 2.6): a name a namespace merely imported (``np``,
# ``defaultdict``, ``absolute_import``, and ``tf.nn.relu6`` in Keras 2.11's implementation package) is not
# the library's API.
SURFACE_OWNERS = ("keras", "tf_keras")
# A default longer than this, or one whose text names a memory address, is written as ``<its type>``.
DEFAULT_CHARS = 60
UNKNOWN = "unknown"
_SURFACES = {}  # module name -> its surface, computed once per process


def api_surface(keras):
    """``{namespace: {name: {"kind", "signature"}}}`` of the door ``keras``: every public name (no leading
    underscore) of :data:`SURFACE_NAMESPACES` that the library defines, its kind (``class``, ``function``,
    ``module`` or ``other``) and, for classes (their ``__init__``) and functions, the signature as a canonical
    string (:func:`signature_text`). Never raises: a name that cannot be read is left out."""
    name = getattr(keras, "__name__", "")
    if name not in _SURFACES:
        owners = set(SURFACE_OWNERS) | set([name.split(".")[0]])
        found = {}
        for namespace in SURFACE_NAMESPACES:
            space = _namespace(keras, namespace)
            if space is not None:
                found[namespace] = _entries(space, owners)
        _SURFACES[name] = found
    return _SURFACES[name]


def door_surfaces():
    """``{door: {namespace: {name: entry or None}}}`` for every door but the documented one (``STATE.doors``):
    the entries its surface holds that the documented door's does not (another signature or kind, or a
    name only it has), and ``None`` for a name it lacks. Empty where there is one door (Keras 3)."""
    if len(STATE.doors) < 2:
        return {}
    documented = api_surface(STATE.doors[0][1])
    found = {}
    for door, module in STATE.doors[1:]:
        other = api_surface(module)
        delta = {}
        for namespace in sorted(set(documented) | set(other)):
            ours, theirs = documented.get(namespace, {}), other.get(namespace, {})
            changed = dict((name, theirs.get(name)) for name in sorted(set(ours) | set(theirs)) if ours.get(name) != theirs.get(name))
            if changed:
                delta[namespace] = changed
        found[door] = delta
    return found


def _namespace(keras, dotted):
    """The module at ``dotted`` under ``keras`` (``None`` where there is none)."""
    space = keras
    for part in dotted.split("."):
        try:
            space = getattr(space, part, None)
        except Exception:  # a lazy module that fails to load: not part of this environment's surface
            return None
        if space is None or not inspect.ismodule(space):
            return None
    return space


def public_members(space):
    """``(name, value)`` for every public name of ``space`` (no leading underscore), sorted by name; a
    deprecated or lazily loaded name that raises when read is left out."""
    for name in sorted(dir(space)):
        if name.startswith("_"):
            continue
        try:
            value = getattr(space, name)
        except Exception:
            continue
        yield name, value


def _entries(space, owners):
    found = {}
    for name, value in public_members(space):
        kind = _kind(value, owners)
        if kind is None:
            continue
        entry = {"kind": kind}
        if kind in ("class", "function"):
            entry["signature"] = signature_text(value)
        found[name] = entry
    return found


def _kind(value, owners):
    """``class``, ``function``, ``module`` or ``other``; ``None`` for what the library does not own."""
    if inspect.ismodule(value):
        return "module" if _root(value.__name__) in owners else None
    if inspect.isclass(value):
        return "class" if _root(getattr(value, "__module__", None)) in owners else None
    if callable(value):
        module = getattr(value, "__module__", None) or type(value).__module__
        return "function" if _root(module) in owners else None
    if value is None or isinstance(value, (bool, int, float, str)):
        return "other"
    return "other" if _root(type(value).__module__) in owners else None


def _root(module):
    return str(module or "").split(".")[0]


def signature_text(value):
    """The parameters of a function (of a class's ``__init__``, without ``self``) as one canonical string,
    ``(units, activation=None, *, name=None, **kwargs)``: names, kinds (``/`` after positional-only ones,
    ``*`` before keyword-only ones) and defaults (:func:`default_text`), no annotations. From
    ``inspect.signature``, else the argspec; ``unknown`` where neither can read it."""
    target = value.__init__ if inspect.isclass(value) else value
    try:
        parameters = [(p.name, p.kind, p.default) for p in inspect.signature(target).parameters.values()]
    except Exception:
        parameters = _argspec(target)
        if parameters is None:
            return UNKNOWN
    if inspect.isclass(value) and parameters and parameters[0][1] in (inspect.Parameter.POSITIONAL_ONLY,
                                                                      inspect.Parameter.POSITIONAL_OR_KEYWORD):
        parameters = parameters[1:]  # self
    return _format(parameters)


def _argspec(target):
    """``[(name, kind, default)]`` from the argspec, for callables ``inspect.signature`` cannot read."""
    try:
        spec = inspect.getfullargspec(target)
    except Exception:
        return None
    empty, kinds = inspect.Parameter.empty, inspect.Parameter
    defaults = list(spec.defaults or ())
    positional = [(name, kinds.POSITIONAL_OR_KEYWORD, empty) for name in spec.args]
    for index in range(len(defaults)):
        name, kind, _ = positional[len(positional) - len(defaults) + index]
        positional[len(positional) - len(defaults) + index] = (name, kind, defaults[index])
    found = positional + ([(spec.varargs, kinds.VAR_POSITIONAL, empty)] if spec.varargs else [])
    found += [(name, kinds.KEYWORD_ONLY, (spec.kwonlydefaults or {}).get(name, empty)) for name in spec.kwonlyargs]
    return found + ([(spec.varkw, kinds.VAR_KEYWORD, empty)] if spec.varkw else [])


def _format(parameters):
    kinds = inspect.Parameter
    parts, starred, positional_only = [], False, False
    for name, kind, default in parameters:
        if kind == kinds.POSITIONAL_ONLY:
            positional_only = True
        elif positional_only:
            parts.append("/")
            positional_only = False
        if kind == kinds.VAR_POSITIONAL:
            parts.append("*" + name)
            starred = True
        elif kind == kinds.VAR_KEYWORD:
            parts.append("**" + name)
        else:
            if kind == kinds.KEYWORD_ONLY and not starred:
                parts.append("*")
                starred = True
            parts.append(name if default is kinds.empty else name + "=" + default_text(default))
    if positional_only:
        parts.append("/")
    return "(" + ", ".join(parts) + ")"


def default_text(value):
    """A default as the surface writes it: the ``repr`` of a plain value (a NumPy scalar as its Python
    value), ``<name>`` for a class or function, ``<type>`` for anything whose ``repr`` is long or names a
    memory address (it would differ from run to run)."""
    if isinstance(value, np.generic):
        value = value.item()
    if inspect.isclass(value) or inspect.isroutine(value):
        return "<%s>" % getattr(value, "__qualname__", getattr(value, "__name__", type(value).__name__))
    text = repr(value)
    if len(text) > DEFAULT_CHARS or " at 0x" in text:
        return "<%s>" % type(value).__name__
    return text
