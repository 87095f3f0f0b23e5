import math
import re

from conftest import make_result

from keras_drift.judge.attribute import attribute
from keras_drift.judge.compare import Tolerance, behaviour_changes, compare
from keras_drift.render.report import render, summary_line
from keras_drift.store.verdicts import Cause, Certainty

TOL = [Tolerance("*", 1e-6, 1e-5)]
EVIL = '<script>alert("x")</script>'


def _results():
    base = make_result("tf-2.15", {"linear.defaults.w": 0.4187, "linear.reference.w": 0.599998})
    base["series"] = {"linear.defaults": {"step": [0, 50], "w": [-0.8, 0.1], "b": [0.0, 0.5], "loss": [1.0, 0.1]}}
    base["fingerprint"] = {"distributions": {"numpy": "1.26.4", "keras": "2.15.0", "agreeing-dist": "7.7.7"},
                           "env_vars": {"KERAS_BACKEND": "tensorflow"}}
    jax = make_result("keras-jax", {"linear.defaults.w": 0.5578, "linear.reference.w": 0.599998})
    jax["series"] = {"linear.defaults": {"step": [0, 50], "w": [-0.04, 0.3], "b": [0.0, 0.5], "loss": [1.0, 0.05]}}
    jax["fingerprint"] = {"distributions": {"numpy": "2.1.0", "keras": "3.15.1", "agreeing-dist": "7.7.7", EVIL: "1"},
                          "env_vars": {"KERAS_BACKEND": "jax"}}
    broken = make_result("broken", {}, status="failed", reason=f"install failed {EVIL}", log_tail=f"error: {EVIL}")
    return [base, jax, broken]


def test_summary_line_counts_drift_and_failures():
    results = _results()
    line = summary_line(results, compare(results, "tf-2.15", TOL), "tf-2.15")
    assert line == "1 of 2 metrics drift across 1 of 2 environments against tf-2.15; 1 environment failed"


def test_summary_line_names_the_same_behaviour_changes_whatever_the_order_of_results():
    results = _results()[:2]
    other = make_result("aaa", {"m": 1.0})
    for result, behaviour in ((results[0], "honoured"), (results[1], "error: ValueError"), (other, "ignored")):
        result["introspection"] = {"defaults": {}, "api": {"SGD(lr=0.1)": behaviour, "Adam(decay=0.01)": behaviour}}
    lines = set()
    for ordered in ([*results, other], [other, *results]):
        behaviours = behaviour_changes(ordered, "tf-2.15")
        lines.add(summary_line(ordered, compare(ordered, "tf-2.15", TOL), "tf-2.15", behaviours))
    [line] = lines
    assert line.endswith("; 4 behaviours changed in 2 environments (Adam(decay=0.01): honoured -> ignored, "
                         "SGD(lr=0.1): honoured -> ignored, ...)")


def test_report_is_self_contained_escaped_and_shows_every_environment(tmp_path):
    results = _results()
    verdicts = attribute(compare(results, "tf-2.15", TOL), results, "tf-2.15")
    path = render(results, verdicts, baseline="tf-2.15", run_info={"run_id": "r1"}, out=tmp_path / "report.html")
    html = path.read_text()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert EVIL not in html and "&lt;script&gt;" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the report must load nothing"
    for name in ("tf-2.15", "keras-jax", "broken"):
        assert name in html
    assert "1 of 2 metrics drift" in html
    assert html.count("<svg") == 1  # one plot for the one series
    matrix = html.split("<h2>All metrics against")[1].split("<h2")[0]
    drift_cell = re.search(r'<td[^>]*class="[^"]*verdict-drift[^"]*"[^>]*>([^<]*)</td>', matrix)
    assert drift_cell and "DRIFT" in drift_cell.group(1) and "0.5578" in drift_cell.group(1)  # the drifting value, marked
    # packages that differ are listed, the ones that agree are not
    packages = html.split("<h2>Installed packages that differ</h2>")[1].split("<h2")[0]
    assert "numpy" in packages and "1.26.4" in packages and "2.1.0" in packages
    assert "agreeing-dist" not in packages
    assert "linear.defaults.w" in html


