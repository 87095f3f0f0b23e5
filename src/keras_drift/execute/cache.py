"""The result cache: a locked environment whose inputs have not changed gives the same result as last time.

A result is keyed by everything it depends on (:func:`cache_key`): the environment's name and install key
(interpreter, requirements, lock, start-up hooks), its backend, variables and determinism, the probe's
source, the task selection and the user's probe modules, the task time limit, and the machine (platform,
CPU flags, core count). ``drift`` and ``run`` copy a cached result into the new run, marked
``cached_from`` the run that probed it, instead of probing again. Only environments installed from a lock
are reused; those tagged ``latest`` or ``nightly`` resolve fresh each run and never are.

The experiments that proved causes are kept the same way, per pair of result keys (``proofs-<key>.json``),
so an unchanged pair is not re-run either; and what a load phase found of the saved models, per loading
result and source result (or user files), ``loads-<key>.json``: an unchanged matrix loads nothing, and a
new environment loads only the files it trades with the baseline.

A result that saved models (``artifacts``) keeps its files beside it, ``<key>.artifacts/``, copied back
into the run on a hit; an entry whose files are gone is a miss.

One JSON file per key, written through a rename: two runs storing at once leave one whole entry, and a
reader never sees half of one. A hit refreshes the entry's time, so pruning keeps what recent runs used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keras_drift.envs import shipped
from keras_drift.envs.specs import EnvSpec
from keras_drift.errors import InputError
from keras_drift.judge import proofs
from keras_drift.judge.proofs import Proof
from keras_drift.store import results
from keras_drift.store.results import Result, write_json_atomically

CACHE_DIR = "cache"
LOAD_SECTIONS = ("loads", "user_models", "load_phase")
# The names of what the cache writes (keys are 24 hex digits): a result, proofs and a load parcel. Pruning
# deletes nothing else, so a cache folder pointed at a project folder loses none of the project's files.
ENTRY_RE = re.compile(r"(?:proofs-|loads-)?[0-9a-f]{24}\.json")


def default_folder(reports_dir: Path) -> Path:
    """Where the cache lives unless told otherwise: beside the run folders, ``reports/cache``."""
    return Path(reports_dir) / CACHE_DIR


def machine_fingerprint() -> dict[str, Any]:
    """What of the machine can change a result: platform (kernel, libc), CPU model and flags, core count."""
    cpu = {}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "flags") and key.strip() not in cpu:
                cpu[key.strip()] = value.strip()
    except OSError:  # not Linux: the processor string is what there is
        cpu["processor"] = platform.processor()
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu, "cores": os.cpu_count()}


def source_digest() -> str:
    """A digest of the shipped probe's source (every file under ``probe/``, hooks included)."""
    digest = hashlib.sha256()
    folder = shipped.probe_dir()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_key(spec: EnvSpec, probe_record: dict[str, Any]) -> str:
    """The key of a result: equal keys give equal results (see the module docstring for what goes in).
    ``probe_record`` is what the probe settings record (task selection, user probes, time limit)."""
    parts = {
        "result_schema": results.SCHEMA_VERSION,
        "env": spec.name,
        "install_key": spec.install_key(),
        "backend": spec.backend,
        "variables": spec.env_vars,
        "deterministic": spec.deterministic,
        "probe": source_digest(),
        "settings": probe_record,
        "machine": machine_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def proofs_key(candidate: Result, baseline: Result, tolerances: Sequence[object], budget_s: float) -> str | None:
    """The key of the experiments on ``candidate`` against ``baseline``: both results' keys, the
    tolerances (by their ``repr``; the cache stays upstream of the comparison) and the time budget decide
    them. ``None`` when either result has no key."""
    keys = [result.get("spec", {}).get("cache_key") for result in (candidate, baseline)]
    if not all(keys):
        return None
    parts = {"results": keys, "tolerances": [repr(tolerance) for tolerance in tolerances], "budget_s": budget_s}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def load_key(loading: str, parcel: dict[str, Any], unsafe: bool) -> str:
    """The key of one parcel of a load phase: what the result of key ``loading`` found when it loaded
    ``parcel`` (one source, ``{"source", "direction", "key"}`` with the source result's key, or the user's
    files, :func:`user_files`), in safe mode or not (``unsafe``)."""
    parts = {"loads_of": loading, "parcel": parcel, "unsafe": unsafe}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def user_files(user_models: Sequence[Any]) -> dict[str, Any]:
    """The user's files as a load parcel: each one's plan, its bytes' and its input's digests, its problem."""
    return {"user_models": [{**model.plan(), "sha256": _digest(model.path), "input_sha256": _digest(model.input), "problem": model.problem}
                            for model in user_models]}


def _digest(path: Path) -> str | None:
    """A file's (or a SavedModel folder's) content digest; ``None`` where it cannot be read."""
    digest = hashlib.sha256()
    try:
        for found in sorted(found for found in path.rglob("*") if found.is_file()) if path.is_dir() else [path]:
            digest.update(found.name.encode() + b"\0" + found.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def reusable(spec: EnvSpec) -> bool:
    """Whether a cached result may stand in for a probe: installed from its lock, and not floating."""
    return not spec.floating and spec.lock_path.is_file()


class ResultCache:
    """The cache folder: ``<key>.json`` is a result file whose ``cached_from`` names the run that probed it."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def _load(self, key: str) -> Result | None:
        try:
            return results.load_result(self._path(key))
        except InputError:  # absent, pruned meanwhile, or damaged: a miss
            return None

    def _artifacts(self, key: str) -> Path:
        return self.folder / f"{key}.artifacts"

    def lookup(self, key: str, artifacts: Path | None = None) -> Result | None:
        """The cached result of ``key``, with ``cached_from`` set, its saved models copied to ``artifacts``;
        ``None`` on a miss."""
        result = self._load(key)
        if result is not None and result.get("artifacts") and artifacts is not None:
            try:
                if artifacts.exists():
                    shutil.rmtree(artifacts)
                shutil.copytree(self._artifacts(key), artifacts)
            except OSError:  # pruned meanwhile, or never stored: the result alone cannot stand in
                return None
        if result is not None:
            _refresh(self._path(key))
        return result

    def showed_noise(self, key: str) -> bool:
        """Whether the last result of ``key`` (reusable or not) had repeats that differed."""
        result = self._load(key)
        return result is not None and any(value != 0 for value in result.noise.values())

    def store(self, result: Result, run_id: str, artifacts: Path | None = None) -> None:
        """Keep a complete, successful result under its key (``spec.cache_key``), with the saved models in
        ``artifacts`` when it has any; a result that was itself cached keeps the run that probed it as its
        origin."""
        key = result.get("spec", {}).get("cache_key")
        if not key or not result.ok or result.partial:
            return
        if result.get("artifacts") and artifacts is not None and artifacts.is_dir() and not result.get("cached_from"):
            staging = self.folder / f"{key}.artifacts.{os.getpid()}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(artifacts, staging)
            shutil.rmtree(self._artifacts(key), ignore_errors=True)
            os.replace(staging, self._artifacts(key))
        # what a result loaded of saved models depends on other environments and the user's files: kept apart (loads-*)
        kept = {name: value for name, value in results.encode(result).items() if name not in LOAD_SECTIONS}
        write_json_atomically(self._path(key), {**kept, "cached_from": result.get("cached_from") or run_id})

    def lookup_proofs(self, key: str) -> list[Proof] | None:
        """The experiments stored under ``key`` (:func:`proofs_key`); ``None`` on a miss."""
        path = self.folder / f"proofs-{key}.json"
        try:
            found = proofs.read(path)
        except InputError:  # absent, pruned meanwhile, or damaged: a miss
            return None
        _refresh(path)
        return found

    def store_proofs(self, key: str, found: Sequence[Proof]) -> None:
        """Keep what the experiments on one (candidate, baseline) pair established."""
        proofs.write(self.folder / f"proofs-{key}.json", found)

    def lookup_loads(self, key: str) -> list[dict[str, Any]] | None:
        """What the load parcel of ``key`` (:func:`load_key`) found: its attempts (or user-file outcomes)."""
        path = self.folder / f"loads-{key}.json"
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # absent, pruned meanwhile, or damaged: a miss
            return None
        _refresh(path)
        return found if isinstance(found, list) and all(isinstance(item, dict) for item in found) else None

    def store_loads(self, key: str, found: Sequence[dict[str, Any]]) -> None:
        """Keep what one complete load parcel found."""
        write_json_atomically(self.folder / f"loads-{key}.json", list(found))

    def check_prunable(self) -> None:
        """Refuse, before anything is deleted, a cache folder that is a link (pruning through it would delete
        in a folder keras-drift was never given) or not a folder."""
        if self.folder.is_symlink():
            raise InputError(f"{self.folder}: is a symbolic link; prune deletes only inside a real cache folder "
                             "(pass its target with --cache)")
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{self.folder}: is not a folder; pass the result cache folder with --cache")

    def prune(self, unused_since: float) -> list[Path]:
        """Delete the entries no run has used since ``unused_since`` (a POSIX time); return them. Only what
        the cache writes is an entry (:data:`ENTRY_RE`, a regular file; its ``.artifacts`` folder, not a
        link): any other file in the folder is left alone."""
        self.check_prunable()
        removed = []
        for path in sorted(self.folder.iterdir()) if self.folder.is_dir() else []:
            try:
                if ENTRY_RE.fullmatch(path.name) and _regular(path) and path.stat().st_mtime < unused_since:
                    path.unlink()
                    artifacts = path.with_suffix(".artifacts")
                    if artifacts.is_dir() and not artifacts.is_symlink():
                        shutil.rmtree(artifacts, ignore_errors=True)
                    removed.append(path)
            except FileNotFoundError:  # another prune got there first
                continue
        return removed


def _regular(path: Path) -> bool:
    """Whether ``path`` itself (not what a link points at) is a regular file."""
    return stat.S_ISREG(path.lstat().st_mode)


def _refresh(path: Path) -> None:
    """Mark an entry used now, so pruning keeps what recent runs used (gone meanwhile: nothing to keep)."""
    with contextlib.suppress(OSError):
        os.utime(path)
