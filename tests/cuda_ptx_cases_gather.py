"""PTX compile cases of the coordinate gathers/scatters, mirror padding, reverse_sequence,
top_k, Where/Unique and the small-matrix kernels (added to tests/cuda_ptx_check.py's list)."""
import numpy as np
from numba import types

I64 = types.int64


def _a(t):
    return types.Array(t, 1, "C")


def gather_nd_cases():
    from nbflow.kernels.cuda import gather_nd as K
    out = []
    for dt, it in ((types.float32, types.int32), (types.float64, types.int64), (types.int32, types.int32)):
        out.append(("gather_nd:%s:%s" % (dt, it), K.gather_nd.py_func,
                    (_a(dt), _a(it), _a(I64), _a(dt), I64, I64, I64)))
        out.append(("scatter_nd:%s:%s" % (dt, it), K.scatter_nd.py_func,
                    (_a(dt), _a(it), _a(I64), _a(dt), I64, I64, I64)))
        out.append(("mirror_pad:%s" % dt, K.mirror_pad.py_func,
                    (_a(dt), _a(I64), _a(I64), _a(I64), _a(dt)) + (I64,) * 3))
        out.append(("mirror_pad_grad:%s" % dt, K.mirror_pad_grad.py_func,
                    (_a(dt), _a(I64), _a(I64), _a(I64), _a(dt)) + (I64,) * 3))
        out.append(("reverse_sequence:%s:%s" % (dt, it), K.reverse_sequence.py_func,
                    (_a(dt), _a(it), _a(dt)) + (I64,) * 5))
    out.append(("gather_nd:bool", K.gather_nd.py_func, (_a(types.boolean), _a(types.int64), _a(I64),
                                                        _a(types.boolean), I64, I64, I64)))
    return out


def sort_cases():
    from nbflow.kernels.cuda import sort as K
    out = []
    i32 = _a(types.int32)
    for dt in (types.float32, types.float64, types.int32, types.int64):
        out.append(("top_k:%s" % dt, K.top_k.py_func, (_a(dt), _a(dt), i32, I64, I64, I64)))
        for size in (32, K.MAX_SORT):
            sorter = K.sorter(np.dtype(str(dt)), size)
            out.append(("top_k_sorted:%s:%d" % (dt, size), sorter.py_func, (_a(dt), _a(dt), i32, I64, I64, I64)))
        out.append(("gather_last_axis:%s" % dt, K.gather_last_axis.py_func, (_a(dt), i32, _a(dt), I64, I64, I64)))
    for dt in (types.float32, types.float64, types.int32):
        out.append(("scatter_last_axis:%s" % dt, K.scatter_last_axis.py_func, (i32, _a(dt), _a(dt), I64, I64, I64)))
    return out


def select_cases():
    from nbflow.kernels.cuda import select as K
    i32, i64 = _a(types.int32), _a(I64)
    out = [("chunk_counts", K.chunk_counts.py_func, (i32, i64, I64, I64, I64))]
    for dt in (types.boolean, types.float32, types.float64, types.int32, types.int64):
        out.append(("nonzero_flags:%s" % dt, K.nonzero_flags.py_func, (_a(dt), i32, I64)))
        out.append(("first_occurrence:%s" % dt, K.first_occurrence.py_func, (_a(dt), i64, i32, I64)))
        out.append(("unique_write:%s" % dt, K.unique_write.py_func, (_a(dt), i32, i64, _a(dt), i64, I64, I64, I64)))
    out.append(("where_write", K.where_write.py_func, (i32, i64, i64, i64, I64, I64, I64, I64)))
    for it in (types.int32, types.int64):
        out.append(("unique_index:%s" % it, K.unique_index.py_func, (i64, i64, _a(it), I64)))
    return out


def matrix_cases():
    from nbflow.kernels.cuda import matrix as K
    out = []
    for dt in (types.float32, types.float64):
        a = _a(dt)
        out.append(("matrix_inverse:%s" % dt, K.inverse.py_func, (a, a, a, a, _a(types.int32), I64, I64, I64)))
        out.append(("matrix_determinant:%s" % dt, K.determinant.py_func, (a, a, a, a, I64, I64)))
    return out


def cases():
    return gather_nd_cases() + sort_cases() + select_cases() + matrix_cases()
