"""A package's published releases, read from the package indexes keras-drift passes to uv.

``bisect`` needs the releases between two pins, in order, without the yanked ones. They are read from the
same sources uv installs from (:func:`index_sources`): the primary index (PyPI unless configured), the
extra indexes and the find-links folders of the user's pip or uv configuration. An index is read through
the simple repository API: its JSON form (PEP 691) where the server offers it, else the HTML page
(PEP 503, which is what a ``file://`` mirror holds), yanked files marked as PEP 592 says.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from keras_drift.errors import InputError

PYPI_SIMPLE = "https://pypi.org/simple"
TIMEOUT_S = 30.0
_JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# Project URL labels that name a changelog or release notes (PyPI's own labels and common spellings).
_NOTES_LABEL = re.compile(r"change\s*-?log|changes|release\s*notes|releases|news|history|what'?s\s*new", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    """Where releases are listed: an index (its simple API) or a find-links folder, and the flag, variable
    or configuration entry that named it (for the one-line error when it cannot be read)."""

    url: str
    named_by: str
    find_links: bool = False


@dataclass(frozen=True)
class Release:
    """One version of a package on the sources, yanked when every file of it is."""

    version: Version
    yanked: bool


def index_sources(index_url: str | None, environment: Mapping[str, str]) -> list[Source]:
    """The sources uv installs from: ``index_url`` (``--index-url``), else ``UV_INDEX_URL`` or
    ``UV_DEFAULT_INDEX``, else PyPI; then ``UV_EXTRA_INDEX_URL``/``UV_INDEX`` and ``UV_FIND_LINKS``
    (space- or comma-separated). ``environment`` is what the installers see
    (:func:`keras_drift.envs.environments.installer_variables`)."""
    if index_url:
        primary = Source(index_url, "--index-url")
    else:
        named = next((name for name in ("UV_INDEX_URL", "UV_DEFAULT_INDEX") if environment.get(name)), None)
        primary = Source(environment[named], named) if named else Source(PYPI_SIMPLE, "the default index (PyPI)")
    sources = [primary]
    for variable in ("UV_EXTRA_INDEX_URL", "UV_INDEX"):
        sources += [Source(url, variable) for url in _urls(environment.get(variable, ""))]
    sources += [Source(url, "UV_FIND_LINKS", find_links=True) for url in _urls(environment.get("UV_FIND_LINKS", ""))]
    return sources


def list_releases(package: str, sources: Sequence[Source]) -> list[Release]:
    """Every version of ``package`` the sources list, oldest first. A source that cannot be reached is
    unusable input (one line naming what configured it); a source without the package lists nothing."""
    files: dict[Version, list[bool]] = {}
    for source in sources:
        for version, yanked in _files(package, source):
            files.setdefault(version, []).append(yanked)
    return [Release(version, all(flags)) for version, flags in sorted(files.items())]


def between(releases: Iterable[Release], good: Version, bad: Version, pre: bool = False) -> list[Version]:
    """The releases strictly between ``good`` and ``bad``, ordered from ``good`` towards ``bad`` (a
    downgrade is bisected too): final releases only unless ``pre``, never a yanked one or a local build."""
    low, high = sorted((good, bad))
    chosen = [
        release.version for release in releases
        if low < release.version < high and not release.yanked and not release.version.local
        and (pre or not (release.version.is_prerelease or release.version.is_devrelease))
    ]
    return sorted(chosen, reverse=good > bad)


@functools.lru_cache(maxsize=256)  # several families can turn at one release: one lookup each
def notes_url(package: str, version: str, primary: Source) -> str | None:
    """Where the release notes of ``package`` ``version`` are, from the index's project metadata: a
    changelog or release-notes URL the project declares, else its GitHub releases page, else the
    release's page on PyPI. ``None`` where the index has no metadata API (only PyPI's is read)."""
    if urllib.parse.urlsplit(primary.url).hostname != "pypi.org":
        return None
    project = canonicalize_name(package)
    page = f"https://pypi.org/project/{project}/{version}/"
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{project}/{version}/json", timeout=TIMEOUT_S) as response:
            urls = json.load(response).get("info", {}).get("project_urls") or {}
    except (OSError, ValueError, AttributeError):
        return page
    if not isinstance(urls, dict):
        return page
    declared = [str(url) for label, url in urls.items() if _NOTES_LABEL.search(str(label)) and str(url).startswith("https://")]
    github = [str(url).rstrip("/") for url in urls.values() if re.fullmatch(r"https://github\.com/[^/]+/[^/]+/?", str(url))]
    return declared[0] if declared else (f"{github[0]}/releases" if github else page)


def upload_time(package: str, version: str, source: Source) -> datetime.datetime | None:
    """When the last file of ``package`` ``version`` was uploaded to ``source`` (its wheels for some
    interpreters may come later than the first file: the resolver must still see them), or ``None``
    where the index does not say (no JSON form, no ``upload-time``, or no such release)."""
    project = canonicalize_name(package)
    try:
        wanted = Version(version)
        body, content_type = _read(source.url.rstrip("/") + f"/{project}/")
    except (InvalidVersion, FileNotFoundError):
        return None
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # not on the primary index (an extra index or a find-links folder holds it)
            return None
        raise InputError(f"{source.named_by}: {source.url}: the index answered HTTP {exc.code} for {project}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{source.named_by}: {source.url}: unreachable while reading {project}'s upload dates ({exc})") from None
    if not content_type.startswith(_JSON_TYPE):
        return None
    try:
        files = json.loads(body)["files"]
        times = [str(entry["upload-time"]) for entry in files if isinstance(entry, dict) and entry.get("upload-time")
                 and _version_of(str(entry.get("filename", "")), project) == wanted]
        parsed = [datetime.datetime.fromisoformat(text.replace("Z", "+00:00")) for text in times]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{source.named_by}: {source.url}: not a simple index answer for {project} ({exc})") from None
    return max(parsed) if parsed else None


def _urls(value: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", value) if part]


def _files(package: str, source: Source) -> list[tuple[Version, bool]]:
    """(version, yanked) for each file of ``package`` that ``source`` lists."""
    project = canonicalize_name(package)
    if source.find_links:
        return _folder_files(project, source)
    url = source.url.rstrip("/") + f"/{project}/"
    try:
        body, content_type = _read(url)
    except FileNotFoundError:
        return []
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise InputError(f"{source.named_by}: {source.url}: the index answered HTTP {exc.code} for {project}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{source.named_by}: {source.url}: unreachable ({_reason(exc)})") from None
    if content_type.startswith(_JSON_TYPE):
        try:
            entries = _json_entries(body)
        except (ValueError, RecursionError) as exc:
            reason = " ".join(str(exc).split()) if not isinstance(exc, RecursionError) else "nested too deep"
            raise InputError(f"{source.named_by}: {source.url}: not a simple index answer for {project} ({reason[:200]})") from None
    else:
        links = _Links()
        links.feed(body.decode("utf-8", errors="replace"))
        entries = links.files
    return [(version, yanked is not False and yanked is not None) for name, yanked in entries
            if (version := _version_of(name, project)) is not None]


def _json_entries(body: bytes) -> list[tuple[str, Any]]:
    """(file name, yanked) of each file of a PEP 691 answer; ValueError where it is not shaped as one (an
    object whose ``files`` is a list of objects, each with a string ``filename``)."""
    document = json.loads(body)
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, list) or not all(isinstance(entry, dict) and isinstance(entry.get("filename"), str) for entry in files):
        raise ValueError("files: not a list of objects, each with a filename")
    return [(entry["filename"], entry.get("yanked", False)) for entry in files]


def _folder_files(project: str, source: Source) -> list[tuple[Version, bool]]:
    """A find-links folder (a path or ``file://`` URL); an HTML page of links elsewhere is not read."""
    parts = urllib.parse.urlsplit(source.url)
    if parts.scheme not in ("", "file"):
        return []
    folder = Path(urllib.request.url2pathname(parts.path))
    try:
        names = [path.name for path in folder.iterdir()]
    except OSError as exc:
        raise InputError(f"{source.named_by}: {source.url}: cannot be read ({exc.strerror or exc})") from None
    return [(version, False) for name in names if (version := _version_of(name, project)) is not None]


def _read(url: str) -> tuple[bytes, str]:
    """The body and content type at ``url`` (``file://`` too), asking for the JSON form first."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        folder = Path(urllib.request.url2pathname(parts.path))
        return (folder / "index.html").read_bytes(), "text/html"
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{parts.scheme or 'no'} scheme; an index is an http(s) or file URL")
    request = urllib.request.Request(url, headers={"Accept": f"{_JSON_TYPE}, text/html;q=0.1"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return response.read(), response.headers.get("Content-Type", "")


def _version_of(filename: str, project: str) -> Version | None:
    """The version a distribution file's name carries, when the file is ``project``'s."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return version if name == project else None


class _Links(HTMLParser):
    """The file links of a PEP 503 page: (file name, yanked) with PEP 592's ``data-yanked``."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        attributes = dict(attrs)
        href = attributes.get("href") or ""
        name = urllib.parse.unquote(urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1])
        self.files.append((name, "data-yanked" in attributes))


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
    return " ".join(str(reason).split())[:200]

