"""Memory planning: liveness-based reuse of intermediate buffers.

Walks the plan's schedule. A buffer handed to a unit (through
``KernelContext.static_buffer`` or a fused group) lives until the last step that
reads its value -- or anything that may alias it (ops that can return views of
their inputs) -- and is then free for a later step that asks for the same
dtype and size. Fetched values live to the end of the run. Only units that
declare ``pooled_outputs`` take buffers from the pool: an op that keeps
constant contents in its buffer across runs must not opt in.
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
        self._live = []   # (end position, buffer)
        self._free = {}   # (dtype, size) -> [buffers]
        self.bytes_allocated = 0
        self.bytes_reused = 0

    def allocator(self, position):
        """The ``alloc(shape, dtype)`` for the unit at ``position`` (in schedule order)."""
        still = []
        for end, buf in self._live:
            if end < position:
                self._free.setdefault((buf.dtype.str, buf.size), []).append(buf)
            else:
                still.append((end, buf))
        self._live = still
        outs = self._units[position][1]
        end = self._end[self._find(outs[0])] if outs else position

        def alloc(shape, dtype):
            dtype = np.dtype(dtype)
            size = int(np.prod(shape)) if len(shape) else 1
            pool = self._free.get((dtype.str, size))
            if pool:
                buf = pool.pop()
                self.bytes_reused += buf.nbytes
            else:
                buf = np.empty(size, dtype=dtype)
                self.bytes_allocated += buf.nbytes
            self._live.append((end, buf))
            return buf.reshape(shape)
        return alloc


def memory_pass(program):
    """Plan the buffers of the units that take theirs from the pool (``pooled_outputs``)."""
    program.memory = BufferPlanner([u.io() for u in program.schedule], set(program.fetch_slots))
    program.note("memory", "buffers of pooled outputs reused once dead (bytes: see Memory above)")
