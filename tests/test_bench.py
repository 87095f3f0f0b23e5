import pytest

from keras_drift.bench import env_costs, generated_matrix, render_generated, table
from conftest import make_result


def test_wall_time_splits_into_install_import_compute_and_overhead():
    result = make_result("a", {"w": 1.0}, timings={"install_s": 2.0, "import_s": 5.0, "total_s": 15.0,
                                                   "probe_process_s": 16.5, "wall_s": 18.75})
    costs = env_costs(result)
    assert costs == pytest.approx({"install_s": 2.0, "start_import_s": 6.5, "compute_s": 10.0, "overhead_s": 0.25, "wall_s": 18.75})


def test_generated_matrix_moves_floats_only():
    template = make_result("a", {"w": 1.0, "epochs": 3})
    generated = generated_matrix(template, 3)
    assert [r["env"] for r in generated] == ["generated-00", "generated-01", "generated-02"]
    assert generated[2]["metrics"] == {"w": pytest.approx(1.002), "epochs": 3}


def test_table_states_every_headline_figure():
    costs = {"install_s": 1.0, "start_import_s": 2.0, "compute_s": 3.0, "overhead_s": 0.1, "wall_s": 6.1}
    summary = {"per_env": {"a": {"warm": costs, "parallel": costs}}, "cold_wall_s": None, "warm_wall_s": 6.5,
               "parallel_wall_s": 4.0, "parallel_speedup": 1.625, "warm_floor_s": 5.0, "warm_ratio": 1.3,
               "parallel_jobs": 2, "parallel_matches_sequential": True,
               "render": {"run": {"render_s": 1.5, "html_bytes": 2048}}}
    text = table(summary)
    assert "warm_ratio                   1.30" in text and "parallel_speedup             1.62" in text
    assert "render run                   1.50 s, 2 KiB" in text and "cold_wall_s                  None" in text


def test_render_generated_with_history(tmp_path):
    template = make_result("a", {"linear.reference.w": 0.6, "classifier.defaults.epochs": 1})
    figures = render_generated(template, 3, tmp_path / "out.html", history_runs=4)
    html = (tmp_path / "out.html").read_text()
    assert figures["environments"] == 3 and figures["history_runs"] == 4 and figures["html_bytes"] == len(html.encode())
    assert "over the last 4 earlier runs" in html and html.count('class="spark"') == 3 * 2
    assert not (tmp_path / "history-3x4").exists()
