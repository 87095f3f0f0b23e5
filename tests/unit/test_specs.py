from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

from keras_drift.envs.specs import SpecError, choose_baseline, load_spec, load_specs, marked_baselines, select
from keras_drift.errors import InputError

VALID = """
    requirements = ["keras==3.15.1", "jax[cpu]==0.10.2"]
    python = "3.11"
    backend = "jax"
    env = { XLA_FLAGS = "--xla_cpu_enable_fast_math=false" }
    tags = ["default", "keras3"]
    description = "Keras 3 on JAX"
"""


def test_valid_spec_loads_every_field(write_env):
    spec = load_spec(write_env("keras-jax", VALID))
    assert spec.name == "keras-jax"
    assert spec.requirements == ("keras==3.15.1", "jax[cpu]==0.10.2")
    assert spec.backend == "jax" and spec.python == "3.11"
    assert spec.tags == ("default", "keras3")
    assert spec.process_env(Path("/c")) == {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
    assert not spec.floating and not spec.baseline


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("requirements = [", "bad.toml: malformed TOML"),
        (VALID + 'colour = "red"\n', "bad.toml: colour: unknown key; allowed keys are requirements, python, backend"),
        (VALID.replace('python = "3.11"', "python = 3.11"), "bad.toml: python: must be a string, got float"),
        (VALID.replace('"keras==3.15.1"', '"keras ==> 3"'), "bad.toml: requirements[0]: 'keras ==> 3' is not a valid PEP 508"),
        (VALID.replace('"keras==3.15.1"', '"keras>=3"'), "bad.toml: requirements[0]: 'keras>=3' is not an exact pin"),
        (VALID.replace('"keras==3.15.1"', "3"), "bad.toml: requirements[0]: must be a string, got int"),
        (VALID.replace('backend = "jax"', 'backend = "mxnet"'), "bad.toml: backend: 'mxnet' is not one of tensorflow, jax, torch, theano"),
        (VALID.replace('python = "3.11"', 'python = "three"'), "bad.toml: python: 'three' is not a version"),
        (VALID.replace('backend = "jax"', ""), "bad.toml: backend: is required"),
        (VALID.replace('XLA_FLAGS = "--xla_cpu_enable_fast_math=false"', "OMP_NUM_THREADS = 1"), "bad.toml: env.OMP_NUM_THREADS: must be a string, got int"),
        (VALID.replace('["keras==3.15.1", "jax[cpu]==0.10.2"]', "[]"), "bad.toml: requirements: must list at least one"),
    ],
)
def test_bad_spec_is_one_line_naming_file_and_key(write_env, text, message):
    path = write_env("bad", text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(str(path.parent / message.split(": ", 1)[0]))
    assert message.split(": ", 1)[1] in text


def test_floating_tags_allow_unpinned_requirements(write_env):
    spec = load_spec(write_env("nightly", VALID.replace('"keras==3.15.1"', '"keras"').replace('"default"', '"nightly"')))
    assert spec.floating


def test_names_clashing_after_normalisation_are_rejected(write_env):
    write_env("Keras_JAX", VALID)
    write_env("keras-jax", VALID)
    with pytest.raises(SpecError, match="name clashes with"):
        load_specs(Path(write_env("other", VALID)).parent)


def test_install_key_follows_requirements_and_python(write_env):
    first = load_spec(write_env("a", VALID)).install_key()
    assert load_spec(write_env("a", VALID)).install_key() == first
    assert load_spec(write_env("a", VALID.replace("0.10.2", "0.10.1"))).install_key() != first
    assert load_spec(write_env("a", VALID.replace('"3.11"', '"3.12"'))).install_key() != first


def test_selection_by_name_tag_and_default(write_env):
    write_env("one", VALID)
    write_env("two", VALID.replace('"default", ', ""))
    specs = load_specs(write_env("three", VALID.replace('"default", ', '"legacy", ')).parent)
    assert [s.name for s in select(specs)] == ["one"]
    assert [s.name for s in select(specs, tags=["keras3"])] == ["one", "three", "two"]
    assert [s.name for s in select(specs, names=["two", "ONE"])] == ["two", "one"]
    with pytest.raises(InputError, match="--envs: unknown environment 'four'; known: one, three, two"):
        select(specs, names=["four"])
    with pytest.raises(InputError, match="--tags: no environment is tagged nope"):
        select(specs, tags=["nope"])


def test_baseline_is_requested_then_preferred_then_first(write_env):
    write_env("one", VALID)
    specs = load_specs(write_env("two", VALID + "baseline = true\n").parent)
    names = [spec.name for spec in specs]
    assert marked_baselines(specs) == ["two"]
    assert choose_baseline(names, None, marked_baselines(specs)) == "two"
    assert choose_baseline(names, "ONE", marked_baselines(specs)) == "one"  # asked for, matched after normalisation
    assert choose_baseline(names, None, ["gone", "one", "two"]) == "one"  # the first preferred that is present
    assert choose_baseline(names) == "one"
    with pytest.raises(InputError, match=r"--baseline: 'zzz' is not among the selected environments \(one, two\)"):
        choose_baseline(names, "zzz", marked_baselines(specs))


def test_shipped_environments_cover_the_default_matrix():
    specs = load_specs(PROJECT_ROOT / "envs")
    default = {spec.name: spec for spec in select(specs)}
    assert {"tf-2.12", "tf-2.15", "keras-3.15-tf-2.21", "tf-keras-2.21", "keras-3.15-jax", "keras-3.15-torch"} <= set(default)
    assert default["tf-keras-2.21"].env_vars == {"TF_USE_LEGACY_KERAS": "1"}
    assert {default[name].backend for name in default} == {"tensorflow", "jax", "torch"}
    assert choose_baseline(list(default), None, marked_baselines(default.values())) == "tf-2.15"


def test_a_hook_is_the_projects_own_beside_the_envs_folder_else_keras_drifts(write_env, tmp_path):
    shipped = sorted(path.stem.replace("_", "-") for path in (PROJECT_ROOT / "probe" / "hooks").glob("*.py") if path.stem != "__init__")
    with pytest.raises(SpecError, match=rf"bad.toml: hooks\[0\]: 'no-such-hook' is not a hook; available: {', '.join(shipped)}$"):
        load_spec(write_env("bad", VALID + 'hooks = ["no-such-hook"]\n'))
    # a hook keras-drift ships is found with no hooks folder in the project
    file = shipped[0].replace("-", "_") + ".py"
    assert load_spec(write_env("shipped", VALID + f'hooks = ["{shipped[0]}"]\n')).hook_files == [PROJECT_ROOT / "probe" / "hooks" / file]
    hooks = tmp_path / "probe" / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "my_shim.py").write_text("X = 1\n")
    spec = load_spec(write_env("ok", VALID + 'hooks = ["my-shim"]\n'))
    assert spec.hook_files == [hooks / "my_shim.py"]
    key = spec.install_key()
    (hooks / "my_shim.py").write_text("X = 2\n")
    assert load_spec(spec.path).install_key() != key  # a changed hook rebuilds the environment


