"""The API sweep (probe/sweep.py) without a real environment: entry names, the argument and variant tables,
the targeted selection, the watch on what tasks construct, the snippets, the runner's plumbing, and the
result schema's ``sweep`` section. Stand-in ``keras`` namespaces carry classes with the signatures real
versions had."""

from __future__ import annotations

import ast
import inspect
import re
import signal
import time
from types import SimpleNamespace

import numpy as np
import pytest

from keras_drift.cli import build_parser
from keras_drift.cli import common as cli_common
from keras_drift.errors import InputError
from keras_drift.execute.cache import cache_key
from keras_drift.execute.runner import ProbeSettings
from keras_drift.store.results import validate
from probe import run, sweep
from probe.frameworks import NotApplicable
from probe.state import STATE
from probe.sweep import arrays, calls, exercise, selection, snippets, tables
from probe.task import Task

# -- stand-in namespaces: classes with the signatures Keras really had ---------------------------------


class Optimizer:
    def __init__(self, learning_rate=0.001, **kwargs):
        pass


class Adam(Optimizer):  # Keras 3
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate)


class AdamReordered(Optimizer):  # the same parameters in another order: the names must not move
    def __init__(self, gradient_accumulation_steps=None, use_ema=False, global_clipnorm=None, clipvalue=None, clipnorm=None,
                 weight_decay=None, amsgrad=False, epsilon=1e-07, beta_2=0.999, beta_1=0.9, learning_rate=0.001, **kwargs):
        super().__init__(learning_rate)


class SGDLegacy(Optimizer):  # Keras 2.2: clipping only through **kwargs
    def __init__(self, lr=0.01, momentum=0.0, decay=0.0, nesterov=False, **kwargs):
        super().__init__(lr)


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07, centered=False, **kwargs):
        super().__init__(learning_rate)


class MultiOptimizer(Optimizer):
    def __init__(self, optimizer_map, **kwargs):
        super().__init__()


def stand_in(optimizers: dict[str, type], version: str = "3.15.1") -> SimpleNamespace:
    return SimpleNamespace(__version__=version, __name__="keras",
                           optimizers=SimpleNamespace(Optimizer=Optimizer, **optimizers))


def names(kind: str, keras: SimpleNamespace) -> list[str]:
    return [entry.call.text() for entry in calls.entries(kind, keras)]


# -- names --------------------------------------------------------------------------------------------


def test_a_call_is_named_as_written_with_sorted_keywords_and_no_spaces():
    call = calls.Call("layers", "Conv2D", {"kernel_size": 3, "filters": 2, "padding": "same", "strides": (1,), "dims": (2, 1)})
    assert call.text() == "layers.Conv2D(dims=(2,1),filters=2,kernel_size=3,padding='same',strides=(1,))"
    nested = calls.Call("layers", "Bidirectional", {"layer": calls.Call("layers", "LSTM", {"units": 2})})
    assert nested.text() == "layers.Bidirectional(layer=layers.LSTM(units=2))"
    assert nested.text("keras.") == "keras.layers.Bidirectional(layer=keras.layers.LSTM(units=2))"
    assert calls.Call("activations", "relu", leading=("x",)).text() == "activations.relu(x)"
    assert calls.entry_key("schedules", calls.Call("optimizers.schedules", "CosineDecay", {"decay_steps": 10})) == \
        "schedules.CosineDecay(decay_steps=10)"
    assert calls.shape_text((3, 4, 5)) == "shape(3,4,5)" and calls.shape_text((7,)) == "shape(7)"


