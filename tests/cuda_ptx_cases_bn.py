"""PTX compile cases (tests/cuda_ptx_check.py adds ``cases()``): batch normalization,
the boolean/norm reductions, InTopKV2, CheckNumerics, sequences and the integer /
categorical random draws, float32 and float64 where the kernels take floats."""
import numpy as np


def _arr(dt):
    from numba import types
    from numba.np.numpy_support import from_dtype
    return types.Array(from_dtype(np.dtype(dt)), 1, "C")


def batch_norm_cases():
    from numba import types
    from nbflow.kernels.cuda import batch_norm as K
    i64, f64 = types.int64, types.float64
    acc = _arr(np.float64)
    out = []
    for dt in (np.float32, np.float64):
        a, name = _arr(dt), np.dtype(dt).name
        out += [
            ("bn:sum_x:%s" % name, K.sum_x.py_func, (a, i64, i64, acc)),
            ("bn:sum_sq_dev:%s" % name, K.sum_sq_dev.py_func, (a, acc, i64, i64, acc)),
            ("bn:sum_grad:%s" % name, K.sum_grad.py_func, (a, a, a, i64, i64, acc, acc)),
            ("bn:finish_mean:%s" % name, K.finish_mean.py_func, (acc, i64, i64, i64, acc)),
            ("bn:finish_train:%s" % name, K.finish_train.py_func, (acc, i64, i64, i64, acc, a, a, f64) + (a,) * 7),
            ("bn:finish_infer:%s" % name, K.finish_infer.py_func, (a, a, a, a, f64, i64) + (a,) * 7),
            ("bn:normalize:%s" % name, K.normalize.py_func, (a, a, a, a, i64, i64, a)),
            ("bn:finish_grad:%s" % name, K.finish_grad.py_func,
             (acc, acc, i64, i64, i64, a, a, a, f64, i64) + (a,) * 6),
            ("bn:grad_dx:%s" % name, K.grad_dx.py_func, (a, a, a, a, a, a, i64, i64, i64, a)),
        ]
    return out


def cases():
    return batch_norm_cases()
