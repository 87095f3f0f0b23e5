"""The Keras under test and what it runs on: loading it through its front doors, its version, its backend,
seeding, and the environment's installed distributions.

Every other helper module asks here which Keras this is (:func:`keras_major`, :func:`backend_name`,
:func:`eager`) before it speaks that version's dialect. Loading also starts what the process keeps
while tasks run: the library's warnings (:func:`probe.pace.listen_for_warnings`) and, on JAX, the compile
seconds and the persistent compile cache. Python 3.6-compatible on purpose: the probe runs in
era-authentic interpreters, from Keras 0.3 on Theano to Keras 3 on any backend.
"""

import importlib
import inspect
import os
import random
import sys

import numpy as np

from probe.pace import listen_for_warnings
from probe.spelling import parameters
from probe.state import STATE

SUBMODULES = ("backend", "layers", "models", "optimizers", "callbacks")


class NotApplicable(Exception):
    """A task that needs something this environment does not have (raw TensorFlow, say)."""


def load_keras(compile_cache=""):
    """Import the Keras under test through the door its users are documented to use (:func:`front_doors`),
    and note every door in ``STATE.doors``. Given a ``compile_cache`` folder, the backend keeps the programs
    it compiles there (:func:`keep_compiled_programs`)."""
    listen_for_warnings()
    STATE.doors[:] = front_doors()
    keras = STATE.doors[0][1]
    if backend_name(keras) == "theano":
        # Keras 1.x calls theano.ifelse.ifelse, a submodule Theano 1.0 no longer imports by itself.
        importlib.import_module("theano.ifelse")
    if backend_name(keras) == "jax":
        _count_compile_seconds()
        if compile_cache:
            keep_compiled_programs(compile_cache)
    return keras


# The public namespaces whose classes the probe calls, compared across doors.
DOOR_NAMESPACES = ("optimizers", "layers", "losses", "metrics", "initializers", "activations", "callbacks", "models",
                   "regularizers", "constraints")


def front_doors():
    """``[(door, module)]``: the documented ways to reach the Keras of this environment, the one its users
    are told to use first.

    - ``TF_USE_LEGACY_KERAS=1`` (TensorFlow 2.16 and later): ``tf.keras`` is the legacy Keras 2, ``tf_keras``.
    - Keras 2.4 to 2.15 on TensorFlow 2: TensorFlow documents ``tf.keras``; ``import keras`` is a second
      door, and on TensorFlow 2.11 and 2.12 it reaches other classes (the legacy optimizers) than
      ``tf.keras`` users get.
    - Keras 3, and standalone Keras before 2.4 (its own implementation, on Theano or TensorFlow 1):
      ``import keras``.
    """
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        import tf_keras

        return [("tf.keras", _with_submodules(tf_keras))]
    import keras

    keras = _with_submodules(keras)
    if keras_major(keras) == 2 and version_tuple(keras) >= (2, 4):
        try:
            import tensorflow as tf
        except ImportError:
            return [("keras", keras)]
        if release_tuple(tf.__version__) >= (2, 0, 0):
            return [("tf.keras", _with_submodules(tf.keras)), ("keras", keras)]
    return [("keras", keras)]


def _with_submodules(keras):
    """``keras`` with its submodules imported: Keras 0.3's package ``__init__`` imports none of them, and
    ``tf.keras`` loads them lazily."""
    for name in SUBMODULES:
        if not inspect.ismodule(getattr(keras, name, None)):
            importlib.import_module(keras.__name__ + "." + name)
    return keras


def door_differences():
    """``{door: {"module", "differs", "missing"}}`` for every door but the documented one: the public
    classes and functions of :data:`DOOR_NAMESPACES` (``optimizers.Adam``) that it reaches as other objects
    than the documented door does, and those it does not have."""
    if not STATE.doors:
        return {}
    documented = STATE.doors[0][1]
    found = {}
    for door, module in STATE.doors[1:]:
        differs, missing = [], []
        for namespace in DOOR_NAMESPACES:
            ours, theirs = getattr(documented, namespace, None), getattr(module, namespace, None)
            for name in sorted(dir(ours)) if ours is not None else []:
                if name.startswith("_") or inspect.ismodule(getattr(ours, name)):
                    continue
                if theirs is None or not hasattr(theirs, name):
                    missing.append(namespace + "." + name)
                elif getattr(theirs, name) is not getattr(ours, name):
                    differs.append(namespace + "." + name)
        found[door] = {"module": module.__name__, "differs": differs, "missing": missing}
    return found


