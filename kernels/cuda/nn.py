"""Row-wise CUDA kernels: Softmax / LogSoftmax and the fused softmax cross-entropies.

One block per row (grid-stride over rows) of a C-contiguous ``(rows, n)``
view, the classes along the last axis: the block's threads stride over the
row and combine their partial maximum, then partial sum of ``exp(x - max)``
(and, for the dense cross-entropy, of ``labels * log-probabilities``) in a
shared-memory tree of ``THREADS`` entries, as the reductions do
(kernels/cuda/reduce.py); a final pass writes the outputs. The row maximum
is subtracted first, as on the CPU (kernels/cpu/nn.py). Sparse labels outside
``[0, n)`` give NaN in that row's loss and backprop, as TF's GPU kernel does
(the CPU raises InvalidArgumentError: a GPU check would need a copy back and
a wait every step).
"""
import numpy as np

from nbflow.kernels.cpu.codegen import load_generated
from nbflow.kernels.cuda.launch import MAX_BLOCKS, THREADS

_MAX = "a if (a >= b) | (a != a) else b"
_SUM = "a + b"


def _tree(value, combine, result, indent="        "):
    """Lines combining every thread's ``value`` into ``result`` (all threads see it)."""
    body = ["buf[tid] = %s" % value, "cuda.syncthreads()", "s = THREADS // 2", "while s > 0:",
            "    if tid < s:", "        a = buf[tid]", "        b = buf[tid + s]", "        buf[tid] = %s" % combine,
            "    cuda.syncthreads()", "    s = s // 2", "%s = buf[0]" % result,
            "cuda.syncthreads()"]  # buf is reused by the next tree
    return "\n".join(indent + ln for ln in body)


def _strided(init, update, indent="        "):
    """Lines accumulating ``acc`` over this thread's elements of the row."""
    body = ["acc = %s" % init, "k = tid", "while k < n:", "    b = x[base + k]", "    a = acc",
            "    acc = %s" % update, "    k += THREADS"]
    return "\n".join(indent + ln for ln in body)


_HEAD = '''import math
import numpy as np
from numba import cuda

THREADS = {threads}


@cuda.jit
def kernel({args}):
    buf = cuda.shared.array(THREADS, dtype=np.{dtype})
    tid = cuda.threadIdx.x
    r = cuda.blockIdx.x
    while r < rows:
        base = r * n
{max_lines}
{max_tree}
{sum_lines}
{sum_tree}
'''

_TAIL = {
    "softmax": '''        inv = T(1) / total
        lse = m + T(math.log(total))
        k = tid
        while k < n:
            if log:
                out[base + k] = x[base + k] - lse
            else:
                out[base + k] = T(math.exp(x[base + k] - m)) * inv
            k += THREADS
        r += cuda.gridDim.x
''',
    "xent": '''        logsum = T(math.log(total))
        inv = T(1) / total
        acc = T(0)
        k = tid
        while k < n:
            y = labels[base + k]
            d = x[base + k] - m
            back[base + k] = T(math.exp(d)) * inv - y
            acc += y * (logsum - d)
            k += THREADS
{loss_tree}
        if tid == 0:
            loss[r] = row_loss
        r += cuda.gridDim.x
''',
    "sparse_xent": '''        logsum = T(math.log(total))
        inv = T(1) / total
        lab = labels[r]
        valid = lab >= 0 and lab < n
        k = tid
        while k < n:
            if valid:
                e = T(math.exp(x[base + k] - m)) * inv
                back[base + k] = e - T(1) if k == lab else e
            else:
                back[base + k] = T(np.nan)
            k += THREADS
        if tid == 0:
            loss[r] = logsum - (x[base + lab] - m) if valid else T(np.nan)
        r += cuda.gridDim.x
''',
}
_ARGS = {"softmax": "x, out, rows, n, log", "xent": "x, labels, loss, back, rows, n",
         "sparse_xent": "x, labels, loss, back, rows, n"}

_kernels = {}


def generate_source(kind, dtype):
    name = np.dtype(dtype).name
    src = _HEAD.format(threads=THREADS, args=_ARGS[kind], dtype=name,
                       max_lines=_strided("T(-np.inf)", _MAX), max_tree=_tree("acc", _MAX, "m"),
                       sum_lines=_strided("T(0)", "a + T(math.exp(b - m))"), sum_tree=_tree("acc", _SUM, "total"))
    src = src.replace("THREADS = ", "T = np.%s\nTHREADS = " % name, 1)
    return src + _TAIL[kind].replace("{loss_tree}", _tree("acc", _SUM, "row_loss"))


def get_kernel(kind, dtype):
    key = (kind, np.dtype(dtype).str)
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = load_generated(generate_source(kind, dtype), "cuda_nn").kernel
    return k


def blocks_for(rows):
    return max(1, min(rows, MAX_BLOCKS * (16 if THREADS > 32 else 1)))
