"""keras_drift as a script sees it inside a keras-drift probe: ``record`` adds the script's own numbers to
the result (``script.record.<name>``). Outside keras-drift the installed package's ``record`` does nothing.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""


def record(name, value):
    """Record ``value`` (a number or a string) under ``name`` in this environment's result."""
    from probe.script import note_record

    note_record(name, value)
