"""keras-drift: run one probe in many pinned Keras environments and explain where the numbers diverge."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("keras-drift")
except PackageNotFoundError:  # imported from a source tree (noxfile.py) without being installed
    __version__ = "0+unknown"
