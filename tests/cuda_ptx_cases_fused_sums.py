"""PTX cases (tests/cuda_ptx_check.py) of fused sums: a generated element-wise kernel that
also accumulates two sums into per-block partials, and the finishing kernels."""
import numpy as np


def cases():
    from numba import types
    from nbflow.kernels.cuda import elementwise as ew
    f32, f64 = types.Array(types.float32, 1, "C"), types.Array(types.float64, 1, "C")
    stmts = ["t0 = np.float32(x0 * x1 - x2)", "t1 = np.float32(t0 * t0)"]
    k, _ = ew.get_kernel(stmts, ["t0"], [np.float32] * 3, [(4, 8), (4, 8), ()], [np.float32], (4, 8),
                         sums=("t1", "x0"))
    out = [("fused:sums", k.py_func, (f32,) * 4 + (f64, f64, types.int64))]
    for name, arr in (("float32", f32), ("float64", f64)):
        out.append(("fused:sum-finish:%s" % name, ew.finish_kernel(np.dtype(name)).py_func,
                    (f64, types.int64, arr, types.float64)))
    return out
