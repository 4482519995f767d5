"""Compile every CUDA kernel to PTX for cc 7.5, 8.0 and 9.0 and report ptxas's numbers.

Run as a script in its own process (compile_ptx does not work with the
simulator on), by tests/test_cuda_ptx.py, or by hand:
``python tests/cuda_ptx_check.py [--all-cc] [--json out.json]``.

Kernels: the generated element-wise kernel of every element-wise op type the
GPU accepts (at its usual dtype), one generated fused kernel per shape class
(all operands full-size; scalars; numpy broadcasting; several outputs), the
reductions (5 kinds x float32/float64), the tiled matmul, every optimizer
update (Apply*) and the row kernels (softmax, cross-entropies), float32 and
float64; the layout ops' strided copy per element type; gather, segment sum
and one-hot; im2col/col2im and pooling; the random draws.
Every kernel is compiled for cc 8.0; the static kernels and the fused ones
also for 7.5 and 9.0 (``--all-cc``: every kernel for all three). ptxas (the
nvidia-cuda-nvcc-cu12 wheel's) then assembles each PTX with ``-v`` and its
registers and shared memory per kernel are printed.
"""
import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

CCS = ((7, 5), (8, 0), (9, 0))


def find_ptxas():
    from importlib.metadata import PackageNotFoundError, distribution
    try:
        dist = distribution("nvidia-cuda-nvcc-cu12")
    except PackageNotFoundError:
        return None
    for f in dist.files or ():
        if str(f).replace("\\", "/").endswith("bin/ptxas"):
            return str(dist.locate_file(f))
    return None


def elementwise_cases():
    """(name, pyfunc, signature) of each element-wise op type's generated kernel."""
    from numba import types
    from numba.np.numpy_support import from_dtype
    import nbflow  # noqa: F401  (registers every op)
    from nbflow.backends.cuda import elementwise as gpu_ew
    from nbflow.backends.cuda import register_kernels
    from nbflow.framework import dtypes
    from nbflow.kernels.cuda import elementwise as ew
    from nbflow.ops.elementwise import ElementwiseOp
    register_kernels()
    seen, cases, skipped = set(), [], []

    def walk(c):
        for s in c.__subclasses__():
            yield s
            yield from walk(s)

    for cls in walk(ElementwiseOp):
        if cls.type in seen:
            continue
        seen.add(cls.type)
        if not gpu_ew.plain_expression(cls):
            skipped.append((cls.type, "a CPU kernel of its own"))
            continue
        kind = cls.kinds[0]
        dt = {"f": dtypes.float32, "i": dtypes.int32, "u": dtypes.uint8, "b": dtypes.bool_}[kind]
        arity = _arity(cls)
        ins = [dt] * arity
        if cls.type in ("Select", "SelectV2"):
            ins = [dtypes.bool_, dtypes.float32, dtypes.float32]
        try:
            out = cls.output_dtype(ins)
            expr = gpu_ew.gpu_expression(cls, ins, ["x%d" % i for i in range(arity)], [None] * arity)
        except Exception as e:  # noqa: BLE001
            skipped.append((cls.type, "%s: %s" % (type(e).__name__, e)))
            continue
        in_np = [d.as_numpy_dtype for d in ins]
        out_np = out.as_numpy_dtype
        k, patterns = ew.get_kernel([], [expr], in_np, [(8,)] * arity, [out_np], (8,))
        sig = tuple(types.Array(from_dtype(np.dtype(d)), 1, "C") for d in in_np + [out_np]) + (types.int64,)
        cases.append(("ew:%s(%s)" % (cls.type, ",".join(np.dtype(d).name for d in in_np)), k.py_func, sig))
    return cases, skipped


def _arity(cls):
    if cls.type == "AddN":
        return 3
    if cls.expr is None:
        return 1
    return max(int(i) for i in re.findall(r"\{(\d+)\}", cls.expr)) + 1


def fused_cases():
    """One generated fused kernel per shape class."""
    from numba import types
    from numba.np.numpy_support import from_dtype
    from nbflow.kernels.cuda import elementwise as ew
    f32 = types.Array(types.float32, 1, "C")
    stmts = ["t0 = np.float32(x0 * x1 + x2)", "t1 = np.float32(t0 if t0 > np.float32(0) else np.float32(0))",
             "t2 = np.float32(math.exp(-t1) + math.sqrt(abs(x0)))"]
    out = []
    for name, shapes, outputs in [("full", [(4, 8)] * 3, ["t2"]), ("scalar", [(4, 8), (), (1,)], ["t2"]),
                                  ("broadcast", [(4, 8), (8,), (4, 1)], ["t2"]),
                                  ("multi-output", [(4, 8), (8,), ()], ["t1", "t2"])]:
        k, patterns = ew.get_kernel(stmts, outputs, [np.float32] * 3, shapes, [np.float32] * len(outputs), (4, 8))
        n_extra = len(ew.shape_args(shapes, patterns, (4, 8)))
        out.append(("fused:%s" % name, k.py_func, (f32,) * (3 + len(outputs)) + (types.int64,) * n_extra))
    k, _ = ew.get_kernel([], ["1"], [], [], [np.float32], (4, 8))  # OnesLike / ZerosLike: no inputs
    out.append(("fill:no-input", k.py_func, (f32, types.int64)))
    return out


