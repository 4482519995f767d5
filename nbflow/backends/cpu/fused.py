"""CPU binding of fused element-wise groups (found by nbflow/compiler/fusion.py).

The members' scalar expressions become statements of one generated loop
(nbflow/kernels/cpu/elementwise.py); values used outside the group are its
outputs, and full-size sums/means of a member are accumulated in the same loop.
"""
import sys

import numpy as np

from nbflow.backends.registry import register_fused_binder
from nbflow.kernels.cpu import elementwise as ew_kernels


def _bind_with_reductions(group, kernel, in_tensors, out_tensors, slot_of, out_np, alloc):
    """Step of a group that also reduces: element-wise outputs, then the sums."""
    red_tensors = [op.outputs[0] for op in group.reductions]
    group.inputs, group.outputs = in_tensors, out_tensors + red_tensors
    bufs = [alloc(group.shape, d) for d in out_np]
    reds = [np.empty(tuple(t.shape.as_list()) if t.shape.is_fully_defined() else (), dtype=t.dtype.as_numpy_dtype)
            for t in red_tensors]
    outs = bufs + reds
    in_slots = tuple(slot_of[t] for t in in_tensors)
    out_slots = tuple(slot_of[t] for t in group.outputs)

    def run(*args):
        kernel(*args, *outs)
        return outs
    if len(outs) == 1:
        r0 = outs[0]

        def run_one(*args):
            kernel(*args, r0)
            return r0
        return (run_one, in_slots, out_slots[0], 1), set()
    return (run, in_slots, out_slots, len(outs)), set()


def _recycler(shape, dtype):
    """New output arrays for fetched values, reusing last run's array when the
    caller has dropped every reference to it (so a loop that discards results
    allocates nothing, and a kept result is never overwritten)."""
    last = [None]

    def new_buffer():
        buf = last[0]
        # references: last[0], the local ``buf`` and getrefcount's argument
        if buf is None or sys.getrefcount(buf) > 3:
            buf = np.empty(shape, dtype=dtype)
            last[0] = buf
        return buf
    return new_buffer


def _np_name(dtype):
    name = np.dtype(dtype.as_numpy_dtype).name
    return "np.bool_" if name == "bool" else "np." + name


def bind_group(group, slot_of, slot_shapes, slot_values, used_outside, fetched_slots, alloc=None):
    """Generate the group's kernel and return ``(step, fresh output slots)``.

    ``used_outside(tensor, group)`` tells whether a member's value is read by
    anything outside the group (another step, or a fetch). Fetched outputs get
    a fresh array each run (handed to the caller without a copy); other
    outputs come from ``alloc(shape, dtype)`` (the memory planner) if given."""
    alloc = alloc or (lambda shp, dt: np.empty(shp, dtype=dt))
    # Keyed by slot, not tensor: after CSE two tensors may share one value.
    name_of = {}
    in_tensors = []
    statements = []
    for k, op in enumerate(group.ops):
        if op in group.reductions:
            continue
        args = []
        for t in op.inputs:
            sl = slot_of[t]
            if sl not in name_of:
                name_of[sl] = "x%d" % len(in_tensors)
                in_tensors.append(t)
            args.append(name_of[sl])
        out = op.outputs[0]
        expr = op.op_def.scalar_expr_for([t.dtype for t in op.inputs], args,
                                         [slot_values[slot_of[t]] for t in op.inputs])
        name_of[slot_of[out]] = "t%d" % k
        statements.append("t%d = %s(%s)" % (k, _np_name(out.dtype), expr))
    out_tensors = [op.outputs[0] for op in group.ops
                   if op not in group.reductions and used_outside(op.outputs[0], group)]
    if not out_tensors and not group.reductions:  # only an Operation was fetched
        out_tensors = [group.ops[-1].outputs[0]]
    sums = []
    for op in group.reductions:
        t = op.inputs[0]
        sl = slot_of[t]
        if sl not in name_of:  # summing a group input directly
            name_of[sl] = "x%d" % len(in_tensors)
            in_tensors.append(t)
        sums.append((name_of[sl], op.outputs[0].dtype.as_numpy_dtype, op.op_def.fusible_reduction == "mean"))
    in_np = [t.dtype.as_numpy_dtype for t in in_tensors]
    in_shapes = [slot_shapes[slot_of[t]].as_tuple() for t in in_tensors]
    out_np = [t.dtype.as_numpy_dtype for t in out_tensors]
    kernel, _ = ew_kernels.get_kernel(statements, [name_of[slot_of[t]] for t in out_tensors], in_np, in_shapes,
                                      out_np, group.shape, sums, threads=getattr(group, "threads", 1))
    group.source_path = ew_kernels.source_path(kernel)
    if group.reductions:
        return _bind_with_reductions(group, kernel, in_tensors, out_tensors, slot_of, out_np, alloc)
    group.inputs, group.outputs = in_tensors, out_tensors
    in_slots = tuple(slot_of[t] for t in in_tensors)
    out_slots = tuple(slot_of[t] for t in out_tensors)
    fresh = tuple(sl in fetched_slots for sl in out_slots)
    shape = group.shape
    k = ew_kernels.call_cell(kernel)  # k[0]: a tiny kernel's Python run until it is compiled
    if len(out_np) == 1:
        if fresh[0]:
            new_buffer = _recycler(shape, out_np[0])

            def run_fresh(*args):
                out = new_buffer()
                k[0](*args, out)
                return out
            return (run_fresh, in_slots, out_slots[0], 1), {out_slots[0]}
        out0 = alloc(shape, out_np[0])

        def run(*args):
            k[0](*args, out0)
            return out0
        return (run, in_slots, out_slots[0], 1), set()
    bufs = [_recycler(shape, d) if f else alloc(shape, d) for f, d in zip(fresh, out_np)]

    def run_multi(*args):
        outs = [b() if callable(b) else b for b in bufs]
        k[0](*args, *outs)
        return outs
    return (run_multi, in_slots, out_slots, len(bufs)), {sl for sl, f in zip(out_slots, fresh) if f}


register_fused_binder("CPU", bind_group)
