"""The public API surface: what the probe records (probe.introspect), the diff judged on the host
(keras_drift.judge.surface) on hand-written surfaces, the removed name a task calls, and where the diff
shows (verdicts.json, the report, the gate, the first screen)."""

import collections
import types

import numpy as np
from conftest import make_result

from keras_drift import pipeline
from keras_drift.cli import main
from keras_drift.errors import ExitCode
from keras_drift.judge.compare import Tolerance
from keras_drift.judge.overview import overview
from keras_drift.judge.surface import (
    KEYWORD_ONLY,
    POSITIONAL,
    POSITIONAL_ONLY,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    Parameter,
    SignatureChange,
    compare_surfaces,
    diff,
    entry_change,
    parse_signature,
    surface_of,
)
from keras_drift.render.report import render
from keras_drift.store.results import write_result
from keras_drift.store.verdicts import validate_verdicts
from probe import introspect
from probe.state import STATE

TOL = [Tolerance("*", 1e-6, 1e-5)]


# -- the probe's side ---------------------------------------------------------------------------------


def _module(name, **members):
    module = types.ModuleType(name)
    for key, value in members.items():
        setattr(module, key, value)
    return module


HALF = np.float32(0.5)  # a NumPy default: written as its Python value


def _fake_keras(name="keras", adam_default=0.001):
    """A stand-in door: ``layers`` and ``optimizers`` whose members the library defines, or merely imports."""

    class Dense:
        def __init__(self, units, activation=None, use_bias=True, **kwargs):
            pass

    class Adam:
        def __init__(self, learning_rate=adam_default, beta_1=HALF, *, name="adam"):
            pass

    def relu(x, /, alpha=0.0, *args, max_value=None, **kwargs):
        return x

    for owner, member in ((name + ".layers", Dense), (name + ".optimizers", Adam), (name + ".layers", relu)):
        member.__module__ = owner
    layers = _module(name + ".layers", Dense=Dense, relu=relu, _private=Dense, np=np, defaultdict=collections.defaultdict,
                     annotations=__import__("__future__").annotations, VERSION="3.0")
    return _module(name, layers=layers, optimizers=_module(name + ".optimizers", Adam=Adam))


def test_the_probe_records_every_public_name_its_kind_and_its_signature(monkeypatch):
    monkeypatch.setattr(introspect, "_SURFACES", {})
    surface = introspect.api_surface(_fake_keras())
    assert sorted(surface) == ["layers", "optimizers"]  # the namespaces this door lacks are left out
    # np, defaultdict and the __future__ feature are imported, not the library's; _private is private
    assert surface["layers"] == {
        "Dense": {"kind": "class", "signature": "(units, activation=None, use_bias=True, **kwargs)"},  # __init__ without self
        "relu": {"kind": "function", "signature": "(x, /, alpha=0.0, *args, max_value=None, **kwargs)"},
        "VERSION": {"kind": "other"},
    }
    # a NumPy default as its Python value, keyword-only parameters after a bare *
    assert surface["optimizers"]["Adam"]["signature"] == "(learning_rate=0.001, beta_1=0.5, *, name='adam')"


def test_a_default_is_written_so_that_it_reads_the_same_in_every_run():
    class Thing:
        pass

    assert introspect.default_text(Thing) == "<test_a_default_is_written_so_that_it_reads_the_same_in_every_run.<locals>.Thing>"
    assert introspect.default_text(len) == "<len>" and introspect.default_text(Thing()) == "<Thing>"  # no memory address
    assert introspect.default_text("x" * 100) == "<str>" and introspect.default_text((1, 1)) == "(1, 1)"
    assert introspect.signature_text(object) == "(*args, **kwargs)"  # object.__init__, self dropped
    assert introspect.signature_text(types.SimpleNamespace(__call__=None)) == introspect.UNKNOWN