def static_cases():
    from numba import types
    from numba.np.numpy_support import from_dtype
    from nbflow.kernels.cuda import linalg, reduce
    i64 = types.Array(types.int64, 1, "C")
    out = []
    for dt in (np.float32, np.float64):
        arr = types.Array(from_dtype(np.dtype(dt)), 1, "C")
        for kind in ("sum", "mean", "max", "min", "prod"):
            k = reduce.get_kernel(kind, dt)
            out.append(("reduce:%s:%s" % (kind, np.dtype(dt).name), k.py_func,
                        (arr, arr, types.int64, types.int64, i64, i64, i64, i64)))
        for idx in (types.int32, types.int64):
            out.append(("arg_reduce:%s:%s" % (np.dtype(dt).name, idx), reduce.arg_reduce.py_func,
                        (arr, types.Array(idx, 1, "C")) + (types.int64,) * 4))
        out.append(("scan:%s" % np.dtype(dt).name, reduce.scan.py_func, (arr, arr) + (types.int64,) * 6 + (arr,)))
        k = linalg.get_kernel(dt)
        out.append(("matmul:%s" % np.dtype(dt).name, k.py_func, (arr, arr, arr) + (types.int64,) * 7))
        out.append(("batch_matmul:%s" % np.dtype(dt).name, linalg.get_kernel(dt, batched=True).py_func,
                    (arr, arr, arr) + (types.int64,) * 7 + (i64, i64)))
        out += optimizer_cases(dt, arr) + row_cases(dt, arr)
    out += layout_cases() + gather_cases() + conv_cases() + random_cases() + family_cases()
    return out


def family_cases():
    """The kernels listed by each ``cuda_ptx_cases_*.py`` beside this file: its ``cases()``
    returns (name, python function, signature) triples, one module per kernel family."""
    import glob
    import importlib.util
    out = []
    for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cuda_ptx_cases_*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        out += module.cases()
    return out


def random_cases():
    """The xoroshiro128+ draws (kernels/cuda/random.py): uniform, normal, truncated normal."""
    from numba import types
    from numba.cuda.random import xoroshiro128p_dtype
    from numba.np.numpy_support import from_dtype
    from nbflow.kernels.cuda import random
    states = types.Array(from_dtype(xoroshiro128p_dtype), 1, "C")
    out = []
    for kind in ("uniform", "normal", "truncated"):
        for dt in (np.float32, np.float64):
            arr = types.Array(from_dtype(np.dtype(dt)), 1, "C")
            out.append(("random:%s:%s" % (kind, np.dtype(dt).name), random.get_kernel(kind, dt).py_func,
                        (states, arr, types.int64)))
    return out


def conv_cases():
    """im2col, col2im (atomics), pooling and its gradient (kernels/cuda/conv.py)."""
    from numba import types
    from nbflow.kernels.cuda import conv
    i64 = types.int64
    out = []
    for dt in (types.float32, types.float64):
        a = types.Array(dt, 1, "C")
        out.append(("conv:im2col:%s" % dt, conv.im2col.py_func, (a,) + (i64,) * 13 + (a, i64)))
        out.append(("conv:col2im_add:%s" % dt, conv.col2im_add.py_func, (a,) + (i64,) * 13 + (a, i64)))
        out.append(("pool:%s" % dt, conv.pool.py_func, (a,) + (i64,) * 11 + (a, i64, i64)))
        out.append(("pool_grad_add:%s" % dt, conv.pool_grad_add.py_func, (a, a) + (i64,) * 11 + (a, i64, i64)))
    return out


def gather_cases():
    """GatherV2, UnsortedSegmentSum (atomics) and OneHot (kernels/cuda/gather.py)."""
    from numba import types
    from nbflow.kernels.cuda import gather
    i64 = types.int64
    a = lambda t: types.Array(t, 1, "C")  # noqa: E731
    out = []
    for dt, it in ((types.float32, types.int32), (types.float64, types.int64), (types.int32, types.int32)):
        out.append(("gather:%s:%s" % (dt, it), gather.gather.py_func, (a(dt), a(it), a(dt)) + (i64,) * 4))
        out.append(("segment_sum:%s" % dt, gather.segment_sum.py_func, (a(dt), a(it), a(dt)) + (i64,) * 3))
        out.append(("one_hot:%s:%s" % (it, dt), gather.one_hot.py_func, (a(it), a(dt), a(dt), a(dt)) + (i64,) * 3))
    return out


