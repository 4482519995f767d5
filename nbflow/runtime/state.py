"""The state that lives in a Session, not in the graph: variables, RNG streams."""
import numpy as np

from nbflow.framework import errors
from nbflow.runtime.devices import local_devices


class RuntimeState:
    def __init__(self, graph, config):
        self.graph = graph
        self.config = config
        #: variable op name -> its current value (a C-contiguous ndarray).
        self.variables = {}
        self._rngs = {}
        #: per-op persistent state of other stateful kernels (queues, ...).
        self.resources = {}
        #: the devices ops may be placed on; the host (CPU:0) first.
        self.local_devices = local_devices()

    def rng(self, op):
        """The random stream of one random op: seeded from (seed, seed2) as TF does.

        An op with both seeds 0 (no graph or op seed) draws fresh entropy.
        """
        g = self._rngs.get(op.name)
        if g is None:
            seed, seed2 = op.attrs.get("seed", 0), op.attrs.get("seed2", 0)
            if seed == 0 and seed2 == 0:
                g = np.random.Generator(np.random.PCG64())
            else:
                g = np.random.Generator(np.random.PCG64([seed, seed2]))
            self._rngs[op.name] = g
        return g

    def read_variable(self, op):
        try:
            return self.variables[op.name]
        except KeyError:
            raise uninitialized_error(op) from None

    def devices(self):
        return [d.name for d in self.local_devices]


def uninitialized_error(op):
    return errors.FailedPreconditionError(
        None, op, "Attempting to use uninitialized value %s\n\t [[node %s]]" % (op.name, op.name))
