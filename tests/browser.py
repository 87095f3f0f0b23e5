"""Open a report in real headless Chromium (Debian's, never a downloaded one) and check what a reader sees."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

SCREENSHOTS = PROJECT_ROOT / "reports" / "test-screenshots"
SHOT_HEIGHT = 12_000  # px of a report's top that its screenshot keeps
# Flags for a closed network: without them Chromium keeps trying to reach its update and sync services.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium, or skip the test saying how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it in CI")
    return found


@dataclass
class PageCheck:
    """What the page did while loading: console messages, page errors, requests, and what it shows."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    verdict: str = ""
    text: str = ""
    svg_sizes: list[tuple[float, float]] = field(default_factory=list)
    overflows_narrow: bool = False


def open_report(report: Path, screenshot_name: str) -> PageCheck:
    """Load ``report`` from file:// in headless Chromium, collect a :class:`PageCheck`, save screenshots."""
    sync_api = pytest.importorskip("playwright.sync_api")
    check = PageCheck()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: message.type == "error" and check.console_errors.append(message.text))
        page.on("pageerror", lambda error: check.console_errors.append(str(error)))
        page.on("request", lambda request: check.requests.append(request.url))
        page.goto(report.resolve().as_uri())
        page.wait_for_load_state("load")
        check.verdict = page.inner_text("p.verdict")
        check.text = page.inner_text("body")
        check.svg_sizes = [(box["width"], box["height"]) for box in (svg.bounding_box() for svg in page.query_selector_all("svg")) if box]
        # the top of the page, at most SHOT_HEIGHT: past Chromium's largest texture a full-page shot of a long
        # report takes tens of seconds (a 35,000 px one, 40 s)
        height = min(page.evaluate("document.documentElement.scrollHeight"), SHOT_HEIGHT)
        page.screenshot(path=str(SCREENSHOTS / f"{screenshot_name}.png"), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": height})
        page.set_viewport_size({"width": 420, "height": 900})
        check.overflows_narrow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        page.screenshot(path=str(SCREENSHOTS / f"{screenshot_name}-narrow.png"))
        browser.close()
    return check


def first_screen(report: Path, screenshot_name: str, selectors: tuple[str, ...]) -> dict[str, float | None]:
    """Open ``report`` at 1280 x 800 without scrolling; for each CSS selector, where the bottom of its first
    element is (``None``: no such element). A screenshot of exactly that screen is kept."""
    sync_api = pytest.importorskip("playwright.sync_api")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(report.resolve().as_uri())
        page.wait_for_load_state("load")
        bottoms = {}
        for selector in selectors:
            found = page.query_selector(selector)
            box = found.bounding_box() if found else None
            bottoms[selector] = box["y"] + box["height"] if box else None
        page.screenshot(path=str(SCREENSHOTS / f"{screenshot_name}.png"))
        browser.close()
    return bottoms


# A4 at 96 px per inch less Chromium's default 1 cm margins: the width a printed page lays out in.
A4_PRINT_WIDTH_PX = 718


@dataclass
class PrintCheck:
    """What printing the report gives: the text of each PDF page, and the elements wider than the page."""

    page_texts: list[str] = field(default_factory=list)
    clipped: list[str] = field(default_factory=list)


def print_report(report: Path) -> PrintCheck:
    """Print ``report`` to PDF with headless Chromium (A4), read the pages back, and list what would be
    cut at the page's right edge in the print layout (tables, figures, preformatted text)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    pypdf = pytest.importorskip("pypdf")
    import io

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": A4_PRINT_WIDTH_PX, "height": 1000})
        page.goto(report.resolve().as_uri())
        page.wait_for_load_state("load")
        page.emulate_media(media="print")
        clipped = page.evaluate("""() => [...document.querySelectorAll('table, figure, pre, svg, ul, p')]
            .filter(element => element.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .map(element => element.tagName + ': ' + element.innerText.slice(0, 60))""")
        pdf = page.pdf(format="A4", print_background=True)
        browser.close()
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return PrintCheck(page_texts=[pdf_page.extract_text() for pdf_page in pages], clipped=clipped)