def test_families_are_summarised_drifting_first_and_coverage_names_skips():
    from keras_drift.render.report import coverage_lines, family_sections

    base = make_result("base", {"optimizer.explicit.SGD.w0": 0.5, "optimizer.explicit.Nadam.w0": 0.53, "activation.functions.relu(3)": 3.0})
    cand = make_result("cand", {"optimizer.explicit.SGD.w0": 0.5, "optimizer.explicit.Nadam.w0": 0.54, "activation.functions.relu(3)": 3.0})
    cand["tasks"] = {"optimizer.explicit": {"family": "optimizer", "status": "ok"},
                     "recurrent.defaults": {"family": "recurrent", "status": "skipped"},
                     "activation.functions": {"family": "activation", "status": "ok"}}
    cand["not_applicable"] = {"recurrent.defaults": "recurrent weights of Keras 1.2.0 are laid out per gate; not converted"}
    sections = family_sections(compare([base, cand], "base", TOL), ["base", "cand"], "base")
    assert [(s["family"], s["summary"], s["drifts"]) for s in sections] == [
        ("optimizer", "optimizer: 1 of 2 metrics drift, in cand", True),
        ("activation", "activation: 0 of 1 metric drift", False),
    ]
    assert coverage_lines([cand])[0] == ("cand: 2 tasks ran (activation, optimizer); 1 skipped "
                                         "(recurrent.defaults: recurrent weights of Keras 1.2.0 are laid out per gate; not converted)")


def test_the_sweeps_quiet_metrics_are_counted_and_what_moved_is_drawn():
    from keras_drift.render.report import family_sections

    base = make_result("base", {"sweep.layers.Dense(units=3).inference.mean": 0.5, "sweep.layers.Dense(units=3).inference.std": 0.2,
                                "sweep.layers.GRU(units=3).inference.mean": 0.1, "linear.defaults.w": 0.6})
    cand = make_result("cand", {"sweep.layers.Dense(units=3).inference.mean": 0.5, "sweep.layers.Dense(units=3).inference.std": 0.9,
                                "sweep.ops.add(x1,x2).out.mean": 0.3, "linear.defaults.w": 0.6})
    (linear, sweep) = sorted(family_sections(compare([base, cand], "base", TOL), ["base", "cand"], "base"), key=lambda s: s["family"])
    # the drifting std is drawn; the identical mean, the GRU only the baseline has and the op only the candidate has are counted
    assert [row["metric"] for row in sweep["matrix"]["rows"]] == ["sweep.layers.Dense(units=3).inference.std"]
    assert (sweep["matrix"]["hushed"], sweep["matrix"]["steady"]) == (3, [])
    assert (linear["matrix"]["rows"], linear["matrix"]["steady"], linear["matrix"]["hushed"]) == ([], ["linear.defaults.w"], 0)


def test_a_long_finding_draws_its_largest_rows_and_counts_the_rest(tmp_path, monkeypatch):
    from keras_drift.render import report

    monkeypatch.setattr(report, "FINDING_ROWS", 2)
    monkeypatch.setattr(report, "LISTED_NAMES", 2)
    monkeypatch.setattr(report, "QUIET_ROWS", 1)
    names = [f"sweep.layers.L{index}().out.mean" for index in range(4)]
    base = make_result("base", dict.fromkeys(names, 1.0))
    cand = make_result("cand", {name: 1.0 + 0.1 * (index + 1) for index, name in enumerate(names)})  # L3 moved most
    verdicts = attribute(compare([base, cand], "base", TOL), [base, cand], "base")
    html = render([base, cand], verdicts, baseline="base", run_info={"run_id": "r"}, out=tmp_path / "report.html").read_text()
    drifting = html.split('<h2 id="drifting">Drifting metrics</h2>')[1].split("<h2")[0]
    assert "L3()" in drifting and "L2()" in drifting and "L1()" not in drifting and "L0()" not in drifting
    assert "2 more metrics of this finding, each a smaller change" in drifting
    why = html.split('<h2 id="why">Why they drift</h2>')[1].split("<h2")[0]
    assert "and 2 more" in why
    matrix = html.split("All metrics against base")[1].split("<h2")[0]
    assert matrix.count('<tr><th>sweep.layers.') == 1 and "3 more metric(s) that drift or are accepted, not drawn" in matrix


def test_why_spells_out_a_cause_lines_largest_findings_and_counts_the_rest(tmp_path, monkeypatch):
    from keras_drift.render import report

    monkeypatch.setattr(report, "LISTED_FINDINGS", 2)
    # three seeded entries whose draws differ, their distribution kept: one random-stream finding each,
    # covering 3, 2 and 1 drifting statistics
    outputs = {"A": ("checksum", "min", "max"), "B": ("checksum", "min"), "C": ("checksum",)}
    base_metrics, cand_metrics, records = {}, {}, {}
    for entry, moved in outputs.items():
        key = f"layers.{entry}(seed=1)"
        records[key] = {"call": key, "random_stream": True}
        for name, side in (("mean", 0.0), ("std", 1.0), ("checksum", 5.0), ("min", -2.0), ("max", 2.0)):
            base_metrics[f"sweep.{key}.out.{name}"] = side
            cand_metrics[f"sweep.{key}.out.{name}"] = side + (0.5 if name in moved else 0.0)
        base_metrics[f"sweep.{key}.out.shape"] = cand_metrics[f"sweep.{key}.out.shape"] = "100"
    base = make_result("base", base_metrics, sweep=records)
    cand = make_result("cand", cand_metrics, sweep=records)
    verdicts = attribute(compare([base, cand], "base", TOL), [base, cand], "base")
    html = render([base, cand], verdicts, baseline="base", run_info={"run_id": "r"}, out=tmp_path / "report.html").read_text()
    why = html.split('<h2 id="why">Why they drift</h2>')[1].split("<h2")[0]
    # the two findings covering most metrics are spelled out, the third counted and linked
    assert "layers.A(seed=1) draws random numbers" in why and "layers.B(seed=1) draws random numbers" in why
    assert "layers.C(seed=1) draws" not in why
    assert '1 more findings of this cause, each under <a href="#drifting">Drifting metrics</a>' in why
    drifting = html.split('<h2 id="drifting">Drifting metrics</h2>')[1].split("<h2")[0]
    assert all(f"layers.{entry}(seed=1) draws random numbers" in drifting for entry in outputs)


