"""Host values of an op's scalar inputs that decide output sizes or are checked on the
host (Range's bounds, RandomUniformInt's minval/maxval, Multinomial's num_samples):
the plan's constants when known, else copied back from the device each run (TF
keeps such inputs in host memory)."""
import numpy as np

from nbflow.backends.cuda.device import is_device_array


class HostScalars:
    def __init__(self, ctx, indices):
        self.fixed = {i: ctx.value(i) for i in indices}

    def get(self, i, value):
        """Input ``i``'s value as a Python scalar (``value``: what the kernel was passed)."""
        v = self.fixed[i]
        if v is None:
            v = value.copy_to_host() if is_device_array(value) else value
        return np.asarray(v).item()
