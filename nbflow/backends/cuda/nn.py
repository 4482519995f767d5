"""GPU Softmax / LogSoftmax (last axis) and the fused softmax cross-entropies
(nbflow/kernels/cuda/nn.py), float32 and float64.

Their gradients need no kernel of their own: they are built from ops the GPU
runs (element-wise, Sum over the last axis, Reshape), and the cross-entropies
hand the gradient its ``backprop`` output. Softmax over another axis (nbflow's
``axis`` attr) and float16 stay on the host.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import nn as K
from nbflow.ops import nn_softmax_ops as S

_FLOATS = (np.float32, np.float64)


def _float_logits(op):
    return op.inputs[0].dtype.as_numpy_dtype in _FLOATS


def _last_axis(op):
    rank = op.inputs[0].shape.ndims
    axis = op.attrs.get("axis", -1)
    return _float_logits(op) and (axis == -1 or (rank is not None and axis == rank - 1))


class _Buffers:
    """Output device arrays per shape: bound once and reused every step (fresh per call in eager mode)."""

    def __init__(self, ctx):
        self.device, self.fresh, self.cache = ctx.device, ctx.fresh_outputs, {}

    def get(self, shapes, dtype):
        if self.fresh:
            return [self.device.empty(s, dtype) for s in shapes]
        key = tuple(shapes)
        bufs = self.cache.get(key)
        if bufs is None:
            bufs = self.cache[key] = [self.device.empty(s, dtype) for s in shapes]
        return bufs


def _rows(shape):
    shape = tuple(shape)  # the simulator's shapes take no negative index
    n = shape[-1]
    return (int(np.prod(shape[:-1], dtype=np.int64)), n)


@register_kernel(S.Softmax, S.LogSoftmax, device="GPU", accepts=_last_axis)
def softmax_kernel(ctx):
    dtype = ctx.out_np_dtype(0)
    kernel = K.get_kernel("softmax", dtype)
    log = int(ctx.op_def.log)
    bufs = _Buffers(ctx)

    def run(x):
        if x.ndim < 1:
            raise ValueError("logits must have >= 1 dimension, got shape %s" % list(x.shape))
        (out,) = bufs.get([tuple(x.shape)], dtype)
        rows, n = _rows(x.shape)
        if rows and n:
            kernel[K.blocks_for(rows), K.THREADS](x.reshape(x.size), out.reshape(out.size), rows, n, log)
        return out
    return run


@register_kernel(S.SoftmaxCrossEntropyWithLogits, device="GPU", accepts=_float_logits)
def softmax_xent_kernel(ctx):
    dtype = ctx.out_np_dtype(0)
    kernel = K.get_kernel("xent", dtype)
    bufs = _Buffers(ctx)

    def run(logits, labels):
        if logits.shape != labels.shape:
            raise ValueError("logits and labels must be the same shape, got %s and %s"
                             % (list(logits.shape), list(labels.shape)))
        if logits.ndim < 1:
            raise ValueError("logits and labels must have rank >= 1, got a scalar")
        loss, back = bufs.get([tuple(logits.shape)[:-1], tuple(logits.shape)], dtype)
        rows, n = _rows(logits.shape)
        if rows:
            if n == 0:
                raise NotImplementedError("GPU SoftmaxCrossEntropyWithLogits with 0 classes")
            kernel[K.blocks_for(rows), K.THREADS](logits.reshape(logits.size), labels.reshape(labels.size),
                                                  loss.reshape(rows), back.reshape(back.size), rows, n)
        return loss, back
    return run


@register_kernel(S.SparseSoftmaxCrossEntropyWithLogits, device="GPU", accepts=_float_logits)
def sparse_softmax_xent_kernel(ctx):
    dtype = ctx.out_np_dtype(0)
    kernel = K.get_kernel("sparse_xent", dtype)
    bufs = _Buffers(ctx)

    def run(logits, labels):
        if logits.ndim < 1 or tuple(logits.shape)[:-1] != tuple(labels.shape):
            raise ValueError("labels shape %s must equal logits shape %s without its last dimension"
                             % (list(labels.shape), list(logits.shape)))
        loss, back = bufs.get([tuple(labels.shape), tuple(logits.shape)], dtype)
        rows, n = _rows(logits.shape)
        if rows:
            kernel[K.blocks_for(rows), K.THREADS](logits.reshape(logits.size), labels.reshape(labels.size),
                                                  loss.reshape(rows), back.reshape(back.size), rows, n)
        return loss, back
    return run
