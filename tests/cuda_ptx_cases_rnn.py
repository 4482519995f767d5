"""PTX cases of the recurrent-layer kernels (kernels/cuda/rnn.py), float32 and float64:
every kernel with the argument kinds of its ``SIGNATURES`` entry (tests/cuda_ptx_check.py)."""
import numpy as np


def cases():
    from numba import types
    from numba.np.numpy_support import from_dtype
    from nbflow.kernels.cuda import rnn
    out = []
    for dt in (np.float32, np.float64):
        scalar = from_dtype(np.dtype(dt))
        kinds = {"a": types.Array(scalar, 1, "C"), "s": scalar, "i": types.int64}
        mod = rnn.get_module(dt)
        for name, sig in sorted(rnn.SIGNATURES.items()):
            out.append(("rnn:%s:%s" % (name, np.dtype(dt).name), getattr(mod, name).py_func,
                        tuple(kinds[c] for c in sig)))
    return out
