"""nbflow benchmarks: speed as ratios against numpy (and PyTorch when installed),
measured in the same process. Run ``python -m benchmarks.run --help``."""

import os as _os

# Same threading layer as nbflow sets on import (fork-safe); it must be chosen before
# the first parallel Numba call, which a benchmark may make before importing nbflow.
_os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