def test_optimizer_variants_follow_the_signature_and_their_names_do_not_depend_on_parameter_order():
    newest = names("optimizers", stand_in({"Adam": Adam, "RMSprop": RMSprop, "SGD": SGDLegacy}))
    assert newest == [
        "optimizers.Adam()", "optimizers.Adam(weight_decay=0.1)", "optimizers.Adam(clipnorm=0.1)",
        "optimizers.Adam(clipvalue=0.01)", "optimizers.Adam(global_clipnorm=0.1)", "optimizers.Adam(use_ema=True)",
        "optimizers.Adam(gradient_accumulation_steps=2)", "optimizers.Adam(amsgrad=True)",
        "optimizers.RMSprop()", "optimizers.RMSprop(clipnorm=0.1)", "optimizers.RMSprop(clipvalue=0.01)",
        "optimizers.RMSprop(momentum=0.9)", "optimizers.RMSprop(centered=True)",
        # an older optimizer takes clipping through **kwargs; nesterov comes with momentum
        "optimizers.SGD()", "optimizers.SGD(clipnorm=0.1)", "optimizers.SGD(clipvalue=0.01)", "optimizers.SGD(momentum=0.9)",
        "optimizers.SGD(momentum=0.9,nesterov=True)",
    ]
    found = calls.entries("optimizers", stand_in({"Adam": Adam, "RMSprop": RMSprop, "SGD": SGDLegacy}))
    assert [entry.key for entry in found if not entry.variant] == ["optimizers.Adam()", "optimizers.RMSprop()", "optimizers.SGD()"]
    reordered = names("optimizers", stand_in({"Adam": AdamReordered}))
    assert reordered == [name for name in newest if name.startswith("optimizers.Adam(")]


def test_a_required_parameter_comes_from_the_table_else_the_entry_is_skipped_with_the_reason():
    class Layer:
        pass

    class Dense(Layer):
        def __init__(self, units, activation=None, **kwargs):
            pass

    class Lambda(Layer):
        def __init__(self, function, output_shape=None, **kwargs):
            pass

    class Dropout(Layer):
        def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
            pass

    keras = SimpleNamespace(__version__="3.15.1", layers=SimpleNamespace(Layer=Layer, Dense=Dense, Lambda=Lambda, Dropout=Dropout))
    found = {entry.call.text(): entry for entry in calls.entries("layers", keras)}
    assert set(found) == {"layers.Dense(units=3)", "layers.Dropout(rate=0.5,seed=1)", "layers.Lambda()"}
    assert found["layers.Lambda()"].reason == "Lambda needs function=, which the sweep's tables do not give"
    assert found["layers.Dropout(rate=0.5,seed=1)"].random_stream and not found["layers.Dense(units=3)"].random_stream


def test_aliases_are_swept_once_under_a_name_that_does_not_follow_the_class_name():
    class Layer:
        pass

    class Conv2D(Layer):
        pass

    class Helper:
        pass

    module = SimpleNamespace(Layer=Layer, Conv2D=Conv2D, Convolution2D=Conv2D, Helper=Helper, conv=lambda: None)
    assert calls.public_classes(module, Layer) == [("Conv2D", Conv2D)]

    class Initializer:
        pass

    class OrthogonalInitializer(Initializer):  # Keras 3.5's __name__; 3.15 calls the same class Orthogonal
        pass

    class Zeros(Initializer):
        pass

    module = SimpleNamespace(Initializer=Initializer, Orthogonal=OrthogonalInitializer, OrthogonalInitializer=OrthogonalInitializer,
                             orthogonal=OrthogonalInitializer, Zeros=Zeros, zeros=Zeros)
    assert calls.public_classes(module, Initializer) == [("Orthogonal", OrthogonalInitializer), ("Zeros", Zeros)]


def test_a_kind_the_version_lacks_is_not_applicable():
    with pytest.raises(NotApplicable, match=re.escape("no losses.Loss in Keras 2.2.5")):
        calls.entries("losses", SimpleNamespace(__version__="2.2.5", losses=SimpleNamespace()))
    with pytest.raises(NotApplicable, match=re.escape("Keras 1.2.0's initializations are functions")):
        calls.entries("initializers", SimpleNamespace(__version__="1.2.0"))
    with pytest.raises(NotApplicable, match=re.escape("Keras 0.3.3's layers are only chained by a Sequential")):
        calls.entries("layers", SimpleNamespace(__version__="0.3.3"))
    with pytest.raises(NotApplicable, match="no Keras loaded"):
        calls.entries("layers", None)


def test_activations_are_the_functions_defined_by_the_activations_module():
    def relu(x, negative_slope=0.0):
        return x

    def threshold(x, threshold, default_value):
        return x

    relu.__module__ = threshold.__module__ = "keras.src.activations.activations"
    module = SimpleNamespace(relu=relu, swish=relu, threshold=threshold, get=relu, K=np, deserialize_keras_object=len)
    keras = SimpleNamespace(__version__="3.15.1", activations=module)
    assert names("activations", keras) == ["activations.relu(x)", "activations.threshold(x,default_value=0.0,threshold=0.5)"]


