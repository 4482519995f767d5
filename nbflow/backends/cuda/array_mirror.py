"""GPU MirrorPad, MirrorPadGrad and ReverseSequence: the kernels of nbflow/kernels/cuda/gather_nd.py.

MirrorPad is one gather over the padded output (each element finds its mirror
source, all axes at once); its gradient one atomic scatter-add back (float32,
float64, int32). The paddings are read on the host (a plan-time constant,
else a small copy back per run, as TF keeps them in host memory) and checked
as the CPU checks them. ReverseSequence copies ``seq_lengths`` back each run
(one sync; it is a batch-sized vector) to check them as the CPU does: TF's GPU
kernel does not check, and a length past the axis would read out of bounds.
"""
import numpy as np

from nbflow.backends.cuda.array_gather import _host_int, _kind_ok, _Outputs, zero_filler
from nbflow.backends.cuda.array_gather_nd import DimsCache, atomic_ok
from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cuda import gather_nd as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import array_pad_ops as P
from nbflow.ops import sequence_ops
from nbflow.ops.array_common import _prod
from nbflow.ops.array_pad_ops import _mirror_steps, _paddings


def _launch_mirror(kernel, src, dst, in_dims, pads, out_dims, dims_cache, reflect, total):
    blocks, threads = grid_1d(total)
    kernel[blocks, threads](flat(src), dims_cache.get(in_dims), dims_cache.get([a for a, _ in pads]),
                            dims_cache.get(out_dims), flat(dst), len(in_dims), reflect, total)


@register_kernel(P.MirrorPad, device="GPU", accepts=lambda op: _kind_ok(op, 0))
def mirror_pad_kernel(ctx):
    mode = ctx.attrs["mode"]
    reflect = 1 if mode == "REFLECT" else 0
    fail = ctx.run_error_factory()
    outs = _Outputs(ctx)
    dims_cache = DimsCache(ctx.device)
    known = ctx.value(1)

    def run(x, paddings):
        dims = tuple(int(d) for d in x.shape)
        pads = _paddings(_host_int(known, paddings), len(dims), fail)
        _, out_dims = _mirror_steps(dims, pads, mode, fail)  # checks each padding against its dim
        out = outs.get(tuple(out_dims))
        if out.size:
            _launch_mirror(K.mirror_pad, x, out, dims, pads, out_dims, dims_cache, reflect, int(out.size))
        return out
    return run


@register_kernel(P.MirrorPadGrad, device="GPU", accepts=lambda op: atomic_ok(op, 0))
def mirror_pad_grad_kernel(ctx):
    mode = ctx.attrs["mode"]
    reflect = 1 if mode == "REFLECT" else 0
    fail = ctx.run_error_factory()
    outs = _Outputs(ctx)
    zero = zero_filler(ctx.out_np_dtype(0))
    dims_cache = DimsCache(ctx.device)
    known = ctx.value(1)

    def run(g, paddings):
        g_dims = tuple(int(d) for d in g.shape)
        pads = _paddings(_host_int(known, paddings), len(g_dims), fail)
        dims = [d - a - b for d, (a, b) in zip(g_dims, pads)]
        if any(d < 0 for d in dims):
            raise fail("MirrorPadGrad: paddings %s exceed the gradient's shape %s" % (pads, list(g_dims)))
        _mirror_steps(dims, pads, mode, fail)
        out = outs.get(tuple(dims))
        zero(out)
        if g.size:
            _launch_mirror(K.mirror_pad_grad, g, out, dims, pads, g_dims, dims_cache, reflect, int(g.size))
        return out
    return run


@register_kernel(sequence_ops.ReverseSequence, device="GPU",
                 accepts=lambda op: _kind_ok(op, 0) and _kind_ok(op, 1, "i"))
def reverse_sequence_kernel(ctx):
    seq_dim, batch_dim = ctx.attrs["seq_dim"], ctx.attrs["batch_dim"]
    outs = _Outputs(ctx)

    def run(x, lengths):
        shape = tuple(int(d) for d in x.shape)
        if int(lengths.shape[0]) != shape[batch_dim]:
            raise ctx.op_error(errors.InvalidArgumentError, "len(seq_lengths) %d != input.dims(%d) %d"
                               % (lengths.shape[0], batch_dim, shape[batch_dim]))
        host = _host_int(None, lengths)
        if host.size and (host.max() > shape[seq_dim] or host.min() < 0):
            raise ctx.op_error(errors.InvalidArgumentError, "seq_lengths must be in [0, input.dims(%d)=%d], got %s"
                               % (seq_dim, shape[seq_dim], host.tolist()))
        out = outs.get(shape)
        total = int(out.size)
        if total:
            blocks, threads = grid_1d(total)
            K.reverse_sequence[blocks, threads](flat(x), flat(lengths), flat(out), _prod(shape[batch_dim + 1:]),
                                                shape[batch_dim], _prod(shape[seq_dim + 1:]), shape[seq_dim], total)
        return out
    return run
