"""The machine and library versions a result was measured with."""
import os
import platform
import sys


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gb():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _blas(module):
    try:
        cfg = module.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return "%s %s" % (blas.get("name", "?"), blas.get("version", ""))
    except Exception:
        return None


def describe(torch_used):
    import numpy as np
    import numba
    import scipy

    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _mem_total_gb(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numpy_blas": _blas(np),
        "scipy": scipy.__version__,
        "scipy_blas": _blas(scipy),
        "numba": numba.__version__,
        "threads": {
            "numba": numba.get_num_threads(),
            "numba_threading_layer_env": os.environ.get("NUMBA_THREADING_LAYER"),
            "numba_threading_layer": str(numba.config.THREADING_LAYER),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS"),
            "blas_default": "OpenBLAS uses one thread per core unless the variables above say otherwise",
        },
        "fast_transcendentals": os.environ.get("NBFLOW_FAST_TRANSCENDENTALS", "1"),
        "disabled_passes": os.environ.get("NBFLOW_DISABLE_PASSES", ""),
    }
    try:
        import nbflow

        info["nbflow"] = nbflow.__version__
    except Exception as e:  # pragma: no cover - the runner still reports baselines
        info["nbflow"] = "import failed: %s" % e
    try:
        import subprocess

        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__)), timeout=5)
        if rev.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                   text=True, cwd=os.path.dirname(os.path.abspath(__file__)), timeout=5)
            info["git"] = rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except Exception:
        pass
    if torch_used is not None:
        info["torch"] = torch_used.__version__
        info["threads"]["torch_intra_op"] = torch_used.get_num_threads()
        info["threads"]["torch_inter_op"] = torch_used.get_num_interop_threads()
    else:
        info["torch"] = None
    jax = _jax_used()
    if jax is not None:
        info["jax"] = jax.__version__
        try:
            import jaxlib

            info["jaxlib"] = jaxlib.__version__
        except Exception:
            pass
        info["threads"]["XLA_FLAGS"] = os.environ.get("XLA_FLAGS")
        info["threads"]["jax_cpu"] = ("1 (XLA_FLAGS single-threaded)" if "intra_op_parallelism_threads=1"
                                      in (os.environ.get("XLA_FLAGS") or "") else "XLA default (one per core)")
    else:
        info["jax"] = None
    return info


def _jax_used():
    try:
        from benchmarks import harness
    except Exception:  # pragma: no cover
        return None
    return harness.jax_used()