def test_another_door_records_only_what_it_reaches_differently(monkeypatch):
    monkeypatch.setattr(introspect, "_SURFACES", {})
    documented, other = _fake_keras("tf_keras"), _fake_keras("keras", adam_default=0.01)
    del other.layers.relu
    other.layers.Extra = type("Extra", (), {"__module__": "keras.layers"})
    monkeypatch.setattr(STATE, "doors", [("tf.keras", documented), ("keras", other)])
    assert introspect.door_surfaces() == {"keras": {
        "layers": {"Extra": {"kind": "class", "signature": "(*args, **kwargs)"}, "relu": None},
        "optimizers": {"Adam": {"kind": "class", "signature": "(learning_rate=0.01, beta_1=0.5, *, name='adam')"}},
    }}
    monkeypatch.setattr(STATE, "doors", [("keras", documented)])
    assert introspect.door_surfaces() == {}


# -- the host's diff on hand-written surfaces -----------------------------------------------------------


def test_a_canonical_signature_parses_back_into_its_parameters():
    text = "(x, /, alpha=0.0, names=('a, b', \"c\"), *args, max_value={'k': [1, 2]}, label='x=y, z', **kwargs)"
    assert parse_signature(text) == [
        Parameter("x", POSITIONAL_ONLY, None), Parameter("alpha", POSITIONAL, "0.0"), Parameter("names", POSITIONAL, "('a, b', \"c\")"),
        Parameter("args", VAR_POSITIONAL, None), Parameter("max_value", KEYWORD_ONLY, "{'k': [1, 2]}"),
        Parameter("label", KEYWORD_ONLY, "'x=y, z'"), Parameter("kwargs", VAR_KEYWORD, None)]
    assert parse_signature("()") == [] and parse_signature("(*, name=None)") == [Parameter("name", KEYWORD_ONLY, "None")]


BEFORE = {
    "layers": {
        "Dense": {"kind": "class", "signature": "(units, activation=None, use_bias=True, **kwargs)"},
        "Conv2D": {"kind": "class", "signature": "(filters, kernel_size, padding='valid')"},
        "Old": {"kind": "class", "signature": "(x)"},
        "Same": {"kind": "class", "signature": "(a=1)"},
        "Unread": {"kind": "class", "signature": "unknown"},
    },
    "optimizers": {"SGD": {"kind": "class", "signature": "(lr=0.01, momentum=0.0)"}, "get": {"kind": "function", "signature": "(x)"}},
    "backend": {"floatx": {"kind": "function", "signature": "()"}},
}
AFTER = {
    "layers": {
        # use_bias gains keyword-only, activation's default changes, lora_rank is new, **kwargs stays
        "Dense": {"kind": "class", "signature": "(units, activation='linear', *, use_bias=True, lora_rank=None, **kwargs)"},
        "Conv2D": {"kind": "class", "signature": "(kernel_size, filters, padding='valid')"},  # positional order swapped
        "Same": {"kind": "class", "signature": "(a=1)"},
        "Unread": {"kind": "class", "signature": "(anything)"},  # unknown before: not compared
        "New": {"kind": "class", "signature": "()"},
    },
    "optimizers": {"SGD": {"kind": "class", "signature": "(learning_rate=0.01, momentum=0.0)"}, "get": {"kind": "class", "signature": "(x)"}},
    "ops": {"abs": {"kind": "function", "signature": "(x)"}},
}