def layout_cases():
    """The strided copy of the layout ops (kernels/cuda/layout.py), per element type."""
    from numba import types
    from numba.np.numpy_support import from_dtype
    from nbflow.kernels.cuda import layout
    i64, i64a = types.int64, types.Array(types.int64, 1, "C")
    out = []
    for dt in (np.float32, np.float64, np.int32, np.int64, np.bool_):
        arr = types.Array(from_dtype(np.dtype(dt)), 1, "C")
        out.append(("layout:strided_copy:%s" % np.dtype(dt).name, layout.strided_copy.py_func,
                    (arr, i64, i64a, arr, i64, i64a, i64a, i64)))
    return out


def optimizer_cases(dt, arr):
    """Every Apply* update (kernels/cuda/optim.py): arrays and one-element scalars, int flags, n."""
    from numba import types
    from nbflow.kernels.cuda import optim
    out = []
    for name, (args, scalars, flags, _, _) in sorted(optim.UPDATES.items()):
        sig = (arr,) * len(args) + (types.int64,) * (len(flags) + 1)
        out.append(("optim:%s:%s" % (name, np.dtype(dt).name), optim.get_kernel(name, dt).py_func, sig))
    return out


def row_cases(dt, arr):
    """Softmax / LogSoftmax and the cross-entropies (kernels/cuda/nn.py)."""
    from numba import types
    from nbflow.kernels.cuda import nn
    i64, name = types.int64, np.dtype(dt).name
    out = [("softmax:%s" % name, nn.get_kernel("softmax", dt).py_func, (arr, arr, i64, i64, i64)),
           ("xent:%s" % name, nn.get_kernel("xent", dt).py_func, (arr, arr, arr, arr, i64, i64))]
    for lab in (types.int32, types.int64):
        out.append(("sparse_xent:%s:%s" % (name, lab), nn.get_kernel("sparse_xent", dt).py_func,
                    (arr, types.Array(lab, 1, "C"), arr, arr, i64, i64)))
    return out


class _FixedDevice:
    """Stands for the current device while compiling for ``cc`` without a driver (see fixed_cc)."""

    def __init__(self, cc):
        self.compute_capability = cc


@contextlib.contextmanager
def fixed_cc(cc):
    """numba-cuda 0.30.4 compiles a device function a kernel calls (numba.cuda.random's
    xoroshiro128p draws) for ``get_current_device().compute_capability``, which needs a
    driver; ``compile_ptx`` itself takes ``cc``. With no driver, this check names the device
    function's cc too, by standing in for the current device inside the dispatcher module
    (this process only; a real GPU run needs nothing of the kind)."""
    from numba.cuda import dispatcher
    saved = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: _FixedDevice(cc)
    try:
        yield
    finally:
        dispatcher.get_current_device = saved


def ptxas_info(ptxas, ptx, cc):
    """(registers, shared bytes) reported by ``ptxas -v``."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "k.ptx")
        with open(src, "w") as f:
            f.write(ptx)
        proc = subprocess.run([ptxas, "-v", "-arch=sm_%d%d" % cc, src, "-o", os.path.join(d, "k.cubin")],
                              capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError("ptxas failed: %s" % proc.stderr[-2000:])
    regs = re.search(r"Used (\d+) registers", proc.stderr)
    smem = re.search(r"(\d+) bytes smem", proc.stderr)
    return int(regs.group(1)) if regs else 0, int(smem.group(1)) if smem else 0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--all-cc", action="store_true", help="every kernel for every cc (slower)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        sys.exit("compile_ptx does not work under the simulator: unset NUMBA_ENABLE_CUDASIM")
    from numba import cuda
    ptxas = find_ptxas()
    t0 = time.time()
    ew_cases, skipped = elementwise_cases()
    wide = static_cases() + fused_cases()
    rows, failures = [], []
    for name, func, sig in wide + ew_cases:
        ccs = CCS if (args.all_cc or not name.startswith("ew:")) else ((8, 0),)
        for cc in ccs:
            try:
                with fixed_cc(cc):
                    ptx, _ = cuda.compile_ptx(func, sig, cc=cc)
                regs, smem = ptxas_info(ptxas, ptx, cc) if ptxas else (None, None)
                rows.append({"kernel": name, "cc": "%d.%d" % cc, "registers": regs, "shared_bytes": smem})
            except Exception as e:  # noqa: BLE001
                failures.append({"kernel": name, "cc": "%d.%d" % cc, "error": "%s: %s" % (type(e).__name__,
                                                                                       str(e)[:300])})
    print("%-44s %4s %9s %12s" % ("kernel", "cc", "registers", "shared bytes"))
    for r in rows:
        print("%-44s %4s %9s %12s" % (r["kernel"], r["cc"], r["registers"], r["shared_bytes"]))
    for name, why in skipped:
        print("not a GPU kernel: %s (%s)" % (name, why))
    for f in failures:
        print("FAILED %s cc %s: %s" % (f["kernel"], f["cc"], f["error"]))
    print("%d compilations, %d failures, ptxas: %s, %.1f s" % (len(rows) + len(failures), len(failures),
                                                              ptxas or "not found", time.time() - t0))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "failures": failures, "skipped": skipped, "ptxas": ptxas}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
