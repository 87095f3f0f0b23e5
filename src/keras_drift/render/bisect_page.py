"""Render a bisect (``bisect/bisect.json``) as lines for the terminal and as a self-contained HTML page.

Like the report, the page shows only what the bisect computed, loads nothing from the network, and
escapes every string that came from an environment or the index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from keras_drift.render.report import format_value
from keras_drift.store.results import write_text_atomically

PAGE = "bisect.html"


def summary_lines(document: dict[str, Any]) -> list[str]:
    """What the bisect found: one line per family's first bad release with the causes found there (or one
    line saying nothing drifts), then what it cost."""
    package, good, bad = document["package"], document["good"]["version"], document["bad"]["version"]
    versions = document["versions"]
    probed = [entry for entry in versions if entry["verdict"] != "untried"]
    untestable = [entry["version"] for entry in versions if entry["verdict"] == "untestable"]
    cost = (f"{len(versions) - 2} release(s) between {good} and {bad}; probed {len(probed) - 2} of them in {document['steps']} step(s)"
            + (f", untestable: {', '.join(untestable)}" if untestable else "") + f"; {document['wall_s']:.0f} s")
    if not document["families"]:
        glob = "" if document["metric_glob"] == "*" else f" matching {document['metric_glob']!r}"
        return [f"{package} {good} -> {bad}: nothing{glob} drifts between {document['good']['env']} and {document['bad']['env']}; "
                "probed only the two ends", cost]
    lines = []
    for boundary in document["boundaries"]:
        where = f"first bad release {package} {boundary['first_bad']}"
        if not boundary["exact"]:
            where += f" or one of the untestable {', '.join(boundary['untestable_between'])}"
        causes = ", ".join(dict.fromkeys(f"{finding['cause']} ({finding['proof']})" for finding in boundary["findings"]))
        lines.append(f"{boundary['family']}: {where} (last good {boundary['last_good']}), {len(boundary['metrics'])} metric(s)"
                     + (f": {causes}" if causes else ""))
    return [*lines, cost]


def evidence_lines(boundary: dict[str, Any]) -> list[str]:
    """The evidence behind one boundary's causes, one line per finding, with how many metrics it covers."""
    return [f"{finding['cause']} ({finding['proof']}, {len(finding['metrics'])} metric(s)): {finding['evidence']}"
            for finding in boundary["findings"]]


def terminal_lines(document: dict[str, Any]) -> list[str]:
    """:func:`summary_lines`, each boundary's line followed by its evidence, indented."""
    headlines = summary_lines(document)
    lines = []
    for line, boundary in zip(headlines, document["boundaries"], strict=False):
        lines += [line, *(f"  {evidence}" for evidence in evidence_lines(boundary))]
    return lines + headlines[len(document["boundaries"]):]


def timeline(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per family, one cell per release: ``good``, ``bad``, ``untestable`` or ``untried``, the first bad marked."""
    first_bad = {boundary["family"]: boundary["first_bad"] for boundary in document["boundaries"]}
    rows = []
    for family in document["families"]:
        cells = []
        for entry in document["versions"]:
            mark = entry["verdict"]
            if mark in ("good", "bad"):
                mark = "bad" if family in entry["differing_families"] else "good"
            title = entry["reason"] or (f"differs in {', '.join(entry['differing_families'])}" if entry["differing_families"] else mark)
            cells.append({"mark": mark, "first_bad": first_bad.get(family) == entry["version"], "title": title})
        rows.append({"family": family, "cells": cells})
    return rows


def render(document: dict[str, Any], out: Path) -> Path:
    """Write the bisect's page to ``out`` (``bisect/bisect.html`` in the run folder) and return its path."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("keras_drift", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    html = environment.get_template("bisect.html.j2").render(
        bisect=document, summary=summary_lines(document), timeline=timeline(document), pre=document["pre"], format_value=format_value)
    write_text_atomically(out, html)
    return out
