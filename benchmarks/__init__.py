"""nbflow benchmarks: speed as ratios against numpy (and PyTorch when installed),
measured in the same process. Run ``python -m benchmarks.run --help``."""

# Numba's threading layer: the runners (run.py, scaling.py's child) import nbflow, which
# chooses it (TBB when it loads, else workqueue), before any implementation runs, so the
# hand-written parallel baselines run on the same layer as nbflow. Not here: run.py must
# set the thread-count variables before Numba is imported.