def test_keys_only_some_environments_have_fold_into_one_line_per_owner_and_environments():
    from keras_drift.judge.attribute import differing
    from keras_drift.render.report import ABSENT, fold_one_sided

    table = differing({
        "tf-2.15": {"optimizer.Adam.epsilon": 1e-7, "optimizer.Adam.amsgrad": False, "fit.epochs": 1},
        "keras-jax": {"optimizer.Adam.epsilon": 1e-7, "optimizer.Adam.amsgrad": False, "fit.epochs": 10,
                      "optimizer.Adam.use_ema": False, "optimizer.Adam.ema_momentum": 0.99, "optimizer.SGD.use_ema": False},
    }, absent=ABSENT)
    section = fold_one_sided(table, by_owner=True)
    assert list(section.changed.index) == ["fit.epochs"]  # changed values stay a table
    assert section.one_sided == ["optimizer.Adam: only in keras-jax: ema_momentum, use_ema", "optimizer.SGD: only in keras-jax: use_ema"]
    assert fold_one_sided(table, by_owner=False).one_sided == [
        "only in keras-jax: optimizer.Adam.ema_momentum, optimizer.Adam.use_ema, optimizer.SGD.use_ema"]


def test_a_single_point_series_is_a_table_not_a_plot(tmp_path):
    results = _results()[:2]
    for result, loss in zip(results, (0.5, 0.25), strict=True):
        result["series"] = {"classifier.defaults": {"epoch": [0], "loss": [loss], "val_loss": [loss * 2]}}
    verdicts = attribute(compare(results, "tf-2.15", TOL), results, "tf-2.15")
    html = render(results, verdicts, baseline="tf-2.15", run_info={"run_id": "r1"}, out=tmp_path / "report.html").read_text()
    trajectories = html.split("<h2>Trajectories</h2>")[1].split("<h2")[0]
    assert "<svg" not in trajectories and "classifier.defaults (a single point)" in trajectories
    assert "<td>0.25</td>" in trajectories and "<td>0.5</td>" in trajectories and "<td>1</td>" in trajectories


def test_why_they_drift_has_one_line_per_environment_and_cause_with_each_finding_once():
    import pandas as pd

    from keras_drift.render.report import cause_summary

    rows = [("jax", "linear.defaults.w", "random_stream", "proven", "replayed weights", 0.5),
            ("jax", "linear.defaults.b", "random_stream", "proven", "replayed weights", 0.1),
            ("jax", "classifier.defaults.loss", "random_stream", "suspected", "the twin agrees", 0.2),
            ("jax", "nadam.w", "numerics", "suspected", "same inputs", 0.01),
            ("torch", "linear.defaults.w", "random_stream", "proven", "replayed weights", 0.3)]
    verdicts = pd.DataFrame([{"env": env, "metric": metric, "cause": cause, "proof": proof, "evidence": evidence, "verdict": "drift",
                              "value": 1.0 + rel, "baseline_value": 1.0, "abs_diff": rel, "rel_diff": rel}
                             for env, metric, cause, proof, evidence, rel in rows])
    lines = cause_summary(verdicts)
    assert [(line["env"], line["cause"], line["proof"], line["count"]) for line in lines] == [
        ("jax", "random_stream", "proven", 3), ("torch", "random_stream", "proven", 1), ("jax", "numerics", "suspected", 1)]
    findings = lines[0]["findings"]
    assert [(finding["proof"], finding["evidence"]) for finding in findings] == [("proven", "replayed weights"), ("suspected", "the twin agrees")]
    assert [row["metric"] for row in findings[0]["rows"]] == ["linear.defaults.w", "linear.defaults.b"]  # largest change first
    assert all(type(finding["proof"]) is Certainty for line in lines for finding in line["findings"])
    assert all(type(line["proof"]) is Certainty and type(line["cause"]) is Cause for line in lines)


