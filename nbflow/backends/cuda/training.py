"""GPU kernels of the optimizer updates (ApplyGradientDescent, ApplyAdam, ... all of
nbflow/ops/training_ops.py): in place on the variable's and its slots' device arrays.

The shape checks are the CPU's (backends/cpu/training.py ``checked_update``); the
update is one generated grid-stride kernel (nbflow/kernels/cuda/optim.py)
reading the scalar hyper-parameters from device memory.
"""
import numpy as np

from nbflow.backends.cpu.training import checked_update
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import optim as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import training_ops as T

_FLAGS = {"use_nesterov": False, "update_slots": True}


def _float_refs(op):
    return all(t.dtype.as_numpy_dtype in (np.float32, np.float64) for t in op.inputs)


def apply_kernel(ctx):
    name = ctx.op_def.type
    _, _, flags, _, _ = K.UPDATES[name]
    flag_args = tuple(int(bool(ctx.attrs.get(f, _FLAGS[f]))) for f in flags)
    kernel = K.get_kernel(name, ctx.out_np_dtype(0))

    def update(*args):
        n = int(args[0].size)
        if n:
            blocks, threads = grid_1d(n)
            kernel[blocks, threads](*[flat(a) for a in args], *flag_args, n)
    return checked_update(ctx, update)


register_kernel(*[getattr(T, n) for n in K.UPDATES], device="GPU", accepts=_float_refs)(apply_kernel)
