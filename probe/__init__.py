"""The keras-drift probe: runs inside each environment with only the standard library, NumPy and the
framework under test, and writes one JSON result file. See ``python -m probe --help``."""