def test_the_diff_names_what_was_added_removed_and_changed_per_namespace():
    found = compare_surfaces("new", None, BEFORE, AFTER)
    assert found.added == {"layers": ("New",), "ops": ("abs",)}
    assert found.removed == {"backend": ("floatx",), "layers": ("Old",)}
    assert found.changed == {
        "layers": (SignatureChange("Conv2D", reordered=True),
                   SignatureChange("Dense", added=("lora_rank",), defaults=(("activation", "None", "'linear'"),),
                                   kinds=(("use_bias", POSITIONAL, KEYWORD_ONLY),))),
        "optimizers": (SignatureChange("SGD", added=("learning_rate",), removed=("lr",)), SignatureChange("get", kind=("function", "class"))),
    }
    assert found.counts == {"added": 2, "removed": 2, "changed": 4} and found.line() == "2 added, 2 removed, 4 signatures changed"
    assert found.changed["layers"][1].text() == "Dense: + lora_rank; activation None → 'linear'; use_bias positional → keyword-only"
    assert found.changed["optimizers"][0].document() == {"added": ["learning_rate"], "removed": ["lr"]}
    assert compare_surfaces("same", None, BEFORE, BEFORE).empty
    # Keras 3.15's LayerNormalization pops rms_scaling from its **kwargs: removed from the signature, maybe still taken
    norm = entry_change("LayerNormalization", {"kind": "class", "signature": "(axis=-1, rms_scaling=False, **kwargs)"},
                        {"kind": "class", "signature": "(axis=-1, **kwargs)"})
    assert norm == SignatureChange("LayerNormalization", removed=("rms_scaling",), into_kwargs=True)
    assert norm.text() == "LayerNormalization: − rms_scaling (**kwargs may take them)" and norm.document()["into_kwargs"] is True


def _surfaced(env, surface, calls=(), constructed=(), **extra):
    result = make_result(env, {"m.w": 0.5}, **extra)
    result["introspection"] = {"defaults": {}, "api": {}, "api_surface": surface}
    result["facts"] = {"linear.defaults": {"api_calls": list(calls)}} if calls else {}
    if constructed:
        result["facts"]["model.defaults"] = {"constructed": list(constructed)}
    return result


def test_the_diff_is_the_same_whichever_order_the_run_had_its_results_in():
    """`drift` judges its results in the order they ran, `report` in the order of their files' names: the
    verdicts it writes must be the same (a `report` re-render changes nothing)."""
    ran = [_surfaced("base", BEFORE), _surfaced("zeta", AFTER), _surfaced("alpha", AFTER)]
    assert [entry.env for entry in diff(ran, "base").diffs] == ["alpha", "zeta"]
    assert diff(ran, "base") == diff(list(reversed(ran)), "base")


def test_a_run_without_surfaces_has_no_diff_and_a_missing_one_is_named():
    plain = [make_result("base", {"m.w": 0.5}), make_result("new", {"m.w": 0.5})]
    assert not diff(plain, "base").recorded and diff(plain, "base").document()["environments"] == []
    document = pipeline.verdicts_document(pipeline.judge(plain, "base", TOL), plain, "base", run_id="run")
    assert "api_surface" not in document
    mixed = [_surfaced("base", BEFORE), make_result("old", {"m.w": 0.5}), _surfaced("new", AFTER)]
    found = diff(mixed, "base")
    assert found.not_recorded == ("old",) and [entry.env for entry in found.diffs] == ["new"]


def test_a_door_is_compared_with_the_same_door_on_the_other_side():
    """The baseline's documented door is tf.keras and its ``keras`` door reaches another SGD; the candidate
    (Keras 3) has only ``keras``. Through ``keras``, SGD's ``lr`` was already gone on the baseline."""
    base = _surfaced("tf-2.12", BEFORE, fingerprint={"front_door": "tf.keras"})
    base["introspection"]["api_surface_doors"] = {"keras": {
        "optimizers": {"SGD": {"kind": "class", "signature": "(learning_rate=0.01, momentum=0.0)"}}, "backend": {"floatx": None}}}
    new = _surfaced("keras-3", AFTER, fingerprint={"front_door": "keras"})
    through = surface_of(base, "keras")
    assert "floatx" not in through.get("backend", {}) and through["optimizers"]["SGD"]["signature"] == "(learning_rate=0.01, momentum=0.0)"
    assert surface_of(base, "tf.keras") is base["introspection"]["api_surface"] and surface_of(new, "keras") is AFTER
    documented, door = diff([base, new], "tf-2.12").diffs
    assert (documented.door, door.door) == (None, "keras") and door.label() == "keras-3 through keras"
    assert documented.removed == {"backend": ("floatx",), "layers": ("Old",)} and door.removed == {"layers": ("Old",)}
    assert [change.name for change in door.changed["optimizers"]] == ["get"]  # SGD is the same through keras
    # where the door says nothing else than the documented doors, it is not repeated
    assert len(diff([_surfaced("a", BEFORE, fingerprint={"front_door": "keras"}), new], "a").diffs) == 1