def test_ops_take_the_arrays_their_leading_parameters_are_named_for():
    def add(x1, x2):
        return x1 + x2

    def mean(x, axis=None, keepdims=False):
        return x

    def arange(start, stop=None):
        return start

    def argpartition(x, kth, axis=-1):
        return x

    for function in (add, mean, arange, argpartition):
        function.__module__ = "keras.src.ops.numpy"
    keras = SimpleNamespace(__version__="3.15.1", ops=SimpleNamespace(add=add, mean=mean, arange=arange, argpartition=argpartition))
    found = {entry.call.text(): entry.reason for entry in calls.entries("ops", keras)}
    assert found == {"ops.add(x1,x2)": None, "ops.mean(x)": None,
                     "ops.arange()": "arange takes no array the sweep's tables name first",
                     "ops.argpartition(x)": "argpartition needs kth=, which the sweep's tables do not give"}
    text = snippets.snippet("ops", calls.Entry("ops", calls.Call("ops", "add", leading=("x1", "x2"))))
    assert "print(keras.ops.add(to_t(x1), to_t(x2)))" in text and text.count("RandomState(") == 2
    with pytest.raises(NotApplicable, match=re.escape("no keras.ops before Keras 3 (Keras 2.15.0)")):
        calls.entries("ops", SimpleNamespace(__version__="2.15.0"))


def test_layouts_and_families_follow_their_tables():
    assert calls.layouts_of("SparseCategoricalCrossentropy") == ("sparse_rank1", "sparse_rank2")
    assert calls.layouts_of("CategoricalCrossentropy") == ("rank2",)
    assert calls.layouts_of("MeanSquaredError") == ("rank1", "rank2")
    assert calls.layouts_of("Mean") == ("values",) and calls.layouts_of("MeanIoU") == ("ids",)
    assert calls.layouts_of("OneHotMeanIoU") == ("rank2",) and calls.layouts_of("BinaryIoU") == ("rank1", "rank2")
    assert [calls.family_of(name) for name in ("Dense", "Conv2D", "ConvLSTM2D", "LSTM", "RandomFlip", "Add", "MultiHeadAttention",
                                               "Embedding", "GlobalAveragePooling1D", "Conv3DTranspose")] == \
        ["flat", "2d", "convlstm2d", "sequence", "image", "pair", "attention", "tokens", "1d", "3d"]
    for recipes in tables.LAYER_INPUTS.values():  # the snippets repeat these expressions: each must build its array
        assert all(isinstance(eval(recipe, {"np": np}), np.ndarray) for recipe in recipes)


def test_targeted_sweeps_the_core_and_what_the_tasks_constructed():
    found = [calls.Entry("layers", calls.Call("layers", name)) for name in ("Dense", "Conv3D", "GRU", "Flatten")]
    assert [entry.call.name for entry in selection.selected("layers", found, "full")] == ["Dense", "Conv3D", "GRU", "Flatten"]
    assert selection.selected("layers", found, "off") == []
    called = {"layers.GRU", "optimizers.Adam", "optimizers.schedules.Flatten"}
    assert [entry.call.name for entry in selection.selected("layers", found, "targeted", called)] == ["Dense", "GRU"]
    # a table's variant (an option beyond what the class needs) is the full sweep's only
    adam = [calls.Entry("optimizers", calls.Call("optimizers", "Adam")),
            calls.Entry("optimizers", calls.Call("optimizers", "Adam", {"use_ema": True}), variant=True)]
    assert selection.selected("optimizers", adam, "targeted", called) == adam[:1]
    assert selection.selected("optimizers", adam, "full") == adam
    schedules = [calls.Entry("schedules", calls.Call("optimizers.schedules", "PolynomialDecay"))]

    assert selection.selected("schedules", schedules, "targeted", {"optimizers.schedules.PolynomialDecay"}) == schedules
    assert selection.called_in({"a": {"constructed": ["layers.GRU"]}, "b": {}, "c": {"constructed": ["optimizers.Adam"]}}) == \
        {"layers.GRU", "optimizers.Adam"}


