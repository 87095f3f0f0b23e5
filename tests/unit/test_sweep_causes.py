"""Why a sweep entry drifted (keras_drift.judge.sweep_causes): only its random stream, told by whether each
output keeps its distribution within sampling error (bounds computed here by hand), or its class's defaults,
read from both sides' API surfaces; hand-made results in the probe's format."""

import math

from conftest import make_result

from keras_drift.judge import attribute, sweep_causes
from keras_drift.store.verdicts import Cause, Certainty

GLOROT = "initializers.GlorotUniform(seed=1)"
OUT = "shape(2,3,4,5)"  # 120 values
CONTRAST = "layers.RandomContrast(factor=0.2,seed=1)"


def _initializer(env, *, mean, std, checksum, spread=None, version="3.5.0"):
    metrics = {f"sweep.{GLOROT}.{OUT}.{name}": value for name, value in (("mean", mean), ("std", std), ("checksum", checksum))}
    record = {"kind": "initializers", "call": GLOROT, "snippet": "print()", "random_stream": True}
    if spread is not None:
        record["seed_spread"] = {f"{OUT}.mean": spread[0], f"{OUT}.std": spread[1]}
    return make_result(env, metrics, sweep={GLOROT: record}, fingerprint={"distributions": {"keras": version}})


def test_values_that_differ_with_the_same_distribution_are_the_random_stream():
    base = _initializer("old", mean=0.001, std=0.2, checksum=0.5)
    new = _initializer("new", mean=-0.002, std=0.205, checksum=-0.3)
    # By hand: sigma = 0.205, n = 120; mean bound 4 * 0.205 * sqrt(2 / 120) = 0.1059 >= 0.003, std bound
    # 4 * 0.205 / sqrt(120) = 0.0749 >= 0.005: the same distribution.
    cause, evidence = sweep_causes.explain(f"sweep.{GLOROT}.{OUT}.checksum", new, base=base)
    assert cause == Cause.RANDOM_STREAM
    assert "120 values" in evidence and "0.11" in evidence and "0.075" in evidence and GLOROT in evidence


def test_a_distribution_that_moved_further_than_sampling_is_not_the_stream():
    base = _initializer("old", mean=0.0, std=0.2, checksum=0.5)
    new = _initializer("new", mean=0.0, std=0.35, checksum=0.9)
    bound = 4 * 0.35 / math.sqrt(120)  # 0.128 < |0.35 - 0.2|
    assert abs(0.35 - 0.2) > bound
    assert sweep_causes.random_stream(GLOROT, f"{OUT}.std", result=new, base=base) is None
    assert sweep_causes.explain(f"sweep.{GLOROT}.{OUT}.std", new, base=base) is None  # no surface: the general rules decide


def test_what_another_seed_moves_widens_the_bound():
    base = _initializer("old", mean=0.0, std=0.2, checksum=0.5, spread=(0.0, 0.06))
    new = _initializer("new", mean=0.0, std=0.35, checksum=0.9, spread=(0.0, 0.01))
    # 3 * max(0.06, 0.01) = 0.18 >= 0.15: the seed alone moves the std that far here.
    assert sweep_causes.random_stream(GLOROT, f"{OUT}.std", result=new, base=base) is not None


def test_a_changed_shape_is_never_the_stream():
    base = _initializer("old", mean=0.0, std=0.2, checksum=0.5)
    new = _initializer("new", mean=0.0, std=0.2, checksum=0.5)
    assert sweep_causes.random_stream(GLOROT, "inference.shape", result=new, base=base) is None
    assert sweep_causes.random_stream(GLOROT, "inference.mean", result=new, base=base) is None  # its size is not recorded


def _contrast(env, value_range):
    surface = {"layers": {"RandomContrast": {"kind": "class", "signature": f"(factor, value_range={value_range}, seed=None, **kwargs)"}}}
    record = {"kind": "layers", "call": CONTRAST, "snippet": "print()"}
    return make_result(env, {f"sweep.{CONTRAST}.inference.shape": "2x8x8x3"}, sweep={CONTRAST: record},
                       introspection={"api_surface": surface})


def test_a_default_the_call_leaves_alone_that_changed_is_the_cause():
    base, new = _contrast("old", "(0, 255)"), _contrast("new", "(0, 1)")
    cause, evidence = sweep_causes.explain(f"sweep.{CONTRAST}.inference.checksum", new, base=base)
    assert cause == Cause.DEFAULTS
    assert "value_range (0, 255) → (0, 1)" in evidence and CONTRAST in evidence


def test_a_default_the_call_sets_is_not_the_cause():
    assert sweep_causes.changed_defaults("layers.RandomContrast(factor=0.2,value_range=(0,1))",
                                         result=_contrast("new", "(0, 1)"), base=_contrast("old", "(0, 255)")) is None


def test_attribution_gives_sweep_entries_their_own_rules_first():
    base = _initializer("old", mean=0.001, std=0.2, checksum=0.5, version="3.5.0")
    new = _initializer("new", mean=-0.002, std=0.205, checksum=-0.3, version="3.15.1")
    metric = f"sweep.{GLOROT}.{OUT}.checksum"
    cause, _, proof = attribute.explain(metric, new, base=base, drifting={("new", metric)})
    assert (cause, proof) == (Cause.RANDOM_STREAM, Certainty.SUSPECTED)
    # Without a sweep record the general rules decide: Keras differs, so numerics.
    del new["sweep"], base["sweep"]
    cause, _, _ = attribute.explain(metric, new, base=base, drifting={("new", metric)})
    assert cause == Cause.NUMERICS


EINSUM = "layers.EinsumDense(equation='ab,bcd->acd',output_shape=(2,16))"


def _einsum(env, glorot, std):
    surface = {"layers": {"EinsumDense": {"kind": "class", "signature": "(equation, output_shape, kernel_initializer='glorot_uniform', **kwargs)"}},
               "initializers": {"GlorotUniform": {"kind": "class", "signature": glorot}}}
    record = {"kind": "layers", "call": EINSUM, "snippet": "print()"}
    metrics = {f"sweep.{EINSUM}.weights.{name}": value for name, value in (("mean", 0.0), ("std", std), ("checksum", std * 3))}
    metrics[f"sweep.{EINSUM}.weights.shape"] = "6x2x16"
    return make_result(env, metrics, sweep={EINSUM: record}, introspection={"api_surface": surface})


def test_weights_a_layer_drew_name_its_default_initializer_when_their_scale_moved():
    base = _einsum("old", "(seed=None)", 0.135)
    new = _einsum("new", "(seed=None, input_axes=None, output_axes=None)", 0.234)
    # 192 values: the std bound is 4 * 0.234 / sqrt(192) = 0.068 < 0.099: not the stream.
    assert 4 * 0.234 / math.sqrt(192) < 0.234 - 0.135
    cause, evidence = sweep_causes.explain(f"sweep.{EINSUM}.weights.std", new, base=base)
    assert cause == Cause.DEFAULTS
    assert "kernel_initializer 'glorot_uniform' (initializers.GlorotUniform: + input_axes, output_axes)" in evidence
    # The same draws at the same scale are the stream, even though the layer takes no seed.
    cause, _ = sweep_causes.explain(f"sweep.{EINSUM}.weights.checksum", _einsum("new", "(seed=None)", 0.136), base=base)
    assert cause == Cause.RANDOM_STREAM
