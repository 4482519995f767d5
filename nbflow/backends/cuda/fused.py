"""GPU binding of fused element-wise groups (found by nbflow/compiler/fusion.py).

The members' scalar expressions (translated for device code) become the
statements of one generated grid-stride kernel (nbflow/kernels/cuda/
elementwise.py), with numpy broadcasting of the group's inputs; values used
outside the group are its outputs. Full sums/means are not fused on the GPU
yet (``reductions=False``): they run as their own reduction kernels.
"""
import numpy as np

from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.cuda.elementwise import gpu_expression
from nbflow.backends.registry import register_fused_binder
from nbflow.kernels.cuda import elementwise as ew
from nbflow.kernels.cuda.launch import flat


def _np_name(dtype):
    name = np.dtype(dtype.as_numpy_dtype).name
    return "np.bool_" if name == "bool" else "np." + name


def _host_value(v):
    """A constant input's value for ``expr_for`` (its slot on the GPU holds a device copy)."""
    return v.copy_to_host() if is_device_array(v) else v


def bind_group(group, slot_of, slot_shapes, slot_values, used_outside, fetched_slots, alloc=None):
    """Generate the group's kernel; ``(step, fresh output slots)`` as the CPU binder."""
    device = group.device
    name_of, in_tensors, statements = {}, [], []
    reductions = list(getattr(group, "reductions", ()))
    for k, op in enumerate(group.ops):
        if op in reductions:  # accumulated in the loop (below), not a statement
            continue
        args = []
        for t in op.inputs:
            sl = slot_of[t]
            if sl not in name_of:
                name_of[sl] = "x%d" % len(in_tensors)
                in_tensors.append(t)
            args.append(name_of[sl])
        out = op.outputs[0]
        expr = gpu_expression(op.op_def, [t.dtype for t in op.inputs], args,
                              [_host_value(slot_values[slot_of[t]]) for t in op.inputs])
        name_of[slot_of[out]] = "t%d" % k
        statements.append("t%d = %s(%s)" % (k, _np_name(out.dtype), expr))
    out_tensors = [op.outputs[0] for op in group.ops
                   if op not in reductions and used_outside(op.outputs[0], group)]
    if not out_tensors and not reductions:  # only an Operation was fetched
        out_tensors = [group.ops[-1].outputs[0]]
    sums = []
    for op in reductions:
        sl = slot_of[op.inputs[0]]
        if sl not in name_of:  # summing a group input directly
            name_of[sl] = "x%d" % len(in_tensors)
            in_tensors.append(op.inputs[0])
        sums.append(name_of[sl])
    in_np = [t.dtype.as_numpy_dtype for t in in_tensors]
    in_shapes = [slot_shapes[slot_of[t]].as_tuple() for t in in_tensors]
    out_np = [t.dtype.as_numpy_dtype for t in out_tensors]
    kernel, patterns = ew.get_kernel(statements, [name_of[slot_of[t]] for t in out_tensors], in_np, in_shapes,
                                     out_np, group.shape, sums)
    group.source_path = ew.source_path(kernel)
    launch = ew.launcher(kernel, in_shapes, patterns, group.shape)
    outs = tuple(device.empty(group.shape, d) for d in out_np)
    if reductions:
        return _bind_with_sums(group, device, launch, in_tensors, out_tensors, outs, slot_of)
    group.inputs, group.outputs = in_tensors, out_tensors
    in_slots = tuple(slot_of[t] for t in in_tensors)
    out_slots = tuple(slot_of[t] for t in out_tensors)
    if len(outs) == 1:
        out0 = outs[0]

        def run(*args):
            launch(args, outs)
            return out0
        return (run, in_slots, out_slots[0], 1), set()

    def run_multi(*args):
        launch(args, outs)
        return list(outs)
    return (run_multi, in_slots, out_slots, len(outs)), set()


def _bind_with_sums(group, device, launch, in_tensors, out_tensors, outs, slot_of):
    """Step of a group that also sums: the fused kernel (element-wise outputs and per-block
    partials), then one finishing kernel per sum writing its (scalar) output."""
    n = int(np.prod(group.shape, dtype=np.int64))
    n_parts = ew.partial_blocks(n)
    red_tensors = [op.outputs[0] for op in group.reductions]
    parts = [device.empty((n_parts,), np.float64) for _ in red_tensors]
    red_outs = [device.empty(tuple(t.shape.as_list()), t.dtype.as_numpy_dtype) for t in red_tensors]
    means = [op.op_def.fusible_reduction == "mean" for op in group.reductions]
    finishes = [ew.finish_kernel(t.dtype.as_numpy_dtype) for t in red_tensors]
    # the mean of nothing is NaN, its sum 0 (TF's reductions of an empty tensor)
    scales = [(1.0 / n if n else float("nan")) if mean else 1.0 for mean in means]
    empty = [device.from_host(np.full(tuple(t.shape.as_list()), np.nan if mean else 0, t.dtype.as_numpy_dtype))
             for t, mean in zip(red_tensors, means)] if not n else None
    group.inputs, group.outputs = in_tensors, out_tensors + red_tensors
    in_slots = tuple(slot_of[t] for t in in_tensors)
    out_slots = tuple(slot_of[t] for t in group.outputs)
    all_outs = list(outs) + (empty if empty is not None else red_outs)
    launch_outs = tuple(outs) + tuple(parts)

    def run(*args):
        if n:
            launch(args, launch_outs)
            for finish, part, out, scale in zip(finishes, parts, red_outs, scales):
                finish[1, ew.THREADS](part, n_parts, flat(out), scale)
        return all_outs[0] if len(all_outs) == 1 else all_outs
    return (run, in_slots, out_slots[0] if len(all_outs) == 1 else out_slots, len(all_outs)), set()


register_fused_binder("GPU", bind_group, reductions=True)
