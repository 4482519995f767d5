"""Resources behind handles: variables, random streams, queues.

A resource is an object holding state between runs (a variable's value, a
random generator, a queue's items). It is reached through a
:class:`ResourceHandle` -- a hashable (kind, container, name) -- in a
:class:`ResourceManager`. A Session owns one manager; eager mode and
parameter servers will own theirs. Kernels never see a Session: the compiler
hands them the manager and the handles of the resources they use.
"""
import collections
import threading

import numpy as np

from nbflow.framework import errors


class ResourceHandle(collections.namedtuple("ResourceHandle", "kind container name")):
    """Names one resource: ``kind`` ("variable", "random", "queue", ...), TF's
    ``container`` ("" by default) and ``name`` (TF's ``shared_name``, by default
    the op's name)."""

    __slots__ = ()


class VariableResource:
    """A variable's value: a C-contiguous array, or None until initialized."""

    __slots__ = ("value", "dtype", "name")

    def __init__(self, name, dtype):
        self.name = name
        self.dtype = dtype
        self.value = None

    @property
    def is_initialized(self):
        return self.value is not None

    def read(self):
        if self.value is None:
            raise errors.FailedPreconditionError(
                None, None, "Attempting to use uninitialized value %s\n\t [[node %s]]" % (self.name, self.name))
        return self.value


class RandomStream:
    """One random op's numpy Generator, seeded from (seed, seed2) as TF does: an
    op with both seeds 0 (no graph or op seed) draws fresh entropy."""

    __slots__ = ("generator", "seeds")

    def __init__(self, seed, seed2):
        self.seeds = (seed, seed2)
        if seed == 0 and seed2 == 0:
            self.generator = np.random.Generator(np.random.PCG64())
        else:
            self.generator = np.random.Generator(np.random.PCG64([seed, seed2]))

    def reset(self):
        """Start the sequence over (a seeded stream) in the same Generator object."""
        if self.seeds != (0, 0):
            self.generator.bit_generator.state = np.random.PCG64(list(self.seeds)).state

    def snapshot(self):
        return self.generator.bit_generator.state

    def restore(self, state):
        self.generator.bit_generator.state = state


class QueueResource:
    """A FIFO queue's items; a dequeue on an empty open queue waits on ``cond``.
    ``cancelled``: closed with cancel_pending_enqueues (blocked enqueues fail)."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.items = collections.deque()
        self.closed = False
        self.cancelled = False
        self.cond = threading.Condition()


class ReaderResource:
    """A reader's place in its work queue: the current file's remaining lines (a
    TextLineReader), its name and line number, and the counts TF keeps."""

    def __init__(self, skip_header_lines=0):
        self.skip_header_lines = skip_header_lines
        self.lines = None  # remaining (line number, line) of the current file
        self.current = None
        self.records_produced = 0
        self.work_units_completed = 0
        self.lock = threading.Lock()


class ResourceManager:
    """Every resource of one owner (a Session), by handle. Thread-safe creation."""

    def __init__(self):
        self._resources = {}
        self._lock = threading.Lock()

    def get(self, handle, default=None):
        return self._resources.get(handle, default)

    def lookup_or_create(self, handle, factory):
        """The resource of ``handle``, made by ``factory()`` on first use."""
        res = self._resources.get(handle)
        if res is None:
            with self._lock:
                res = self._resources.get(handle)
                if res is None:
                    res = self._resources[handle] = factory()
        return res

    def __setitem__(self, handle, resource):
        self._resources[handle] = resource

    def __contains__(self, handle):
        return handle in self._resources

    def handles(self, kind=None):
        return [h for h in list(self._resources) if kind is None or h.kind == kind]

    def clear(self):
        self._resources.clear()


_eager_resources = ResourceManager()


def eager_resources():
    """The resources of eager mode (eager variables, random streams): one per process."""
    return _eager_resources


class IteratorResource:
    """A dataset iterator's place: the Python iterator of flat elements (nbflow/data)
    of its last initialization; ``lock`` serializes pulls and restarts."""

    def __init__(self, iterator=None):
        self.iterator = iterator
        self.lock = threading.Lock()

    def reset(self, iterator):
        with self.lock:
            old, self.iterator = self.iterator, iterator
        close = getattr(old, "close", None)
        if close is not None:
            close()  # a prefetching pipeline stops its thread
