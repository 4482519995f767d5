"""GPU RandomUniform, RandomStandardNormal and TruncatedNormal (float32/float64), so
dropout masks and initializers are drawn on the device (nbflow/kernels/cuda/random.py);
RandomUniformInt (int32/int64), Multinomial (float32/float64 logits) and RandomShuffle
(a bitonic sort of random keys, then a gather of the rows).

Each op draws from its own stream -- generator states on the device, seeded
from the op's (seed, seed2) as TF does, a resource of the plan's manager under
the CPU streams' handle ("random", "", op name) -- so a Session's draws
continue across runs and a new Session starts over. The numbers differ from
the CPU's (another generator), as TF's GPU and CPU streams differ.
RandomUniformInt's bounds and Multinomial's ``num_samples`` are read on the
host (constants, else copied back: TF keeps them in host memory) and checked
there with the CPU kernel's messages.
"""
import numpy as np

from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.cuda.host_scalars import HostScalars
from nbflow.backends.cuda.nn import _Buffers
from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cuda import gather as G
from nbflow.kernels.cuda import random as K
from nbflow.kernels.cuda.launch import flat, grid_1d
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


def _stream(ctx):
    """The op's GPURandomStream (created on first use, kept across runs)."""
    seed, seed2 = ctx.attrs.get("seed", 0), ctx.attrs.get("seed2", 0)
    handle = ResourceHandle("random", "", ctx.name)
    return ctx.resources.lookup_or_create(handle, lambda: GPURandomStream(ctx.device.cuda, seed, seed2))


class _Outputs:
    """``get(shape_input) -> out``: the plan's shape when known, else the input's value
    (copied back); buffers kept per shape (fresh per call in eager mode)."""

    def __init__(self, ctx):
        self.bufs, self.dtype = _Buffers(ctx), ctx.out_np_dtype(0)
        self.known = ctx.output_shapes[0].as_tuple() if ctx.output_shapes[0].is_fully_defined() else None

    def get(self, shape=None, dims=None):
        if dims is None:
            dims = self.known if self.known is not None else _dims_value(_host(shape))
        return self.bufs.get([dims], self.dtype)[0]


def _host(value):
    return value.copy_to_host() if is_device_array(value) else np.asarray(value)


def _run_error(ctx, message):
    return ctx.op_error(errors.InvalidArgumentError, "%s\n\t [[node %s]]" % (message, ctx.name))


@register_kernel(*_KIND, device="GPU", accepts=_float_out)
def random_kernel(ctx):
    stream = _stream(ctx)
    kernel = K.get_kernel(_KIND[ctx.op_def], ctx.out_np_dtype(0))
    outs = _Outputs(ctx)

    def run(shape):
        out = outs.get(shape)
        n = int(out.size)
        if n:
            blocks, threads = K.grid(n)
            kernel[blocks, threads](stream.states, out.reshape(n), n)
        return out
    return run


def _int_out(op):
    return op.outputs[0].dtype.as_numpy_dtype in (np.int32, np.int64)


@register_kernel(random_ops.RandomUniformInt, device="GPU", accepts=_int_out)
def random_uniform_int_kernel(ctx):
    stream, outs, scalars = _stream(ctx), _Outputs(ctx), HostScalars(ctx, (1, 2))

    def run(shape, minval, maxval):
        lo, hi = scalars.get(1, minval), scalars.get(2, maxval)
        if not lo < hi:
            raise _run_error(ctx, "Need minval < maxval: %s >= %s" % (lo, hi))
        out = outs.get(shape)
        n = int(out.size)
        if n:
            blocks, threads = K.grid(n)
            K.uniform_int[blocks, threads](stream.states, out.reshape(n), n, lo, hi - lo)
        return out
    return run


def _float_logits(op):
    return op.inputs[0].dtype.as_numpy_dtype in (np.float32, np.float64)


@register_kernel(random_ops.Multinomial, device="GPU", accepts=_float_logits)
def multinomial_kernel(ctx):
    stream, outs, scalars = _stream(ctx), _Outputs(ctx), HostScalars(ctx, (1,))

    def run(logits, num_samples):
        ns = int(scalars.get(1, num_samples))
        if logits.ndim != 2:
            raise _run_error(ctx, "logits should be a matrix, got shape %s" % list(logits.shape))
        if ns < 0:
            raise _run_error(ctx, "num_samples should be nonnegative, got %d" % ns)
        b, n = tuple(logits.shape)
        if n == 0 and b > 0 and ns > 0:
            raise _run_error(ctx, "num_classes should be positive, got 0")
        out = outs.get(dims=(b, ns))
        if out.size:
            blocks, threads = K.grid(out.size)
            K.multinomial[blocks, threads](stream.states, logits.reshape(logits.size), b, n, ns,
                                           out.reshape(out.size))
        return out
    return run


_SHUFFLED = (np.float32, np.float64, np.int32, np.int64)


@register_kernel(random_ops.RandomShuffle, device="GPU",
                 accepts=lambda op: op.inputs[0].dtype.as_numpy_dtype in _SHUFFLED)
def random_shuffle_kernel(ctx):
    """A random 64-bit key per row, a bitonic sort of (key, row) pairs -- log2(n2) * (log2(n2) + 1) / 2
    launches for n rows padded to the power of two n2 -- then a gather of the rows in key order:
    distinct random keys give every permutation the same probability."""
    stream, device, fresh, dtype, bound = _stream(ctx), ctx.device, ctx.fresh_outputs, ctx.out_np_dtype(0), {}

    def run(value):
        shape = tuple(value.shape)
        b = bound.get(shape)
        if b is None:
            n = shape[0] if shape else 1
            n2 = 1 << max(0, (n - 1).bit_length())
            b = bound[shape] = (n, n2, device.empty((n2,), np.uint64), device.empty((n2,), np.int64),
                                None if fresh else device.empty(shape, dtype))
        n, n2, keys, rows, out = b
        out = device.empty(shape, dtype) if out is None else out
        size = int(value.size)
        if size:
            blocks, threads = K.grid(n2)
            K.shuffle_keys[blocks, threads](stream.states, keys, rows, n, n2)
            blocks, threads = grid_1d(n2)
            k = 2
            while k <= n2:
                j = k // 2
                while j:
                    K.bitonic_step[blocks, threads](keys, rows, n2, j, k)
                    j //= 2
                k *= 2
            blocks, threads = grid_1d(size)
            G.gather[blocks, threads](flat(value), rows, flat(out), n, n, size // n, size)
        return out
    return run
