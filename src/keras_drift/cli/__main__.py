"""``python -m keras_drift.cli``: the ``keras-drift`` command."""

import sys

from keras_drift.cli import main

sys.exit(main())
