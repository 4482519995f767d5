"""GPU RandomUniform, RandomStandardNormal and TruncatedNormal (float32/float64), so
dropout masks and initializers are drawn on the device (nbflow/kernels/cuda/random.py).

Each op draws from its own stream -- generator states on the device, seeded
from the op's (seed, seed2) as TF does, a resource of the plan's manager under
the CPU streams' handle ("random", "", op name) -- so a Session's draws
continue across runs and a new Session starts over. The numbers differ from
the CPU's (another generator), as TF's GPU and CPU streams differ.
"""
import numpy as np

from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import random as K
from nbflow.ops import random_ops
from nbflow.ops.random_ops import _dims_value
from nbflow.state.resources import ResourceHandle

_KIND = {random_ops.RandomUniform: "uniform", random_ops.RandomStandardNormal: "normal",
         random_ops.TruncatedNormal: "truncated"}


class GPURandomStream:
    """A random op's generator states on the device (reset/snapshot/restore as RandomStream)."""

    def __init__(self, cuda, seed, seed2):
        self.cuda, self.seeds = cuda, (seed, seed2)
        from numba.cuda.random import create_xoroshiro128p_states
        self.states = create_xoroshiro128p_states(K.STATES, K.seed_of(seed, seed2))

    def reset(self):
        if self.seeds != (0, 0):
            from numba.cuda.random import init_xoroshiro128p_states
            init_xoroshiro128p_states(self.states, K.seed_of(*self.seeds))

    def snapshot(self):
        return self.states.copy_to_host()

    def restore(self, state):
        self.states.copy_to_device(state)


def _float_out(op):
    return op.outputs[0].dtype.as_numpy_dtype in (np.float32, np.float64)


@register_kernel(*_KIND, device="GPU", accepts=_float_out)
def random_kernel(ctx):
    seed, seed2 = ctx.attrs.get("seed", 0), ctx.attrs.get("seed2", 0)
    device = ctx.device
    handle = ResourceHandle("random", "", ctx.name)
    stream = ctx.resources.lookup_or_create(handle, lambda: GPURandomStream(device.cuda, seed, seed2))
    dtype = ctx.out_np_dtype(0)
    kernel = K.get_kernel(_KIND[ctx.op_def], dtype)
    known = ctx.output_shapes[0].as_tuple() if ctx.output_shapes[0].is_fully_defined() else None
    outs = {}

    def run(shape):
        dims = known if known is not None else _dims_value(
            shape.copy_to_host() if is_device_array(shape) else shape)
        out = device.empty(dims, dtype) if ctx.fresh_outputs else outs.get(dims)
        if out is None:
            out = outs[dims] = device.empty(dims, dtype)
        n = int(out.size)
        if n:
            blocks, threads = K.grid(n)
            kernel[blocks, threads](stream.states, out.reshape(n), n)
        return out
    return run
