"""What the environment is: interpreter, platform, CPU, backend and every installed distribution."""

import os
import platform
import sys

from probe import frameworks
from probe.state import STATE

# Variables that change what a framework computes or how (threads, oneDNN, XLA, determinism, backend).
RELEVANT_ENV_PREFIXES = (
    "KERAS_", "TF_", "JAX_", "XLA_", "THEANO", "TORCH_", "OMP_", "MKL_", "OPENBLAS_", "DNNL_", "ONEDNN_",
    "CUDA_", "PYTHONHASHSEED",
)
CPU_FLAGS_OF_INTEREST = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def collect(keras, seeding):
    """The fingerprint of the running environment, as plain JSON-ready data."""
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "keras_module": keras.__name__,
        # the door the tasks went through, and what every other door reaches differently
        "front_door": STATE.doors[0][0] if STATE.doors else "keras",
        "front_doors": frameworks.door_differences(),
        "keras_version": frameworks.keras_version(keras),
        "backend": frameworks.backend_name(keras),
        "seeding": seeding,
        "distributions": frameworks.installed_distributions(),
        "env_vars": dict(
            (key, value) for key, value in sorted(os.environ.items()) if key.startswith(RELEVANT_ENV_PREFIXES)
        ),
        "byteorder": sys.byteorder,
    }


def _cpu():
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except (IOError, OSError):
        pass
    return {"model": model, "flags": sorted(flag for flag in CPU_FLAGS_OF_INTEREST if flag in flags)}