def test_statistics_are_stable_and_name_what_they_measure():
    values = np.arange(6, dtype="float32").reshape(2, 3)
    found = arrays.described("inference", [values])
    assert found["inference.shape"] == "2x3" and found["inference.dtype"] == "float32"
    assert found["inference.mean"] == 2.5 and found["inference.checksum"] == pytest.approx(
        float(np.dot(values.ravel(), np.random.RandomState(tables.CHECKSUM_SEED).uniform(-1, 1, size=6))))
    assert arrays.described("out", values[:, ::-1])["out.mean"] == 2.5
    assert arrays.described("out", values[:, ::-1])["out.checksum"] != found["inference.checksum"]  # a permutation shows
    assert set(arrays.described("training", [values, values])) >= {"training[0].mean", "training[1].checksum"}
    assert arrays.described("rank1.unweighted", np.float32(0.25)) == {"rank1.unweighted": 0.25}


# -- snippets -----------------------------------------------------------------------------------------


def all_kinds_entries():
    return [
        ("initializers", calls.Entry("initializers", calls.Call("initializers", "GlorotUniform", {"seed": 1}))),
        ("activations", calls.Entry("activations", calls.Call("activations", "threshold", {"threshold": 0.5}, leading=("x",)))),
        ("losses", calls.Entry("losses", calls.Call("losses", "MeanSquaredError"))),
        ("losses", calls.Entry("losses", calls.Call("losses", "CTC"))),
        ("metrics", calls.Entry("metrics", calls.Call("metrics", "SparseCategoricalAccuracy"))),
        ("metrics", calls.Entry("metrics", calls.Call("metrics", "Mean"))),
        ("optimizers", calls.Entry("optimizers", calls.Call("optimizers", "Adam", {"use_ema": True}))),
        ("schedules", calls.Entry("schedules", calls.Call("optimizers.schedules", "ExponentialDecay", {"decay_steps": 10}))),
        ("layers", calls.Entry("layers", calls.Call("layers", "Bidirectional", {"layer": calls.Call("layers", "LSTM", {"units": 2})}))),
        ("layers", calls.Entry("layers", calls.Call("layers", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2}))),
        ("layers", calls.Entry("layers", calls.Call("layers", "Add"))),
    ]


@pytest.mark.parametrize(("door", "eager", "legacy", "imports"), [
    ("keras", True, False, "import keras"),
    ("tf.keras", True, False, "from tensorflow import keras"),
    ("tf.keras", True, True, 'os.environ["TF_USE_LEGACY_KERAS"] = "1"'),
    ("keras", False, False, "import keras"),
])
def test_snippets_are_short_python_with_the_door_import(door, eager, legacy, imports):
    for kind, entry in all_kinds_entries():
        text = snippets.snippet(kind, entry, door, eager, legacy)
        lines = text.splitlines()
        assert len(lines) <= tables.SNIPPET_LINES, (kind, entry.call.text(), text)
        assert imports in text
        assert ("keras.activations.threshold(to_t(x), threshold=0.5)" if kind == "activations" else entry.call.text("keras.")) in text
        ast.parse(text)


def test_the_snippet_sets_the_weights_as_the_sweep_does():
    class Layer:
        def __init__(self):
            self.weights = [np.zeros((2, 3), "float32"), np.zeros((3,), "int32"), np.zeros((4,), "float64")]

        def get_weights(self):
            return [array.copy() for array in self.weights]

        def set_weights(self, weights):
            self.weights = [np.asarray(array) for array in weights]

    text = snippets.snippet("layers", calls.Entry("layers", calls.Call("layers", "Dense", {"units": 3})))
    line = next(line.strip() for line in text.splitlines() if "layer.set_weights(" in line)
    seeding = next(line.strip() for line in text.splitlines() if "rng = " in line)
    by_snippet, by_sweep = Layer(), Layer()
    exec(seeding + "\n" + line, {"np": np, "layer": by_snippet})
    exercise.set_weights(by_sweep)
    for ours, theirs in zip(by_snippet.weights, by_sweep.weights, strict=True):
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
    assert not by_sweep.weights[1].any()  # an integer weight (a counter, a seed state) is left as it is


# -- the watch on what tasks construct -----------------------------------------------------------------


