"""Whatever bytes a result file holds, the loader returns a valid result or raises the documented error."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_drift.store.results import InputError, load_result

VALID = {"schema_version": 1, "env": "a", "status": "ok", "metrics": {"w": 0.5, "n": "NaN"},
         "series": {"s": {"loss": [1.0, 0.5]}}, "errors": {}}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def mutated(document):
    """Replace, delete or add one key anywhere in the valid document."""
    return st.tuples(st.sampled_from(["schema_version", "env", "status", "metrics", "series", "errors", "extra"]),
                     st.sampled_from(["replace", "delete"]), json_values).map(lambda change: _apply(document, *change))


def _apply(document, key, how, value):
    copy = json.loads(json.dumps(document))
    if how == "delete":
        copy.pop(key, None)
    else:
        copy[key] = value
    return json.dumps(copy)


def _truncations(text):
    return st.integers(min_value=0, max_value=len(text)).map(lambda n: text[:n])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=64).map(lambda b: b.decode("latin-1")), json_values.map(json.dumps),
                         mutated(VALID), _truncations(json.dumps(VALID))))
def test_loader_loads_or_raises_the_documented_error(tmp_path, content):
    path = tmp_path / "r.json"
    path.write_text(content, encoding="utf-8")
    try:
        result = load_result(path)
    except InputError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
    else:
        assert result["schema_version"] == 1 and result["status"] in ("ok", "failed", "skipped")
