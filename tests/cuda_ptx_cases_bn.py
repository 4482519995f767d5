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


def reduction_cases():
    """The reduce template's new kinds: All/Any of booleans, EuclideanNorm of floats."""
    from numba import types
    from nbflow.kernels.cuda import reduce
    i64, idx = types.int64, _arr(np.int64)
    out = []
    for kind, dt in (("all", np.bool_), ("any", np.bool_), ("euclidean", np.float32), ("euclidean", np.float64)):
        a = _arr(dt)
        out.append(("reduce:%s:%s" % (kind, np.dtype(dt).name), reduce.get_kernel(kind, dt).py_func,
                    (a, a, i64, i64, idx, idx, idx, idx)))
    return out


def check_cases():
    from numba import types
    from nbflow.kernels.cuda import checks
    i64, flags = types.int64, _arr(np.int32)
    out = [("checks:clear_flags", checks.clear_flags.py_func, (flags,))]
    for dt in (np.float32, np.float64):
        out.append(("checks:nonfinite:%s" % np.dtype(dt).name, checks.nonfinite_flags.py_func,
                    (_arr(dt), i64, flags)))
    for it in (np.int32, np.int64):
        out.append(("in_top_k:%s" % np.dtype(it).name, checks.in_top_k.py_func,
                    (_arr(np.float32), _arr(it), _arr(it), i64, i64, _arr(np.bool_))))
    return out


def sequence_cases():
    from numba import types
    from nbflow.kernels.cuda import sequence
    i64 = types.int64
    out = []
    for dt in (np.int32, np.int64, np.float32, np.float64):
        a, name = _arr(dt), np.dtype(dt).name
        out.append(("range:%s" % name, sequence.kernels(dt).range_fill.py_func, (a, a, i64, a)))
        if dt in (np.float32, np.float64):
            out.append(("linspace:%s" % name, sequence.kernels(dt).linspace.py_func, (a, a, i64, a)))
    for it in (np.int32, np.int64):
        a, name = _arr(it), np.dtype(it).name
        out.append(("invert_permutation:prepare:%s" % name, sequence.prepare.py_func, (a, i64, _arr(np.int32))))
        out.append(("invert_permutation:%s" % name, sequence.invert_permutation.py_func,
                    (a, i64, a, _arr(np.int32))))
    return out


def random_cases():
    from numba import types
    from numba.cuda.random import xoroshiro128p_dtype
    from numba.np.numpy_support import from_dtype
    from nbflow.kernels.cuda import random
    states, i64 = types.Array(from_dtype(xoroshiro128p_dtype), 1, "C"), types.int64
    out = []
    for it in (np.int32, np.int64):
        name = np.dtype(it).name
        out.append(("random:uniform_int:%s" % name, random.uniform_int.py_func, (states, _arr(it), i64, i64, i64)))
        for dt in (np.float32, np.float64):
            out.append(("random:multinomial:%s:%s" % (np.dtype(dt).name, name), random.multinomial.py_func,
                        (states, _arr(dt), i64, i64, i64, _arr(it))))
    keys, rows = _arr(np.uint64), _arr(np.int64)
    out.append(("random:shuffle_keys", random.shuffle_keys.py_func, (states, keys, rows, i64, i64)))
    out.append(("random:bitonic_step", random.bitonic_step.py_func, (keys, rows, i64, i64, i64)))
    from nbflow.kernels.cuda import gather
    for dt in (np.float32, np.float64, np.int32, np.int64):  # the shuffle's row gather, int64 rows
        out.append(("random:shuffle_gather:%s" % np.dtype(dt).name, gather.gather.py_func,
                    (_arr(dt), rows, _arr(dt)) + (i64,) * 4))
    return out


def cases():
    return batch_norm_cases() + reduction_cases() + check_cases() + sequence_cases() + random_cases()