def test_a_construction_is_noted_when_a_task_calls_it_not_when_the_library_does(monkeypatch):
    class Layer:
        def __init__(self, name=None, **kwargs):
            self.name = name

    class Dense(Layer):
        def __init__(self, units, activation=None, **kwargs):
            super().__init__(**kwargs)

    class MyDense(Dense):  # a user's subclass: it calls Dense
        pass

    keras = SimpleNamespace(__version__="3.15.1", layers=SimpleNamespace(Layer=Layer, Dense=Dense))
    monkeypatch.setattr(STATE, "constructed", set())
    selection.watch_constructions(keras)
    selection.watch_constructions(keras)  # twice: wrapped once
    assert inspect.getfullargspec(Dense.__init__).args == ["self", "units", "activation"]  # Keras 3 reads it for configs
    assert Dense.__init__.__wrapped__.__name__ == "__init__" and not hasattr(Dense.__init__.__wrapped__, "__wrapped__")
    exec("Dense(3)", {"__name__": "keras.src.models.sequential", "Dense": Dense})  # the library's own
    assert STATE.constructed == set()
    monkeypatch.setattr(selection.SETTINGS, "active", True)
    Dense(3)  # the sweep's own
    assert STATE.constructed == set()
    monkeypatch.setattr(selection.SETTINGS, "active", False)
    MyDense(3)
    assert STATE.constructed == {"layers.Dense"}
    STATE.start_task_run()
    assert STATE.constructed == set()


# -- running entries and tasks --------------------------------------------------------------------------


def test_an_entry_that_raises_is_skipped_with_one_line_and_the_task_carries_on(monkeypatch):
    class Layer:
        pass

    class Broken(Layer):
        def __init__(self, **kwargs):
            raise ValueError("no shape\nsecond line")

    class Needs(Layer):
        def __init__(self, module, **kwargs):
            pass

    keras = SimpleNamespace(__version__="3.15.1", __name__="keras", layers=SimpleNamespace(Layer=Layer, Broken=Broken, Needs=Needs),
                            backend=SimpleNamespace(backend=lambda: "numpy"))
    monkeypatch.setattr(selection.SETTINGS, "mode", "full")
    metrics, series, facts = sweep.TASKS[tables.KINDS.index("layers")].run(keras)
    assert metrics == {} and series == {}
    assert facts["sweep"]["layers.Broken()"]["skipped"] == "ValueError: no shape"
    assert facts["sweep"]["layers.Needs()"]["skipped"] == "Needs needs module=, which the sweep's tables do not give"
    assert facts["sweep"]["layers.Broken()"]["snippet"].startswith("import numpy as np\nimport keras\n")
    assert facts["sweep_summary"] == {"mode": "full", "entries": 2, "swept": 2, "skipped": 2}
    assert not selection.SETTINGS.active


def test_an_entry_past_its_cap_is_skipped_and_the_task_budget_keeps_running(monkeypatch):
    monkeypatch.setattr(sweep, "ENTRY_CAP_S", 0.2)
    monkeypatch.setitem(exercise.RUNNERS, "schedules", lambda keras, entry: time.sleep(5))
    entry = calls.Entry("schedules", calls.Call("optimizers.schedules", "Slow"))
    keras = SimpleNamespace(__version__="3.15.1", __name__="keras", backend=SimpleNamespace(backend=lambda: "numpy"))
    signal.setitimer(signal.ITIMER_REAL, 30)  # the task's own budget
    previous = signal.signal(signal.SIGALRM, lambda *args: None)
    try:
        started = time.time()
        metrics, record = sweep.run_entry(keras, "schedules", entry)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.time() - started < 2 and metrics == {}
    assert record["skipped"] == "ran past the sweep's cap of 0.2 s an entry"
    assert 28 < left < 30  # restarted with what it had left


