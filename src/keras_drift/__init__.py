"""keras-drift: run one probe in many pinned Keras environments and explain where the numbers diverge."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("keras-drift")
except PackageNotFoundError:  # imported from a source tree (noxfile.py) without being installed
    __version__ = "0+unknown"


def record(name: str, value: float | str) -> None:
    """Your script's own number, under ``script.record.<name>``, when keras-drift runs the script
    (``keras-drift drift --script train.py``); run any other way, it does nothing. Inside keras-drift's
    environments the probe's shim (``probe/script_shim``) answers this import instead."""
    del name, value
