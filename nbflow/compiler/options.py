"""Which optimizer passes run. Every pass can be switched off, with results unchanged.

- environment: ``NBFLOW_DISABLE_PASSES=fusion,fold`` (passes: fold, cse, identity, fusion, memory)
- per session: ``tf.ConfigProto(nbflow_disabled_passes=["fusion"])``

``threads``: ``ConfigProto.intra_op_parallelism_threads`` -- how many threads a
fused element-wise kernel may split its loop over (0: all of Numba's threads,
as TF; 1: serial kernels only). Numba's own count (``NUMBA_NUM_THREADS``) caps it.
"""
import os

PASSES = ("fold", "cse", "identity", "fusion", "memory")


class CompilerOptions:
    __slots__ = ("disabled", "threads")

    def __init__(self, disabled=(), threads=0):
        unknown = set(disabled) - set(PASSES)
        if unknown:
            raise ValueError("Unknown optimizer pass(es) %s; known passes: %s"
                             % (", ".join(sorted(unknown)), ", ".join(PASSES)))
        self.disabled = frozenset(disabled)
        self.threads = int(threads or 0)

    @classmethod
    def from_config(cls, config):
        disabled = [p.strip() for p in os.environ.get("NBFLOW_DISABLE_PASSES", "").split(",") if p.strip()]
        disabled += list(getattr(config, "nbflow_disabled_passes", None) or ())
        return cls(disabled, getattr(config, "intra_op_parallelism_threads", 0) or 0)