def _count_compile_seconds():
    """Add the seconds XLA spends compiling (or fetching from the compile cache) each program of this
    process to ``STATE.compile_seconds``: the probe subtracts them from a task's time per step, which then
    does not depend on whether the persistent cache already held the programs."""
    import jax

    def add(event, seconds, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            STATE.compile_seconds += seconds

    register = getattr(getattr(jax, "monitoring", None), "register_event_duration_secs_listener", None)
    if register is not None:
        register(add)


# The first JAX release whose persistent compile cache is known to work in a probe process. Keras 3.1 to 3.7
# on JAX 0.4.26 to 0.4.35 died with a segmentation fault (or a double free) while collecting garbage with
# it on, and finished without it; 0.5 and later ran the default and smoke matrices with it.
COMPILE_CACHE_SINCE = (0, 5, 0)


def keep_compiled_programs(folder):
    """Let JAX keep every program it compiles in ``folder`` and reuse it in later processes, from
    :data:`COMPILE_CACHE_SINCE` on. JAX keys a program by the computation, its own version, the compile
    options and the device, so a reused program is the one XLA would compile again: results cannot
    change, only XLA's compile time (about half a JAX probe) is saved. Return whether it is on (also noted
    in ``STATE.compile_cache_on``)."""
    import jax

    if release_tuple(jax.__version__) < COMPILE_CACHE_SINCE:
        return False
    try:
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # our programs compile in ms
    except AttributeError:  # "Unrecognized config option": a JAX without a persistent cache
        return False
    STATE.compile_cache_on = True
    return True


def release_tuple(version):
    """The leading numbers of a version string as a tuple of three ints (``0.4.26`` -> ``(0, 4, 26)``;
    ``2.16.0rc0`` -> ``(2, 16, 0)``)."""
    parts = []
    for part in str(version).split(".")[:3]:
        digits = ""
        for character in part:
            if not character.isdigit():
                break
            digits += character
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def keras_version(keras):
    """The version string the Keras module reports about itself (its distribution's where it has none)."""
    version = getattr(keras, "__version__", None)
    if version is None:  # tf.keras of TensorFlow 2.13 to 2.15 (keras.api._v2.keras) says it on its package only
        version = getattr(sys.modules.get(keras.__name__.split(".")[0]), "__version__", None)
    if version is None:
        version = installed_distributions().get(keras.__name__.replace("_", "-"), "unknown")
    return str(version)


def keras_major(keras):
    """The major version of Keras as an int (0 for Keras 0.x)."""
    try:
        return int(keras_version(keras).split(".")[0])
    except ValueError:
        return -1


def backend_name(keras):
    """The backend Keras actually runs on, as Keras reports it."""
    backend = getattr(keras, "backend", None)
    for getter in ("backend", "_BACKEND"):
        value = getattr(backend, getter, None)
        if callable(value):
            return str(value())
        if isinstance(value, str):
            return value
    return "tensorflow" if "tensorflow" in sys.modules else "unknown"


def version_tuple(keras):
    """Keras's major and minor version as ints."""
    return release_tuple(keras_version(keras))[:2]


def reset(keras, seed):
    """Start a task from a clean slate: a new graph/session where there is one, and every seed set. Keras 3's
    ``clear_session`` also collects garbage unless told not to: a full collection of the framework's heap,
    0.1 to 0.2 s a call and about a third of a Keras 3 probe's task time, for memory that tiny models do
    not need back early."""
    clear = getattr(keras.backend, "clear_session", None)
    if clear is not None:
        clear(**({"free_memory": False} if "free_memory" in parameters(clear) else {}))
    return seed_everything(keras, seed)


def seed_everything(keras, seed):
    """Seed Python, NumPy and the backend; return how it was done (recorded in the fingerprint)."""
    random.seed(seed)
    np.random.seed(seed)
    setter = getattr(getattr(keras, "utils", None), "set_random_seed", None)
    if setter is not None:
        setter(seed)
        return "keras.utils.set_random_seed"
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        tf_setter = getattr(getattr(tf, "random", None), "set_seed", None) or getattr(tf, "set_random_seed")
        tf_setter(seed)
        return "numpy + tensorflow seed"
    return "numpy.random.seed"


def eager(keras):
    """Whether layers run eagerly here (Keras 3, tf.keras 2 on TensorFlow 2): then a model can be called
    directly, with nothing compiled or traced."""
    if keras_major(keras) >= 3:
        return True
    tf = sys.modules.get("tensorflow")
    return keras_major(keras) == 2 and tf is not None and getattr(tf, "executing_eagerly", lambda: False)()


def to_numpy(keras, tensor):
    """A backend tensor (or variable) as a NumPy array."""
    ops = getattr(keras, "ops", None)
    if ops is not None and hasattr(ops, "convert_to_numpy"):
        return np.asarray(ops.convert_to_numpy(tensor))
    return np.asarray(tensor)


def tensorflow_v1():
    """TensorFlow's graph-mode API: ``tf.compat.v1`` on TF 1.15/2.x, ``tf`` itself on older releases.

    Raises :class:`NotApplicable` where TensorFlow is not installed (Theano, JAX, torch environments).
    """
    try:
        import tensorflow as tf
    except ImportError:
        raise NotApplicable("TensorFlow is not installed")
    v1 = getattr(getattr(tf, "compat", None), "v1", None)
    return v1 if v1 is not None else tf


def tf_variables_initializer(tf):
    """The op that initialises all variables (``initialize_all_variables`` before TF 0.12)."""
    initializer = getattr(tf, "global_variables_initializer", None) or tf.initialize_all_variables
    return initializer()


def installed_distributions():
    """Every installed distribution as ``{name: version}``, whatever the Python version."""
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8, and venvs there may lack setuptools' pkg_resources
        return _scan_distributions()
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower()] = dist.version
    return found


def _scan_distributions():
    """Read ``Name`` and ``Version`` from the metadata files of every distribution on ``sys.path``."""
    found = {}
    for entry in sys.path:
        if not os.path.isdir(entry):
            continue
        for folder in os.listdir(entry):
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            path = os.path.join(entry, folder, "METADATA" if folder.endswith(".dist-info") else "PKG-INFO")
            if os.path.isfile(path):
                headers = _metadata_headers(path)
                if "name" in headers and "version" in headers:
                    found.setdefault(headers["name"].lower(), headers["version"])
    return found


def _metadata_headers(path):
    headers = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            headers.setdefault(key.strip().lower(), value.strip())
    return headers
