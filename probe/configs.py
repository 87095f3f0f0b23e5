"""The library's configs read in one spelling: an optimizer's hyper-parameters, a layer's initializers and
defaults, a loss's stated reduction.

Keras reported the same setting under other keys and forms over time (``lr``; ``init="glorot_uniform"``,
then ``VarianceScaling(scale, mode, distribution)``, then ``GlorotUniform``). The introspection
(:mod:`probe.introspect`) and the canaries record what these readers return, so that a difference between
versions is one of values, not of spelling; the forms they fold together are kept as text beside them
(:func:`describe`), so that the canonical name hides nothing. Python 3.6-compatible on purpose: the probe
runs in era-authentic interpreters.
"""

from probe.spelling import CONFIG_KEYS, is_scalar, plain_scalar


def optimizer_config(instance):
    """The optimizer's resolved hyper-parameters, scalars only, with later key names."""
    config = instance.get_config()
    return dict(
        (CONFIG_KEYS.get(key, key), plain_scalar(value)) for key, value in config.items() if is_scalar(plain_scalar(value))
    )


# Keras 2.0-2.2 report the named initializers as VarianceScaling(scale, mode, distribution).
VARIANCE_SCALING_NAMES = {
    (1.0, "fan_avg", "uniform"): "glorot_uniform",
    (1.0, "fan_avg", "normal"): "glorot_normal",
    (2.0, "fan_in", "uniform"): "he_uniform",
    (2.0, "fan_in", "normal"): "he_normal",
    (1.0, "fan_in", "uniform"): "lecun_uniform",
    (1.0, "fan_in", "normal"): "lecun_normal",
}


def optimizer_config_rest(instance):
    """The optimizer config values :func:`optimizer_config` leaves out (schedules, lists), as text, under
    the library's own key names: evidence, not settable defaults."""
    return dict(
        (key, describe(value)) for key, value in instance.get_config().items() if not is_scalar(plain_scalar(value))
    )


def initializer_names(layer):
    """A layer's kernel and bias initializers in one spelling (``glorot_uniform``), however the config
    names them: ``init="glorot_uniform"`` (Keras 0.3/1), ``VarianceScaling`` (2.0-2.2), ``GlorotUniform``."""
    return dict((part, _initializer_name(value)) for part, value in _initializers(layer).items())


def initializer_configs(layer):
    """A layer's kernel and bias initializers as its config states them, class and settings (a truncated
    distribution included), so that the canonical name hides nothing."""
    return dict((part, describe(value)) for part, value in _initializers(layer).items())


def _initializers(layer):
    config = layer.get_config()
    found = {}
    for part, keys in (("kernel", ("kernel_initializer", "init")), ("bias", ("bias_initializer",))):
        for key in keys:
            if key in config:
                found[part] = config[key]
                break
    return found


def describe(value):
    """A config value as one line of text: ``VarianceScaling(distribution='uniform', mode='fan_avg', ...)``
    for a serialised object, the repr of its plain values otherwise."""
    if isinstance(value, dict) and "class_name" in value:
        settings = value.get("config") or {}
        return "%s(%s)" % (value["class_name"], ", ".join(
            "%s=%s" % (key, describe(settings[key])) for key in sorted(settings)))
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (key, describe(value[key])) for key in sorted(value))
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(describe(item) for item in value)
    return repr(plain_scalar(value))


def _initializer_name(value):
    if not isinstance(value, dict):
        return _snake(str(value))
    name, settings = value.get("class_name", "?"), value.get("config", {})
    if name == "VarianceScaling":
        distribution = str(settings.get("distribution", "")).replace("truncated_", "")
        key = (float(settings.get("scale", 0)), settings.get("mode"), distribution)
        return VARIANCE_SCALING_NAMES.get(key, "variance_scaling")
    return _snake(name)


def _snake(name):
    """``GlorotUniform`` -> ``glorot_uniform``; ``zero`` (Keras 0.3/1) -> ``zeros``."""
    snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return {"zero": "zeros", "one": "ones"}.get(snake, snake)


def stated_loss_reduction(keras, class_name):
    """The reduction a loss class states, as the library spells it (Keras 2's ``auto`` included); Keras
    before 2.2 had loss functions only."""
    cls = getattr(getattr(keras, "losses", None), class_name, None)
    if cls is None:
        return "(no loss class)"
    return str(getattr(cls(), "reduction", "(no reduction attribute)"))


def layer_defaults(layer_, keys):
    """The values ``layer_``'s config holds for ``keys`` (activations by name), where it has them."""
    config = layer_.get_config()
    found = {}
    for key in keys:
        if key in config:
            value = config[key]
            if isinstance(value, dict):  # Keras 3 may serialise an activation as a config
                value = value.get("config", {}).get("name", value.get("class_name"))
            found[key] = plain_scalar(value)
    return found
