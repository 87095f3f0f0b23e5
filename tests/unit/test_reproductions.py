"""A drifting sweep metric carries its entry's reproduction snippet into verdicts.json and the report, from
hand-made results in the sweep's format (``result["sweep"]["<kind>.<Call>"] = {"kind", "call", "snippet"}``,
metrics ``sweep.<kind>.<Call>.<stat>``); results without a sweep carry none."""

from conftest import make_result

from keras_drift import pipeline
from keras_drift.judge.compare import Tolerance
from keras_drift.judge.reproductions import snippet
from keras_drift.render.report import render
from keras_drift.store.verdicts import validate_verdicts

TOL = [Tolerance("*", 1e-6, 1e-5)]
GLOROT = "initializers.GlorotUniform(seed=1)"
GLOROT_STD = f"sweep.{GLOROT}.shape(3,4,5).std"
SNIPPET = ('import keras\nimport numpy as np\n'
           'w = keras.initializers.GlorotUniform(seed=1)(shape=(3, 4, 5))\nprint(float(np.std(w)))  # <compare> & "both"\n')


def _swept(env, std, dense_mean, **sweep):
    result = make_result(env, {GLOROT_STD: std, "sweep.layers.Dense(units=2).call.mean": dense_mean, "linear.defaults.w": 0.5})
    result["sweep"] = {
        "initializers.GlorotUniform": {"kind": "initializers", "call": "GlorotUniform()", "snippet": "not this one: a shorter key"},
        GLOROT: {"kind": "initializers", "call": "GlorotUniform(seed=1)", "snippet": SNIPPET},
        "layers.Dense(units=2)": {"kind": "layers", "call": "Dense(units=2)", "snippet": "print('dense')"},
        **sweep,
    }
    return result


def test_the_longest_key_that_names_the_metric_gives_the_snippet():
    result = _swept("new", 0.2, 1.0)
    assert snippet(result, GLOROT_STD) == SNIPPET
    assert snippet(result, "sweep.initializers.GlorotUniform.shape(3).std") == "not this one: a shorter key"
    assert snippet(result, "sweep.initializers.GlorotUniform(seed=2).shape(3).std") is None  # a key ends at a dot of the metric
    assert snippet(result, "sweep.layers.DenseFeatures.mean") is None  # Dense(units=2) is not a prefix up to a dot
    assert snippet(result, "linear.defaults.w") is None and snippet(make_result("x", {}), GLOROT_STD) is None


def test_a_drifting_sweep_metric_carries_its_snippet_into_verdicts_and_the_report(tmp_path):
    base, new = _swept("base", 0.2, 1.0), _swept("new", 0.25, 1.0)
    new["sweep"][GLOROT] = dict(new["sweep"][GLOROT], snippet="the candidate's own")
    new["metrics"]["linear.defaults.w"] = 0.6  # drifts too, but is no sweep metric
    judged = pipeline.judge([base, new], "base", TOL)
    assert judged.reproductions == {("new", GLOROT_STD): "the candidate's own"}  # the candidate's own entry first
    # the candidate lacks the entry (GlorotUniform without a seed is another call): the baseline's runs as is on both sides
    del new["sweep"][GLOROT]
    judged = pipeline.judge([base, new], "base", TOL)
    assert judged.reproductions == {("new", GLOROT_STD): SNIPPET}
    document = validate_verdicts(pipeline.verdicts_document(judged, [base, new], "base", run_id="run"), "verdicts.json")
    rows = document["environments"]["new"]["metrics"]
    assert rows[GLOROT_STD]["verdict"] == "drift" and rows[GLOROT_STD]["reproduction"] == SNIPPET
    assert "reproduction" not in rows["sweep.layers.Dense(units=2).call.mean"]  # identical: nothing to reproduce
    assert "reproduction" not in rows["linear.defaults.w"] and "reproduction" not in document["environments"]["base"]["metrics"][GLOROT_STD]
    html = render([base, new], judged.verdicts, baseline="base", run_info={"run_id": "r"}, out=tmp_path / "report.html",
                  reproductions=judged.reproductions).read_text()
    drifting = html.split('<h2 id="drifting">Drifting metrics</h2>')[1].split("<h2")[0]
    # the row links to its entry's snippet, written once below the table
    assert f'<td>{GLOROT_STD} <a class="reproduce" href="#reproduce-0">reproduce</a></td>' in drifting
    assert '<figure id="reproduce-0"><figcaption>' + GLOROT_STD + '</figcaption><pre>import keras\n' in drifting
    assert "# &lt;compare&gt; &amp; &#34;both&#34;" in drifting and "<compare>" not in html  # escaped
    assert drifting.count('class="reproduce"') == 1 and drifting.count("<pre>") == 1


def test_results_without_a_sweep_carry_no_reproduction():
    base, new = make_result("base", {"sweep.x.Y().mean": 1.0}), make_result("new", {"sweep.x.Y().mean": 2.0})
    judged = pipeline.judge([base, new], "base", TOL)
    assert judged.reproductions == {}
    document = pipeline.verdicts_document(judged, [base, new], "base", run_id="run")
    assert document["environments"]["new"]["metrics"]["sweep.x.Y().mean"]["verdict"] == "drift"
    assert "reproduction" not in document["environments"]["new"]["metrics"]["sweep.x.Y().mean"]


def test_each_snippet_is_written_once_however_many_rows_link_to_it():
    from keras_drift.render.report import reproduction_blocks

    dropout = "sweep.layers.Dropout(rate=0.5,seed=1)"
    found = reproduction_blocks({("jax", f"{dropout}.training.mean"): "A", ("torch", f"{dropout}.training.std"): "A",
                                 ("jax", f"{dropout}.inference.mean"): "A", ("jax", GLOROT_STD): "B"})
    assert found["blocks"] == [{"id": 0, "text": "A", "entry": dropout}, {"id": 1, "text": "B", "entry": GLOROT_STD}]
    assert found["links"] == {("jax", f"{dropout}.training.mean"): 0, ("torch", f"{dropout}.training.std"): 0,
                              ("jax", f"{dropout}.inference.mean"): 0, ("jax", GLOROT_STD): 1}
