"""nbflow.kernels: compute only. numpy arrays in, numpy arrays out.

Nothing here imports from the rest of nbflow (the arrows point down).
"""