@pytest.mark.parametrize(("mode", "runs"), [("targeted", [1]), ("full", [1, 2])])
def test_only_the_full_sweep_runs_a_random_entry_again_with_another_seed(monkeypatch, mode, runs):
    seeds = []

    def draws(keras, entry):
        seeds.append(entry.call.arguments["seed"])
        return {"out.mean": 0.5 * entry.call.arguments["seed"], "out.std": 1.0}, {}

    monkeypatch.setitem(exercise.RUNNERS, "layers", draws)
    monkeypatch.setattr(selection.SETTINGS, "mode", mode)
    entry = calls.Entry("layers", calls.Call("layers", "GaussianNoise", {"seed": 1}), random_stream=True)
    keras = SimpleNamespace(__version__="3.15.1", __name__="keras", backend=SimpleNamespace(backend=lambda: "numpy"))
    metrics, record = sweep.run_entry(keras, "layers", entry)
    assert seeds == runs and metrics["sweep.layers.GaussianNoise(seed=1).out.mean"] == 0.5
    if mode == "full":  # how far the other seed moved each mean and std: |1.0 - 0.5| and 0
        assert record["seed_spread"] == {"out.mean": 0.5, "out.std": 0.0}
    else:
        assert "seed_spread" not in record and record["random_stream"] is True


@pytest.mark.parametrize(("mode", "fits"), [("targeted", []), ("full", ["rank1"])])
def test_only_the_full_sweep_fits_a_model_with_each_loss_and_class_weights(monkeypatch, mode, fits):
    fitted = []

    def fit(keras, loss, layout):
        fitted.append(layout)
        return {"fit(class_weight).loss.mean": 1.0}

    class MeanSquaredError:
        def __call__(self, y_true, y_pred, sample_weight=None):
            squared = (np.asarray(y_true, "float64") - np.asarray(y_pred, "float64")) ** 2
            per_sample = squared.mean(axis=-1) if squared.ndim > 1 else squared
            return float(np.mean(per_sample if sample_weight is None else per_sample * sample_weight))

    monkeypatch.setattr(exercise, "fit_with_class_weight", fit)
    monkeypatch.setattr(selection.SETTINGS, "mode", mode)
    keras = SimpleNamespace(__version__="3.15.1", __name__="keras", losses=SimpleNamespace(MeanSquaredError=MeanSquaredError))
    found, partial = exercise.run_loss(keras, calls.Entry("losses", calls.Call("losses", "MeanSquaredError")))
    assert fitted == fits and partial == {}
    # rank-1 labels [0, 1, 1, 0] against [0.1, 0.8, 0.4, 0]: squared errors 0.01, 0.04, 0.36, 0
    assert found["rank1.unweighted"] == pytest.approx(0.41 / 4)
    assert ("fit(class_weight).loss.mean" in found) is (mode == "full")


def test_the_runner_lists_the_sweep_last_keeps_its_records_apart_and_notes_constructions(monkeypatch):
    monkeypatch.setattr(run, "door_tasks", lambda every, doors, differences: [])
    monkeypatch.setattr(run.frameworks, "door_differences", lambda: {})
    every, _ = run.available_tasks("", {"errors": {}})
    assert [task.name for task in every[-len(tables.KINDS):]] == ["sweep." + kind for kind in tables.KINDS]
    monkeypatch.setattr(selection.SETTINGS, "mode", "off")
    assert not [task for task in run.available_tasks("", {"errors": {}})[0] if task.kind == "sweep"]

    def constructs(keras):
        STATE.constructed.add("layers.GRU")
        return {"t.x": 1.0}, {}, {"sweep": {"layers.GRU(units=3)": {"kind": "layers", "call": "layers.GRU(units=3)", "snippet": "x\n"}}}

    result = {"metrics": {}, "series": {}, "facts": {}, "noise": {}, "errors": {}, "not_applicable": {}, "repeats": 1,
              "timings": {"tasks_s": {}}, "tasks": {}}
    run._run_task(Task("t", constructs), None, result)
    assert result["facts"]["t"] == {"constructed": ["layers.GRU"]}
    assert result["sweep"] == {"layers.GRU(units=3)": {"kind": "layers", "call": "layers.GRU(units=3)", "snippet": "x\n"}}
    assert selection.called_in(result["facts"]) == {"layers.GRU"}


def test_without_keras_the_sweep_tasks_are_skipped():
    result = {"metrics": {}, "series": {}, "facts": {}, "noise": {}, "errors": {}, "not_applicable": {}, "repeats": 1,
              "timings": {"tasks_s": {}}, "tasks": {}}
    for task in sweep.TASKS:
        run._run_task(task, None, result)
    assert {task["status"] for task in result["tasks"].values()} == {"skipped"}
    assert set(result["not_applicable"].values()) == {"no Keras loaded"} and result["metrics"] == {}