# -- the removed name a task calls ---------------------------------------------------------------------


def test_a_removed_name_a_task_calls_is_a_finding_that_fails_on_behaviour():
    base = _surfaced("base", BEFORE, calls=["floatx()", "keras.layers.Old", "optimizers.SGD(lr=0.1)", "Dense(units=1)"])
    new = _surfaced("new", AFTER)
    judged = pipeline.judge([base, new], "base", TOL)
    [layers, floatx] = sorted(judged.surface.called, key=lambda found: found.name, reverse=True)
    assert (floatx.name, floatx.tasks, floatx.calls) == ("backend.floatx", ("linear.defaults",), ("floatx()",))
    assert (layers.name, layers.calls) == ("layers.Old", ("keras.layers.Old",))
    assert layers.line() == "new: layers.Old is removed, and called by linear.defaults (keras.layers.Old)"
    assert judged.behaviours.empty  # nothing else changed: the removal alone fails a run that fails on behaviour
    assert pipeline.exit_code(judged, [base, new]) == ExitCode.OK
    assert pipeline.exit_code(judged, [base, new], ("behaviour",)) == ExitCode.DRIFT
    document = validate_verdicts(pipeline.verdicts_document(judged, [base, new], "base", run_id="run", fail_on=("behaviour",)), "verdicts.json")
    assert document["exit_code"] == ExitCode.DRIFT
    assert document["api_surface"]["removed_and_called"][1] == {"env": "new", "door": None, "name": "layers.Old",
                                                                "tasks": ["linear.defaults"], "calls": ["keras.layers.Old"]}
    [entry] = document["api_surface"]["environments"]
    assert entry["counts"] == {"added": 2, "removed": 2, "changed": 4} and entry["removed"] == {"backend": ["floatx"], "layers": ["Old"]}
    assert entry["changed"]["layers"]["Dense"] == {"added": ["lora_rank"], "defaults": {"activation": ["None", "'linear'"]},
                                                   "kinds": {"use_bias": [POSITIONAL, KEYWORD_ONLY]}}
    # nothing a task calls was removed: no finding
    assert not pipeline.judge([_surfaced("base", BEFORE, calls=["SGD(lr=0.1)"]), new], "base", TOL).surface.called
    # a class a task constructed (the facts' constructed, as the sweep's watch notes them), on the candidate's side too
    [built] = pipeline.judge([_surfaced("base", BEFORE), _surfaced("new", AFTER, constructed=["layers.Old", "layers.Dense"])],
                             "base", TOL).surface.called
    assert (built.name, built.tasks, built.calls) == ("layers.Old", ("model.defaults",), ("layers.Old",))


# -- where it shows ------------------------------------------------------------------------------------


