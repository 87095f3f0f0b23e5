"""``python -m keras_drift``: the ``keras-drift`` command (what the sessions of :mod:`keras_drift.nox` run)."""

import sys

from keras_drift.cli import main

sys.exit(main())