def test_cache_placeholder_expands_in_env_values(write_env):
    spec = load_spec(write_env("theano", VALID.replace('XLA_FLAGS = "--xla_cpu_enable_fast_math=false"',
                                                       'THEANO_FLAGS = "blas.ldflags=,base_compiledir={cache}/theano"')))
    assert spec.process_env(Path("/var/cache/kd"))["THEANO_FLAGS"] == "blas.ldflags=,base_compiledir=/var/cache/kd/theano"


def test_shipped_theano_lanes_take_turns_on_each_compile_folder_and_two_run_at_once():
    folders: dict[str, set[str]] = {}
    for spec in load_specs(PROJECT_ROOT / "envs"):
        flags = spec.process_env(Path("/cache")).get("THEANO_FLAGS", "")
        if spec.backend == "theano":
            [folder] = [part.split("=", 1)[1] for part in flags.split(",") if part.startswith("base_compiledir=")]
            folders.setdefault(folder, set()).add(spec.exclusive)
    # one turn-taking resource per folder (two names on one folder would let two processes corrupt it)
    assert all(len(names) == 1 and "" not in names for names in folders.values()), folders
    assert len({name for names in folders.values() for name in names}) == len(folders) == 2


def test_shipped_legacy_selection_spans_eleven_years():
    legacy = {spec.name for spec in select(load_specs(PROJECT_ROOT / "envs"), tags=["legacy"])}
    assert {"keras-0.3.3-theano", "keras-1.2.0-theano", "keras-2.3.1-theano", "keras-1.2.0-tf-0.12",
            "keras-2.2.5-tf-1.15", "tf-2.15", "keras-3.15-tf-2.21"} <= legacy


