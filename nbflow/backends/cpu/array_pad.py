"""CPU kernels of MirrorPad and MirrorPadGrad (nbflow/ops/array_pad_ops.py): one
gather (its gradient: one segment sum) per padded axis. Pad and PadV2 are
layout ops (array_layout.py)."""
import numpy as np

from nbflow.backends.cpu.array_gather import _gather3
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cpu import array as K
from nbflow.ops import array_pad_ops as P
from nbflow.ops.array_common import _known
from nbflow.ops.array_pad_ops import _mirror_steps, _paddings


@register_kernel(P.MirrorPad)
def _mirror_pad(ctx):
    mode = ctx.attrs["mode"]
    fail = ctx.run_error_factory()
    fixed = ctx.value(1)
    dims = ctx.dims(0)
    if _known(dims) and fixed is not None:
        steps, _ = _mirror_steps(dims, _paddings(fixed, len(dims), fail), mode, fail)
        if steps:
            # buffers for the intermediate results and the output, allocated once
            npd = ctx.out_np_dtype(0)
            bufs = [np.empty(after, dtype=npd) for _, _, after in steps[:-1]]
            last = ctx.static_buffer(0)
            bufs.append(last if last is not None else np.empty(steps[-1][2], dtype=npd))

            def run_static(x, p):
                cur = x
                for (before, idx, _), nxt in zip(steps, bufs):
                    _gather3(cur.reshape(before), idx, nxt.reshape(before[0], len(idx), before[2]))
                    cur = nxt
                return cur
            return run_static

    def run(x, p):
        steps, out_shape = _mirror_steps(x.shape, _paddings(fixed if fixed is not None else p, x.ndim, fail),
                                         mode, fail)
        cur = x
        for before, idx, after in steps:
            nxt = np.empty(after, dtype=x.dtype)
            _gather3(cur.reshape(before), idx, nxt.reshape(before[0], len(idx), before[2]))
            cur = nxt
        return cur if steps else x.copy()
    return run


@register_kernel(P.MirrorPadGrad)
def _mirror_pad_grad(ctx):
    mode = ctx.attrs["mode"]
    fail = ctx.run_error_factory()

    def run(g, p):
        pads = _paddings(p, g.ndim, fail)
        dims = [d - a - b for d, (a, b) in zip(g.shape, pads)]
        if any(d < 0 for d in dims):
            raise fail("MirrorPadGrad: paddings %s exceed the gradient's shape %s" % (pads, list(g.shape)))
        steps, _ = _mirror_steps(dims, pads, mode, fail)
        cur = g
        for before, idx, after in reversed(steps):
            nxt = np.empty(before, dtype=g.dtype)
            bad = K.segment_sum(cur.reshape(before[0], len(idx), before[2]), idx, nxt)
            assert bad < 0
            cur = nxt
        return cur.reshape(dims) if steps else g.copy()
    return run
