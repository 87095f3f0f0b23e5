"""Startup hooks an environment file can ask for (``hooks = ["name"]``).

keras-drift copies ``<name>.py`` (dashes become underscores) into the environment's site-packages and
imports it from a ``.pth`` file, so it runs at interpreter start-up, before any user code: the way to keep
an old Keras importable on a newer Python without special cases in the probe. Python 3.6-compatible.
"""