def test_the_first_steps_are_drawn_with_the_parting_step_marked():
    from keras_drift.judge.localise import Localisation
    from keras_drift.render.report import first_steps_plot

    # 5 steps, losses from 1.0 to 2.0: x runs 40..552 (128 px a step), y from 108 (1.0) up to 40 (2.0); the
    # candidate's NaN at step 4 is a gap; step 3 is marked at x = 40 + 512 * 2 / 4 = 296.0
    found = Localisation("m.t", first_divergent_step=3, step_losses=((1.0, 1.25, 1.5, 1.75, 2.0), (1.0, 1.25, 2.0, math.nan, 1.0)))
    svg = first_steps_plot("new", "old", found)
    assert 'points="40.0,108.0 168.0,91.0 296.0,74.0 424.0,57.0 552.0,40.0"' in svg
    assert 'points="40.0,108.0 168.0,91.0 296.0,40.0 552.0,108.0"' in svg
    assert '<line x1="296.0" x2="296.0"' in svg and "part at step 3</text>" in svg
    assert "m.t: loss of the first 5 steps</text>" in svg and "old solid, new dashed</text>" in svg
    assert first_steps_plot("new", "old", Localisation("m.t", step_losses=((math.nan,), (math.nan,)))) == ""


def test_the_report_names_each_restart_each_task_cut_short_the_door_and_how_the_environment_resolved(tmp_path):
    results = _results()
    base, jax = results[0], results[1]
    base["fingerprint"].update(front_door="tf.keras", front_doors={"keras": {"module": "keras", "differs": ["optimizers.Adam", "optimizers.SGD"],
                                                                               "missing": []}})
    base["spec"] = {"requirements": ["tensorflow-cpu==2.12.1"], "resolution": {"mode": "era", "as_of": "2023-06-01T00:00:00Z", "why": ""},
                    "requirements_added": {"packaging": "imports it undeclared"}}
    jax["restarts"] = [{"what": "probe died of SIGSEGV (signal 11) in task classifier.defaults (task)", "task": "classifier.defaults",
                        "phase": "task", "signal": "SIGSEGV (signal 11)", "without": ["compile-cache"]}]
    jax["tasks"] = {"linear.defaults": {"family": "linear", "status": "skipped",
                                        "cut_short": {"reason": "cut short after 21 of 1001 steps: 0.6 s per step"}}}
    verdicts = attribute(compare(results, "tf-2.15", TOL), results, "tf-2.15")
    html = render(results, verdicts, baseline="tf-2.15", run_info={"run_id": "r1"}, out=tmp_path / "report.html").read_text()
    problems = html.split('<h2 id="failures">Failures and skips</h2>')[1].split("<h2")[0]
    assert "the probe died 1 time(s) and was resumed" in problems
    assert "probe died of SIGSEGV (signal 11) in task classifier.defaults (task); resumed without compile-cache" in problems
    assert "linear.defaults: cut short after 21 of 1001 steps: 0.6 s per step" in problems
    provenance = html.split("<h2>Provenance</h2>")[1]
    assert "tf.keras; keras differs in 2" in provenance and "era as of 2023-06-01T00:00:00Z" in provenance
    assert "packaging (added: imports it undeclared)" in provenance


def test_a_trajectory_is_drawn_by_hand_on_shared_axes_with_the_loss_on_a_log_scale():
    """Panels of 420 x 170 px, frames from x 58 to 408 (the second panel 478 to 828) and y 146 (low) to 22
    (high): the points worked out by hand from the step range 0..100, w 0..1 and log10(loss) -2..0."""
    from keras_drift.render.report import trajectory_plots

    one = make_result("one", {}, series={"linear.defaults": {"step": [0, 50, 100], "loss": [1.0, 0.1, 0.01], "w": [0.0, 0.5, 1.0]}})
    two = make_result("two", {}, series={"linear.defaults": {"step": [0, 50, 100], "loss": [1.0, 0.1, 0.1], "w": [0.0, 0.25, 0.5]}})
    [plot] = trajectory_plots([one, two])
    svg = plot["svg"]
    assert 'points="58.0,22.0 233.0,84.0 408.0,146.0"' in svg and 'points="58.0,22.0 233.0,84.0 408.0,84.0"' in svg  # loss, log
    assert 'points="478.0,146.0 653.0,84.0 828.0,22.0"' in svg and 'points="478.0,146.0 653.0,115.0 828.0,84.0"' in svg  # w
    assert ">1</text>" in svg and ">0.01</text>" in svg and "linear.defaults: loss (log)</text>" in svg
    assert ">one</text>" in svg and ">two</text>" in svg and len(svg) < 4000
