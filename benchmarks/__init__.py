"""nbflow benchmarks: speed as ratios against numpy (and PyTorch when installed),
measured in the same process. Run ``python -m benchmarks.run --help``."""

# The threading layer nbflow chooses on import (TBB when it loads, else workqueue), for
# every implementation in the process: it must be chosen before the first parallel Numba
# call, which a hand-written baseline may make before nbflow runs anything.
from nbflow.kernels import threading_layer as _threading_layer

_threading_layer.choose()
