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
    for k, op in enumerate(group.ops):
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
    out_tensors = [op.outputs[0] for op in group.ops if used_outside(op.outputs[0], group)]
    if not out_tensors:  # only an Operation was fetched
        out_tensors = [group.ops[-1].outputs[0]]
    in_np = [t.dtype.as_numpy_dtype for t in in_tensors]
    in_shapes = [slot_shapes[slot_of[t]].as_tuple() for t in in_tensors]
    out_np = [t.dtype.as_numpy_dtype for t in out_tensors]
    kernel, patterns = ew.get_kernel(statements, [name_of[slot_of[t]] for t in out_tensors], in_np, in_shapes,
                                     out_np, group.shape)
    group.inputs, group.outputs = in_tensors, out_tensors
    group.source_path = ew.source_path(kernel)
    launch = ew.launcher(kernel, in_shapes, patterns, group.shape)
    in_slots = tuple(slot_of[t] for t in in_tensors)
    out_slots = tuple(slot_of[t] for t in out_tensors)
    outs = tuple(device.empty(group.shape, d) for d in out_np)
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


register_fused_binder("GPU", bind_group, reductions=False)
