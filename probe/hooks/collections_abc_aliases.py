"""Restore ``collections.Mapping`` and the other ABC aliases that Python 3.10 removed.

Keras 1.x and 2.x (and some of their dependencies) still import them from ``collections``.
"""

import collections
import collections.abc

for _name in collections.abc.__all__:
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))
