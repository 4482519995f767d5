"""Memory planning: liveness-based reuse of intermediate buffers.

Walks the plan's schedule. A buffer handed to a unit (through
``KernelContext.static_buffer`` or a fused group) lives until the last step that
reads its value -- or anything that may alias it (ops that can return views of
their inputs) -- and is then free for a later step that asks for the same
dtype and size. Fetched values live to the end of the run. Only units that
declare ``pooled_outputs`` take buffers from the pool: an op that keeps
constant contents in its buffer across runs must not opt in.

Device buffers (a GPU) are planned the same way, in pools of their own: a
unit bound on a device gets ``allocator(position, device)``, whose buffers
come from ``device.new_plan_buffer(size, dtype)`` (once, at bind time) and
are reused by later units of the same device once dead.
"""
import numpy as np

_FOREVER = float("inf")


class BufferPlanner:
    def __init__(self, units, fetched_slots):
        """``units``: per schedule position, (input slots, output slots, outputs may alias inputs)."""
        parent = {}

        def find(s):
            root = s
            while parent.get(root, root) != root:
                root = parent[root]
            while parent.get(s, s) != root:  # path compression
                parent[s], s = root, parent[s]
            return root

        def union(a, b):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb

        for ins, outs, aliases in units:
            for o in outs[1:]:
                union(outs[0], o)  # buffers a unit allocates belong to all its outputs
            if aliases:
                for o in outs:
                    for i in ins:
                        union(o, i)
        end = {}
        for p, (ins, outs, _) in enumerate(units):
            for s in list(ins) + list(outs):
                r = find(s)
                end[r] = max(end.get(r, -1), p)
        for s in fetched_slots:
            if s >= 0:
                end[find(s)] = _FOREVER
        self._find = find
        self._end = end
        self._units = units
        self._live = []   # (end position, pool key, buffer)
        self._free = {}   # (device name or None for the host, dtype, size) -> [buffers]
        self.bytes_allocated = 0  # host buffers
        self.bytes_reused = 0
        #: device name -> [bytes allocated, bytes reused] of its planned buffers
        self.device_bytes = {}

    def allocator(self, position, device=None):
        """The ``alloc(shape, dtype)`` for the unit at ``position`` (in schedule order);
        buffers on ``device`` when it is given and not the host."""
        still = []
        for end, key, buf in self._live:
            if end < position:
                self._free.setdefault(key, []).append(buf)
            else:
                still.append((end, key, buf))
        self._live = still
        outs = self._units[position][1]
        end = self._end[self._find(outs[0])] if outs else position
        if device is not None and not device.is_host:
            return self._device_alloc(end, device)

        def alloc(shape, dtype):
            dtype = np.dtype(dtype)
            size = int(np.prod(shape)) if len(shape) else 1
            key = (None, dtype.str, size)
            pool = self._free.get(key)
            if pool:
                buf = pool.pop()
                self.bytes_reused += buf.nbytes
            else:
                buf = np.empty(size, dtype=dtype)
                self.bytes_allocated += buf.nbytes
            self._live.append((end, key, buf))
            return buf.reshape(shape)
        return alloc

    def _device_alloc(self, end, device):
        counts = self.device_bytes.setdefault(device.name, [0, 0])

        def alloc(shape, dtype):
            dtype = np.dtype(dtype)
            shape = tuple(int(d) for d in shape)
            size = int(np.prod(shape, dtype=np.int64)) if shape else 1
            key = (device.name, dtype.str, size)
            pool = self._free.get(key)
            if pool:
                buf = pool.pop()
                counts[1] += size * dtype.itemsize
            else:
                buf = device.new_plan_buffer(size, dtype)
                counts[0] += size * dtype.itemsize
            self._live.append((end, key, buf))
            return buf.reshape(shape) if shape != (size,) else buf
        return alloc


def memory_pass(program):
    """Plan the buffers of the units that take theirs from the pool (``pooled_outputs``)."""
    program.memory = BufferPlanner([_io(program, u) for u in program.schedule], set(program.fetch_slots))
    program.note("memory", "buffers of pooled outputs reused once dead (bytes: see Memory above)")


def _io(program, unit):
    """A unit's ``io()``; a device may know that its kernel for the op writes new buffers
    (``Device.kernel_writes_new_buffers``), though the op's outputs may alias in general."""
    ins, outs, aliases = unit.io()
    op = getattr(unit, "op", None)
    if aliases and op is not None:
        writes_new = getattr(program.placement.get(op), "kernel_writes_new_buffers", None)
        if writes_new is not None and writes_new(op):
            aliases = False
    return ins, outs, aliases
