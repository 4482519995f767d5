"""GPU variables: VariableV2 reads, Assign/AssignAdd/AssignSub, IsVariableInitialized,
InitializedValue.

A variable placed on the GPU keeps its value in its VariableResource as a
numba-cuda device array: reads hand that array to the next kernel, updates
write into it in place, and the compiler copies it to the host only where a
host op or a fetch reads it (a Saver's SaveV2, ``sess.run(v)``). Its
initializer's value (a CPU random op's, a constant's) arrives through a copy
and is written into the device buffer. Which variables live on the GPU is
placement's choice (compiler/placement.py: only when every op updating the
variable has a GPU kernel). An eager variable captured by a ``tf.function``
trace lives where eager placement put it at creation
(runtime/eager_placement.py): its VariableV2 op in the trace names that device
(eager/func_graph.py), and this kernel takes it when that is a GPU.
"""
import numpy as np

from nbflow.backends.cpu.state import _variable, uninitialized_error
from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.framework.device import DeviceSpec
from nbflow.kernels.cuda import elementwise as ew
from nbflow.ops import state_ops

_GPU_DTYPES = frozenset(np.dtype(d) for d in (np.float32, np.float64, np.int32, np.int64))


def _gpu_variable(op):
    """Numeric variables of a Session's graph, of eager mode (``op.graph`` None: eager
    placement asks) and a tf.function trace's captures that live on a GPU."""
    if getattr(op.graph, "variable_captures", None) is not None:  # a FuncGraph (nbflow/eager/func_graph.py)
        # the captured eager variable's home, set by the capture
        return bool(op.device) and DeviceSpec.from_string(op.device).device_type == "GPU"
    try:
        return np.dtype(op.outputs[0].dtype.as_numpy_dtype) in _GPU_DTYPES
    except (AttributeError, TypeError):
        return False


def _on_device(ctx, var, value):
    """The variable's value, which must be a device array once a GPU kernel runs it."""
    if value is not None and not is_device_array(value):
        raise ctx.op_error(errors.InternalError, "variable %s holds a host array but is placed on %s: its value "
                           "was written by a host kernel" % (var.name, ctx.device.name))
    return value


@register_kernel(state_ops.VariableV2, device="GPU", accepts=_gpu_variable)
def variable_kernel(ctx):
    var = _variable(ctx, ctx.own_handle)
    if ctx.value_read:
        name = ctx.name

        def check():
            if var.value is None:
                raise uninitialized_error(ctx, name)
        ctx.prechecks.append(check)
    return lambda: _on_device(ctx, var, var.value)


def _ref_ok(op):
    src = getattr(op.inputs[0], "op", None)  # None: an eager op, whose variable is on the GPU already
    return _gpu_variable(src) if src is not None and src.type == "VariableV2" else True


@register_kernel(state_ops.Assign, device="GPU", accepts=_ref_ok)
def assign_kernel(ctx):
    var = _variable(ctx, ctx.input_handles[0])
    validate = ctx.attrs.get("validate_shape", True)
    declared = ctx.input_shapes[0]
    device = ctx.device

    def run(ref, value):
        cur = _on_device(ctx, var, var.value)
        if cur is not None and cur.shape == value.shape:
            if cur.size:
                cur.copy_to_device(value)  # device to device, in the variable's own buffer
            return cur
        if validate and not declared.is_compatible_with(value.shape):
            raise ctx.op_error(errors.InvalidArgumentError,
                               "Assign requires shapes of both tensors to match. lhs shape= %s rhs shape= %s"
                               % (declared, list(value.shape)))
        new = device.empty(value.shape, value.dtype)  # never the value's buffer: a copy's is reused next step
        if new.size:
            new.copy_to_device(value)
        var.value = new
        return new
    return run


@register_kernel(state_ops.AssignAdd, state_ops.AssignSub, device="GPU", accepts=_ref_ok)
def assign_update_kernel(ctx):
    expr = "x0 + x1" if ctx.op_def is state_ops.AssignAdd else "x0 - x1"
    dtype = ctx.out_np_dtype(0)
    kernels = {}

    def run(ref, value):
        if ref.shape != value.shape:
            raise ctx.op_error(errors.InvalidArgumentError,
                               "Must have the same shape: %s vs %s" % (ref.shape, value.shape))
        shape = tuple(ref.shape)
        launch = kernels.get(shape)
        if launch is None:
            kernel, patterns = ew.get_kernel([], [expr], [dtype, dtype], [shape, shape], [dtype], shape)
            launch = kernels[shape] = ew.launcher(kernel, [shape, shape], patterns, shape)
        launch((ref, value), (ref,))  # element i reads and writes only element i: in place is safe
        return ref
    return run


@register_kernel(state_ops.IsVariableInitialized, device="GPU", accepts=_ref_ok)
def is_initialized_kernel(ctx):
    var = _variable(ctx, ctx.input_handles[0])
    device = ctx.device
    answers = {flag: device.from_host(np.array(flag)) for flag in (False, True)}
    return lambda ref: answers[var.value is not None]


@register_kernel(state_ops.InitializedValue, device="GPU", accepts=_ref_ok)
def initialized_value_kernel(ctx):
    var = _variable(ctx, ctx.input_handles[0])

    def run(ref, init):
        v = var.value
        return init if v is None else _on_device(ctx, var, v)
    return run
