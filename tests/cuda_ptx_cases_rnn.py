"""PTX cases of the recurrent-layer kernels (kernels/cuda/rnn.py: every kernel with the argument
kinds of its ``SIGNATURES`` entry) and of the zero fill and gradient sums (kernels/cuda/fill_add.py),
float32 and float64 (fill also int32/int64); see tests/cuda_ptx_check.py."""
import numpy as np


def cases():
    from numba import types
    from numba.np.numpy_support import from_dtype
    from nbflow.kernels.cuda import fill_add, rnn
    out = []
    for dt in (np.float32, np.float64, np.int32, np.int64):
        scalar = from_dtype(np.dtype(dt))
        arr, name = types.Array(scalar, 1, "C"), np.dtype(dt).name
        out.append(("fill_add:fill:%s" % name, fill_add.fill.py_func, (arr, scalar, types.int64)))
        if dt in (np.float32, np.float64):
            out.append(("fill_add:add_into:%s" % name, fill_add.add_into.py_func, (arr, arr, types.int64)))
            kinds = {"a": arr, "s": scalar, "i": types.int64}
            mod = rnn.get_module(dt)
            for kernel, sig in sorted(rnn.SIGNATURES.items()):
                out.append(("rnn:%s:%s" % (kernel, name), getattr(mod, kernel).py_func,
                            tuple(kinds[c] for c in sig)))
    return out
