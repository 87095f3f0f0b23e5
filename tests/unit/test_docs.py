"""The README stays a five-minute read that keeps its commands, and the docs site keeps everything else.

- README.md is at most 10 KB, holds the two set-up commands CI and newcomers copy, and the exit-code table;
- every section of the old 94 KB README (its ``## `` headings at the commit that moved them) has a page in
  docs/ that mkdocs.yml's navigation lists;
- the CLI reference page, generated from the parser at every build, lists every subcommand of the real
  parser, and the configuration page every key an env file accepts;
- with MkDocs installed (``nox -s docs``, or ``pip install -e .[docs]``), the site builds with warnings as
  errors.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from keras_drift import cli
from keras_drift.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
MKDOCS_YML = ROOT / "mkdocs.yml"

README_LIMIT_BYTES = 10 * 1024
SET_UP_COMMANDS = (
    "python3 -m pip install nox uv && nox -s drift",
    "python3 -m pip install nox uv && nox -s lint tests",
)

# The `## ` headings of README.md before the docs site (git show HEAD:README.md at b1d76ad), and the page
# each section moved to. A section may have moved in parts; this is the page that holds its heading's topic.
OLD_README_SECTIONS = {
    "Set-up (a fresh machine with Python 3.10+ and pip; nothing else by hand)": "tutorial.md",
    "Environments are files": "how-to/add-environment.md",
    "Fidelity: the probe calls what users call, resolves what they had, and runs to the end": "explanation/fidelity.md",
    "What the probe measures": "reference/probe.md",
    "Output contract": "reference/output.md",
    "Comparison rule": "explanation/comparison.md",
    "Why results diverge": "explanation/causes.md",
    "Where models part: the introducing layer and the parting step": "explanation/localisation.md",
    "Saved models across versions: will yesterday's files load after the bump?": "how-to/saved-models.md",
    "Bisect: which release did it": "how-to/bisect.md",
    "Troubleshooting": "reference/troubleshooting.md",
    "Speed": "explanation/speed.md",
    "Result cache": "explanation/result-cache.md",
    "Benchmark and measured figures": "benchmarks.md",
    "Layout": "explanation/layout.md",
}
# Parts of the old Set-up section that have pages of their own.
SET_UP_PARTS = {
    "exit codes and decided edge cases": "reference/exit-codes.md",
    "tests and lint": "how-to/develop.md",
    "other sessions": "reference/sessions.md",
    "accepted drifts": "how-to/review-a-bump.md",
    "history and the nightly job": "how-to/ci-nightly.md",
}
# The keys of the other TOML files (configuration page), as their readers accept them.
TOML_KEYS = {
    "accepted.toml": ("env", "metric", "cause", "reason", "baseline", "expires"),
    "saved-models.toml": ("name", "path", "input", "reference"),
    "Tolerances": ("pattern", "atol", "rtol"),
}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"keras_drift_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_pages() -> set[str]:
    """Every page mkdocs.yml's navigation names (read as text: no YAML parser needed)."""
    return set(re.findall(r":\s+([\w/.-]+\.md)\s*$", MKDOCS_YML.read_text(encoding="utf-8"), flags=re.M))


def _generated() -> dict[str, str]:
    return _load("hooks").generated_pages()


def _real_subcommands(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The subcommands the console script accepts, from its own refusal of one it does not."""
    assert cli.main(["no-such-command"]) == ExitCode.BAD_INPUT
    message = capsys.readouterr().err
    found = re.search(r"choose from (.*?)\)", message)
    assert found, message
    return re.findall(r"[a-z][a-z-]*", found.group(1))


def test_readme_is_short_and_keeps_the_set_up_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= README_LIMIT_BYTES, f"README.md is {len(text.encode())} bytes; move detail into docs/"
    set_up = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    for command in SET_UP_COMMANDS:
        assert any(line.startswith(command) for line in set_up.splitlines()), command
    assert "docs/report.png" in text


def test_readme_keeps_the_exit_code_table():
    rows = re.findall(r"^\| (\d+) \|", README.read_text(encoding="utf-8"), flags=re.M)
    assert sorted(int(row) for row in rows) == sorted(int(code) for code in ExitCode)


def test_readme_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8")):
        if "://" not in target:
            assert (ROOT / target).exists(), target


@pytest.mark.parametrize("heading", sorted(OLD_README_SECTIONS))
def test_every_old_readme_section_has_a_page(heading):
    page = OLD_README_SECTIONS[heading]
    assert (DOCS / page).is_file(), page
    assert page in _nav_pages(), f"{page} is not in mkdocs.yml's nav"


@pytest.mark.parametrize("part", sorted(SET_UP_PARTS))
def test_set_up_parts_have_pages(part):
    page = SET_UP_PARTS[part]
    assert (DOCS / page).is_file() and page in _nav_pages(), page


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    written = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    generated = {name for name in _generated() if name.endswith(".md")}
    nav = _nav_pages()
    assert nav - written - generated == set(), "nav entries without a page"
    assert (written | generated) - nav == set(), "pages not in the nav"
    for picture in ("report.png", "localise.png", "saved-models.png"):
        assert (DOCS / picture).is_file()
        assert any(picture in (DOCS / page).read_text(encoding="utf-8") for page in written), picture


def test_cli_page_lists_every_subcommand_of_the_real_parser(capsys):
    real = _real_subcommands(capsys)
    assert {"drift", "gate", "report", "bisect"} <= set(real)
    gen_cli = _load("gen_cli")
    assert list(gen_cli.subcommands(gen_cli.find_parser())) == real
    page = _generated()["reference/cli.md"]
    for name in real:
        assert f"\n## keras-drift {name}\n" in page, name
        assert f"usage: keras-drift {name}" in page, name


def test_cli_page_lists_every_option(capsys):
    gen_cli = _load("gen_cli")
    page = gen_cli.render()
    for name, sub in gen_cli.subcommands(gen_cli.find_parser()).items():
        section = page.split(f"\n## keras-drift {name}\n", 1)[1].split("\n## ", 1)[0]
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in section, f"{name} {option}"


def test_configuration_page_lists_every_env_file_key(tmp_path, capsys):
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "x.toml").write_text('no_such_key = 1\n', encoding="utf-8")
    assert cli.main(["list", "--envs-dir", str(envs)]) == ExitCode.BAD_INPUT
    message = capsys.readouterr().err
    allowed = re.search(r"allowed keys are (.*)$", message.strip())
    assert allowed, message
    keys = [key.strip() for key in allowed.group(1).split(",")]
    assert "requirements" in keys
    page = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    section = page.split("## Environment files", 1)[1].split("\n## ", 1)[0]
    for key in keys:
        assert f"| `{key}` |" in section, key


@pytest.mark.parametrize("heading", sorted(TOML_KEYS))
def test_configuration_page_lists_every_key_of_the_other_files(heading):
    page = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    section = page.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    for key in TOML_KEYS[heading]:
        assert f"| `{key}` |" in section, key


def test_schema_pages_are_generated_for_every_shipped_schema():
    shipped = sorted(path.name for path in (ROOT / "src" / "keras_drift" / "schemas").glob("*.schema.json"))
    generated = _generated()
    assert shipped
    for name in shipped:
        assert f"reference/schemas/{name}" in generated
        assert f"reference/schemas/{name.removesuffix('.schema.json')}.md" in generated


def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()
