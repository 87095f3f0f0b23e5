"""Entries and their names: each public callable of a namespace, with the arguments the tables give it,
named by its call as a user writes it (:class:`Call`), enumerated per kind (:func:`entries`)."""

import inspect

from probe import frameworks, spelling
from probe.frameworks import NotApplicable
from probe.introspect import public_members
from probe.optimizers import OPTIMIZER_KWARGS
from probe.sweep.tables import (
    CALLBACK_ARGUMENTS,
    CALLBACK_VARIANTS,
    DEFAULT_LAYOUTS,
    EXACT_FAMILIES,
    EXACT_LAYOUTS,
    EXCLUDED_CLASSES,
    LAYER_ARGUMENTS,
    LAYER_FAMILIES,
    LAYER_VARIANTS,
    LAYOUT_RULES,
    LOSS_VARIANTS,
    NAMESPACES,
    OPS_ARRAYS,
    OPTIMIZER_VARIANTS,
    REQUIRED,
    REQUIRED_CODE,
    REQUIRED_OBJECTS,
    SCHEDULE_VARIANTS,
    SEED,
)

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
        return getattr(namespace_module(keras, self.namespace), self.name)

    def make(self, keras):
        """Call it with its arguments (objects among them made first), without the leading placeholders."""
        return self.target(keras)(**dict((key, made(keras, value)) for key, value in self.arguments.items()))


class Code(object):
    """An argument written as Python source (a function): the call and the snippet write the source, the
    entry passes what it evaluates to."""

    def __init__(self, source):
        self.source = source


def render(value, prefix=""):
    """An argument value as a user writes it, without spaces: stable in every environment."""
    if isinstance(value, Code):
        return value.source
    if isinstance(value, Call):
        return value.text(prefix)
    if isinstance(value, tuple):
        return "(%s%s)" % (",".join(render(item, prefix) for item in value), "," if len(value) == 1 else "")
    if isinstance(value, list):
        return "[%s]" % ",".join(render(item, prefix) for item in value)
    return repr(value)


def made(keras, value):
    """An argument value as passed: a :class:`Call` made into its object, :class:`Code` evaluated."""
    if isinstance(value, Code):
        return eval(value.source)
    return value.make(keras) if isinstance(value, Call) else value


def entry_key(kind, call):
    """The entry's name in the result's ``sweep`` section and in its metrics: ``<kind>.<call without the
    namespace>`` (``layers.Dense(units=3)``, ``schedules.ExponentialDecay(...)``)."""
    return "%s.%s" % (kind, call.text()[len(call.namespace) + 1:])


def shape_text(shape):
    """``shape(3,4,5)``; ``shape(7)`` for a rank-1 shape."""
    return "shape(%s)" % ",".join(str(size) for size in shape)


# -- enumeration ------------------------------------------------------------------------------------------


def namespace_module(keras, dotted):
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
        elif parameter.name in REQUIRED_CODE:
            arguments[parameter.name] = Code(REQUIRED_CODE[parameter.name])
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
    """One thing the sweep exercises: its kind, its :class:`Call`, whether it draws random numbers, the
    reason it cannot be called, found before it runs (a required parameter no table names), and whether
    it is a variant of a table (an option given beyond what the class needs: only the full sweep runs it)."""

    def __init__(self, kind, call, random_stream=False, reason=None, public=None, variant=False):
        self.kind = kind
        self.call = call
        self.random_stream = random_stream
        self.reason = reason
        self.public = public or call.name  # the public name targeted sweeps select by
        self.variant = variant

    @property
    def key(self):
        return entry_key(self.kind, self.call)


def _class_entries(kind, keras, extra_arguments=None, variants=(), accept=None):
    namespace, base_name = NAMESPACES[kind]
    module = namespace_module(keras, namespace)
    base = getattr(module, base_name, None) if module is not None else None
    if not inspect.isclass(base):
        raise NotApplicable("no %s.%s in Keras %s" % (namespace, base_name, frameworks.keras_version(keras)))
    found = []
    for name, cls in public_classes(module, base):
        given = dict((extra_arguments or {}).get(name, {}))
        if name in EXCLUDED_CLASSES:
            found.append(Entry(kind, Call(namespace, name, given), reason=EXCLUDED_CLASSES[name]))
            continue
        random = spelling.accepts(cls, "seed")
        options = variants.get(name, ()) if isinstance(variants, dict) else variants  # per class, or for every class
        for variant in ({},) + tuple(variant for variant in options if (accept or accepts_all)(cls, variant)):
            try:
                arguments = arguments_for(cls, name, dict(given, **variant), {"seed": SEED})
                found.append(Entry(kind, Call(namespace, name, arguments), random_stream=random, variant=bool(variant)))
            except ValueError as reason:
                found.append(Entry(kind, Call(namespace, name, arguments_for(cls, name, dict(given, **variant), partial=True)),
                                   reason=str(reason), variant=bool(variant)))
    return found


def _op_entries(keras):
    """Every public function of ``keras.ops`` (Keras 3), its leading parameters the arrays of
    :data:`OPS_ARRAYS` they are named for, the rest from the tables."""
    module = getattr(keras, "ops", None)
    if module is None:
        raise NotApplicable("no keras.ops before Keras 3 (Keras %s)" % frameworks.keras_version(keras))
    found = []
    for name, function in public_functions(module, "ops"):
        leading = []
        for parameter in _parameters(function):
            if parameter.default is not inspect.Parameter.empty or parameter.name not in OPS_ARRAYS:
                break
            leading.append(parameter.name)
        call = Call("ops", name, leading=leading)
        if not leading:
            found.append(Entry("ops", call, reason="%s takes no array the sweep's tables name first" % name))
            continue
        try:
            call.arguments = arguments_for(function, name, leading=len(leading))
            found.append(Entry("ops", call))
        except ValueError as reason:
            found.append(Entry("ops", call, reason=str(reason)))
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
    if kind == "ops":
        return _op_entries(keras)
    if kind == "layers" and frameworks.keras_major(keras) < 1:
        raise NotApplicable("Keras %s's layers are only chained by a Sequential: not swept" % frameworks.keras_version(keras))
    if kind == "initializers" and frameworks.keras_major(keras) < 2:
        raise NotApplicable("Keras %s's initializations are functions of a shape, without classes or seeds: not swept"
                            % frameworks.keras_version(keras))
    if kind == "callbacks" and frameworks.keras_major(keras) < 2:
        raise NotApplicable("Keras %s's callbacks predate the logs and weights the sweep drives them with: not swept"
                            % frameworks.keras_version(keras))
    variants = {"optimizers": OPTIMIZER_VARIANTS, "schedules": SCHEDULE_VARIANTS, "callbacks": CALLBACK_VARIANTS,
                "layers": LAYER_VARIANTS, "losses": LOSS_VARIANTS}.get(kind, ())
    extra = {"layers": LAYER_ARGUMENTS, "callbacks": CALLBACK_ARGUMENTS}.get(kind)
    return _class_entries(kind, keras, extra, variants)