# -- the host ---------------------------------------------------------------------------------------------


def test_the_sweep_mode_reaches_the_probe_and_the_result():
    assert ProbeSettings().arguments()[:2] == ["--sweep", "targeted"]  # every run sweeps what it called, by default
    assert ProbeSettings(sweep="full").arguments()[:2] == ["--sweep", "full"]
    assert ProbeSettings(sweep="targeted").record()["sweep"] == "targeted"


@pytest.mark.parametrize(("given", "expected"), [([], "targeted"), (["--sweep", "off"], "off"), (["--sweep", "full"], "full")])
def test_the_command_line_takes_the_sweep_mode(tmp_path, given, expected):
    args = build_parser().parse_args(["run", "--root", str(tmp_path), *given])
    args.probes = None
    assert cli_common.settings(args).sweep == expected


def test_the_command_line_refuses_another_sweep_mode(tmp_path):
    with pytest.raises(InputError, match="--sweep: invalid choice: 'some'"):
        build_parser().parse_args(["run", "--sweep", "some"])


def result_with(sweep_section):
    return {"schema_version": 1, "env": "a", "status": "ok", "metrics": {"sweep.layers.Dense(units=3).inference.mean": 0.5},
            "tasks": {"sweep.layers": {"family": "sweep", "doc": "", "defaults": [], "explicit": [], "random_stream": False,
                                       "repeat": False, "kind": "sweep", "saves": False, "status": "ok"}},
            "sweep": sweep_section}


def test_the_result_schema_takes_the_sweep_section():
    entry = {"kind": "layers", "call": "layers.Dense(units=3)", "snippet": "import keras\n", "random_stream": False,
             "partial": {"gradient": "not differentiable"}, "seconds": 0.25}
    validate(result_with({"layers.Dense(units=3)": entry, "layers.Lambda()": dict(entry, skipped="Lambda needs function=")}), "r.json")
    with pytest.raises(InputError, match=re.escape("sweep/layers.Dense(units=3): 'snippet' is a required property")):
        validate(result_with({"layers.Dense(units=3)": {"kind": "layers", "call": "layers.Dense(units=3)"}}), "r.json")
    with pytest.raises(InputError, match="sweep/x/partial/gradient: 3 is not of type 'string'"):
        validate(result_with({"x": dict(entry, partial={"gradient": 3})}), "r.json")


def test_cache_key_changes_with_the_sweep_mode(tmp_path):
    from keras_drift.envs.specs import load_spec

    path = tmp_path / "envs" / "e.toml"
    path.parent.mkdir()
    path.write_text('requirements = ["keras==3.15.1"]\npython = "3.11"\nbackend = "jax"\n')
    spec = load_spec(path)
    assert cache_key(spec, ProbeSettings(sweep="full").record()) != cache_key(spec, ProbeSettings().record())


def test_a_baseline_with_infinite_values_is_told_to_the_probe_in_the_result_files_spelling(tmp_path):
    """The sweep's metrics may be infinite (``activations.exponential(x).at(1000)``): the file that tells a
    probe the baseline's metrics spells them as result files do, and the probe reads them as equal."""
    import json

    from keras_drift.execute import runner
    from keras_drift.store.results import Result

    (tmp_path / runner.LOGS_DIR).mkdir()
    baseline = Result({"env": "old", "metrics": {"sweep.activations.exponential(x).at(1000)": float("inf"), "w": float("nan"), "b": 1.0}})
    path = runner._baseline_file(runner.BaselineWatch("old", (("*", 0.0, 0.0),)), {"old": baseline}, "new", tmp_path, 3)
    told = json.loads(path.read_text())
    assert told["metrics"] == {"sweep.activations.exponential(x).at(1000)": "Infinity", "w": "NaN", "b": 1.0}
    assert not run.drifts_from_baseline({"sweep.activations.exponential(x).at(1000)": float("inf"), "b": 1.0}, told)
    assert run.drifts_from_baseline({"sweep.activations.exponential(x).at(1000)": 3.0}, told)