LEGACY = """
    requirements = ["keras==2.2.5", "theano==1.0.5", "numpy==1.23.5"]
    python = "3.11"
    backend = "theano"
"""


@pytest.mark.parametrize(
    ("text", "named", "added"),
    [
        # written from the README with only the collections hook: the scan hook is added, with why
        (LEGACY + 'hooks = ["collections-abc-aliases"]\n', ("collections-abc-aliases",), ("theano-python-scan",)),
        (LEGACY, (), ("collections-abc-aliases", "theano-python-scan")),
        (LEGACY.replace('"3.11"', '"3.9"'), (), ()),  # Python 3.9 still has both: nothing to add
        (LEGACY.replace("keras==2.2.5", "keras==0.3.3"), (), ("theano-python-scan",)),  # Keras 0.3 imports no alias
        (VALID, (), ()),
    ],
)
def test_the_hooks_an_interpreter_and_its_packages_need_are_added_and_said(write_env, tmp_path, text, named, added):
    local = tmp_path / "probe" / "hooks"  # the project's own hooks: only the one the file names
    local.mkdir(parents=True)
    (local / "collections_abc_aliases.py").write_text((PROJECT_ROOT / "probe" / "hooks" / "collections_abc_aliases.py").read_text())
    spec = load_spec(write_env("era", text))
    assert spec.hooks == named + added and tuple(spec.hooks_added) == added
    assert all(spec.hooks_added[hook] for hook in added)
    # an added hook is keras-drift's own where the project has no probe/hooks of its own
    assert [path.name for path in spec.hook_files] == [f"{hook.replace('-', '_')}.py" for hook in named + added]
    assert all(path.is_file() for path in spec.hook_files)
    assert all(path.parent == local for path in spec.hook_files[:len(named)])


@pytest.mark.parametrize(("keras", "added"), [("3.1.1", ("packaging",)), ("3.0.5", ("packaging",)), ("3.4.1", ()), ("3.15.1", ())])
def test_a_dependency_keras_imports_without_declaring_it_is_installed_too(write_env, keras, added):
    spec = load_spec(write_env("k", VALID.replace("keras==3.15.1", f"keras=={keras}")))
    assert tuple(spec.requirements_added) == added and spec.installed_requirements == spec.requirements + added
    named = load_spec(write_env("named", VALID.replace('"keras==3.15.1"', f'"keras=={keras}", "packaging==24.0"')))
    assert named.requirements_added == {}  # the file pins it already


def test_an_unlocked_environment_resolves_as_of_its_era_unless_its_file_says_latest(write_env):
    era = load_spec(write_env("old", VALID))
    latest = load_spec(write_env("today", VALID + 'resolve = "latest"\n'))
    assert era.resolves_as_of_its_era and not latest.resolves_as_of_its_era
    assert era.install_key() != latest.install_key()  # an environment resolved the other way is rebuilt
    assert era.exact_pins() == {"keras": "3.15.1", "jax": "0.10.2"}
    with pytest.raises(SpecError, match=r"bad.toml: resolve: 'someday' is not one of era, latest"):
        load_spec(write_env("bad", VALID + 'resolve = "someday"\n'))


def test_a_file_name_ending_in_a_newline_is_no_environment(tmp_path):
    folder = tmp_path / "envs"
    folder.mkdir()
    path = folder / "a\n.toml"
    path.write_text(VALID)
    with pytest.raises(SpecError, match="file name must start with a letter or digit"):
        load_spec(path)