def test_the_report_lists_the_called_removal_first_then_each_environment_folded(tmp_path):
    many = {f"op{index:03d}": {"kind": "function", "signature": "(x)"} for index in range(100)}
    evil = '<script>alert("x")</script>'
    after = {**AFTER, "ops": many, "layers": {**AFTER["layers"], evil: {"kind": "other"}}}
    base = _surfaced("base", BEFORE, calls=["keras.layers.Old"])
    one, two, same = _surfaced("one", after), _surfaced("two", after), _surfaced("same", BEFORE)
    results = [base, one, two, same]
    judged = pipeline.judge(results, "base", TOL)
    screen = overview(results, judged, "base", judged.surface)
    assert screen.columns[-1] == ("surface", "API names removed or changed", "surface")
    assert {row["env"]: row["surface"] for row in screen.rows} == {"one": 6, "two": 6, "same": 0}
    assert "Also: 2 removed API name(s) that the tasks call." in screen.headline
    html = render(results, judged.verdicts, baseline="base", run_info={"run_id": "r"}, out=tmp_path / "report.html", first_screen=screen,
                  surface=judged.surface).read_text()
    section = html.split('<h2 id="surface">API surface</h2>')[1].split("<h2")[0]
    assert section.index("layers.Old is removed, and called by linear.defaults") < section.index("one, two</strong>: 102 added")
    assert "one, two</strong>: 102 added, 2 removed, 4 signatures changed" in section  # the same changes, said once
    assert "backend −1 · layers −1 +2 ~2 · ops +100 · optimizers ~2" in section  # every namespace counted
    # removed first, then the changed signatures, then the added names, as many as the budget holds
    assert section.index("<em>backend, removed 1</em>: floatx") < section.index("<em>layers, signatures changed 2</em>: <ul><li>Conv2D")
    assert "<li>Dense: + lora_rank; activation None → &#39;linear&#39;; use_bias positional → keyword-only</li>" in section
    assert "<em>ops, added 100</em><details><summary>show</summary>op000, op001" in section  # folded: more than 8
    assert "op011 … 88 more</details>" in section and "op012" not in section  # 12 names of one list at most
    assert evil not in html and "&lt;script&gt;" in section
    assert "Identical to base: same." in section
    assert 'href="#surface">6</a>' in html.split('<table class="glance">')[1].split("</table>")[0]


def test_the_report_lists_names_within_its_budget_and_counts_the_rest(monkeypatch):
    from keras_drift.render import report

    monkeypatch.setattr(report, "SURFACE_BUDGET", 60)
    many = {f"op{index:03d}": {"kind": "function", "signature": "(x)"} for index in range(100)}
    results = [_surfaced("base", BEFORE), _surfaced("new", {**AFTER, "ops": many}), _surfaced("other", {"ops": many})]
    section = report.surface_section(diff(results, "base"))
    first, second = section["changed"]
    # 500 characters at least per group: the removed names, the changed signatures, then some of the added
    assert [(listed["namespace"], listed["what"], listed["more"]) for listed in first["lists"]] == [
        ("backend", "removed", 0), ("layers", "removed", 0), ("layers", "signatures changed", 0),
        ("optimizers", "signatures changed", 0), ("layers", "added", 0), ("ops", "added", 100 - len(first["lists"][-1]["shown"]))]
    assert 0 < len(first["lists"][-1]["shown"]) < 100 and second["label"] == "other"


def test_a_report_of_results_without_a_surface_has_no_section_and_the_grid_as_before(tmp_path):
    results = [make_result("base", {"m.w": 0.5}), make_result("new", {"m.w": 0.5})]
    judged = pipeline.judge(results, "base", TOL)
    screen = overview(results, judged, "base", judged.surface)
    assert "surface" not in screen.rows[0] and len(screen.columns) == 6
    html = render(results, judged.verdicts, baseline="base", run_info={"run_id": "r"}, out=tmp_path / "report.html", first_screen=screen,
                  surface=judged.surface).read_text()
    assert "<h2 id=\"surface\">" not in html and "API names removed" not in html


def test_the_gate_says_the_surface_of_each_environment_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    for result in (_surfaced("base", BEFORE, calls=["floatx()"]), _surfaced("new", AFTER), _surfaced("same", BEFORE),
                   make_result("old", {"m.w": 0.5})):
        write_result(result, run)
    assert main(["gate", str(run), "--baseline", "base"]) == 0
    assert main(["gate", str(run), "--baseline", "base", "--fail-on", "behaviour"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  api surface: new: backend.floatx is removed, and called by linear.defaults (floatx())"  # first
    assert "  new: api surface: 2 added, 2 removed, 4 signatures changed" in lines
    assert "  same: api surface: identical" in lines and "  old: api surface: not recorded" in lines
