"""MkDocs hooks (mkdocs.yml ``hooks:``): the pages generated at every build, in memory, never in the tree.

- ``reference/cli.md``: the command line, from the real argument parser (``docs/gen_cli.py``);
- ``reference/schemas/<name>.md`` and the schema files themselves, from ``src/keras_drift/schemas/``;
- ``reference/tolerances.md``: the packaged tolerance table, from ``src/keras_drift/tolerances.toml``;
- ``changelog.md``: ``CHANGELOG.md`` from the project root, its ``docs/`` links made relative.

Nothing here reaches the network: the site builds offline.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SCHEMAS = ROOT / "src" / "keras_drift" / "schemas"
TOLERANCES = ROOT / "src" / "keras_drift" / "tolerances.toml"

SCHEMA_TITLES = {
    "result": "One environment's result (`results/<env>.json`), validated on every load",
    "verdicts": "A run's verdicts (`verdicts.json`), validated when written",
    "bisect": "A bisection (`bisect/bisect.json`)",
}


def _gen_cli() -> Any:
    if str(ROOT / "src") not in sys.path and importlib.util.find_spec("keras_drift") is None:
        sys.path.insert(0, str(ROOT / "src"))
    spec = importlib.util.spec_from_file_location("keras_drift_docs_gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def schema_page(path: Path) -> str:
    name = path.name.removesuffix(".schema.json")
    title = SCHEMA_TITLES.get(name, f"`{path.name}`")
    return (
        f"# Schema: {name}\n\n"
        f"{title}. Copied at build time from `src/keras_drift/schemas/{path.name}`; the raw file is "
        f"[{path.name}]({path.name}).\n\n"
        "```json\n" + path.read_text(encoding="utf-8").rstrip() + "\n```\n"
    )


def tolerances_page() -> str:
    return (
        "# Packaged tolerances\n\n"
        "The table every comparing command uses unless `--tolerances FILE` replaces it (keys: "
        "[configuration](configuration.md#tolerances)). Copied at build time from "
        "`src/keras_drift/tolerances.toml`.\n\n"
        "```toml\n" + TOLERANCES.read_text(encoding="utf-8").rstrip() + "\n```\n"
    )


def changelog_page() -> str:
    """CHANGELOG.md, its links into docs/ made relative to the site (they are written for the repository)."""
    return (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").replace("](docs/", "](")


def generated_pages() -> dict[str, str]:
    """Every generated page and file: its path in the site's sources, and its content."""
    pages = {
        "reference/cli.md": _gen_cli().render(),
        "reference/tolerances.md": tolerances_page(),
        "changelog.md": changelog_page(),
    }
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        pages[f"reference/schemas/{path.name.removesuffix('.schema.json')}.md"] = schema_page(path)
        pages[f"reference/schemas/{path.name}"] = path.read_text(encoding="utf-8")
    return pages


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File  # here, so that tests read generated_pages() without MkDocs

    for src_uri, content in generated_pages().items():
        files.append(File.generated(config, src_uri, content=content))
    return files
