"""GPU If, IfGrad, While and WhileGrad: the CPU's kernels (backends/cpu/control_flow.py) with
their values on the device.

A cond or while_loop placed on the GPU runs its branch / body sub-plans with
their feeds and fetches on the GPU (``make_plan(..., device)``): the ops inside
are placed by the ordinary rules (a GPU kernel where they have one, soft
placement to the host with copies inserted, or InvalidArgumentError naming the
op under hard placement), and values cross to the host only where an op needs
it there. Loop variables stay device arrays between iterations, copied device
to device into two buffers per variable used in turn (the next iteration may
overwrite the sub-plan's outputs, and a body may swap its variables).

Syncs, one per decision: the predicate of an If, and a While's condition at
each iteration (and its maximum_iterations once a run), are scalars copied to
the host -- the host decides what runs next. Everything else (slices of
sequences, stacks of emitted values and histories, the gradients summed over
the steps) stays on the device.
"""
import numpy as np

from nbflow.backends.cpu import control_flow as cpu
from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import fill_add as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import cond_op, while_op
from nbflow.ops.while_op import _SHAPE_CHANGES

_DEVICE_KINDS = "biuf"


def _device_dtype(dtype):
    try:
        dt = np.dtype(dtype.base_dtype.as_numpy_dtype)
    except (AttributeError, TypeError):
        return False
    return dt.kind in _DEVICE_KINDS and dt != np.float16


def _accepts(op):
    """Every value the op moves has a device representation (no strings, no float16)."""
    return all(_device_dtype(t.dtype) for t in list(op.inputs) + list(op.outputs))


class DeviceValues(cpu.HostValues):
    """The If / While kernels' values as device arrays of ``device``."""

    def __init__(self, device):
        self.device = device
        self._count = None

    def _host(self, v):
        return v.copy_to_host() if is_device_array(v) else np.asarray(v)

    def truth(self, v):
        return bool(self._host(v))  # a sync: the host decides what runs next

    def to_int(self, v):
        return int(self._host(v))

    def _on_device(self, v):
        return v if is_device_array(v) else self.device.from_host(np.asarray(v))

    def carrier(self):
        bufs = {}  # k -> [(shape, dtype), buffer 0, buffer 1, the one written last]
        device = self.device

        def keep(k, value, dtype, fresh):
            value = self._on_device(value)
            dt = np.dtype(dtype) if dtype is not None else value.dtype
            if value.dtype != dt:
                raise TypeError("loop variable %d: a value of dtype %s where %s was expected" % (k, value.dtype, dt))
            key = (tuple(value.shape), dt)
            entry = bufs.get(k)
            if entry is None or entry[0] != key:
                entry = bufs[k] = [key, device.empty(key[0], dt), device.empty(key[0], dt), 1]
            entry[3] ^= 1
            dst = entry[1 + entry[3]]
            dst.copy_to_device(value)
            return dst
        return keep

    def kept(self, v, fresh):
        v = self._on_device(v)
        out = self.device.empty(v.shape, v.dtype)
        out.copy_to_device(v)
        return out

    def row(self, a, t):
        return a[t] if a.ndim > 1 else a[t:t + 1].reshape(())

    def set_row(self, a, t, v):
        self.row(a, t).copy_to_device(self._on_device(v))

    def stacks(self, op_name, what):
        return _DeviceStacks(self, op_name, what)

    def count(self, steps):
        if self._count is None:
            self._count = self.device.empty((), np.int32)
        self._count.copy_to_device(np.array(steps, dtype=np.int32))
        return self._count

    def empty(self, shape, dtype):
        return self.device.empty(shape, dtype)

    def _fill(self, a, value):
        a = flat(a)
        if a.size:
            blocks, threads = grid_1d(a.size)
            K.fill[blocks, threads](a, a.dtype.type(value), a.size)

    def zeros(self, shape, dtype):
        out = self.device.empty(shape, dtype)
        self._fill(out, 0)
        return out

    def zero_rows_from(self, a, start):
        if start < a.shape[0]:
            self._fill(a[start:], 0)

    def copy_into(self, dst, v):
        dst.copy_to_device(self._on_device(v))

    def add_into(self, dst, v):
        d, s = flat(dst), flat(self._on_device(v))
        if d.size:
            blocks, threads = grid_1d(d.size)
            K.add_into[blocks, threads](d, s, d.size)


class _DeviceStacks:
    """``while_op._Stacks`` on the device: one value per step copied into row ``n`` of a
    [bound, ...] device buffer kept from run to run, or, without a bound, kept as device
    copies and stacked into a new array at the end."""

    def __init__(self, vals, op_name, what):
        self.vals, self.op_name, self.what = vals, op_name, what
        self.buf = None
        self.start(None)

    def start(self, bound):
        self.bound, self.items, self.n = bound, [], 0

    def add(self, value, owned):
        value = self.vals._on_device(value)
        shape = tuple(value.shape)
        if self.bound is None:
            if self.items and shape != tuple(self.items[0].shape):
                raise ValueError(_SHAPE_CHANGES % (self.op_name, self.what, tuple(self.items[0].shape), shape))
            self.items.append(self.vals.kept(value, owned))
            return
        if self.n == 0:
            if self.buf is None or tuple(self.buf.shape) != (self.bound,) + shape or self.buf.dtype != value.dtype:
                self.buf = self.vals.empty((self.bound,) + shape, value.dtype)
        elif shape != tuple(self.buf.shape[1:]):
            raise ValueError(_SHAPE_CHANGES % (self.op_name, self.what, tuple(self.buf.shape[1:]), shape))
        self.vals.set_row(self.buf, self.n, value)
        self.n += 1

    def result(self, dtype, shape):
        if self.bound is not None and self.n:
            return self.buf[:self.n]
        if not self.items:
            dims = shape.as_tuple() if shape.ndims is not None else ()
            return self.vals.empty((0,) + tuple(d or 0 for d in dims), dtype)
        out = self.vals.empty((len(self.items),) + tuple(self.items[0].shape), self.items[0].dtype)
        for t, v in enumerate(self.items):
            self.vals.set_row(out, t, v)
        return out


def _on_the_gpu(cpu_factory):
    """The CPU kernel's factory with device values."""
    def factory(ctx):
        return cpu_factory(ctx, DeviceValues(ctx.device))
    return factory


for _op, _cpu_factory in ((cond_op.If, cpu._if), (cond_op._IfGradient, cpu._if_gradient),
                          (while_op.While, cpu._while), (while_op.WhileGrad, cpu._while_grad)):
    register_kernel(_op, device="GPU", accepts=_accepts)(_on_the_gpu(_cpu_factory))
