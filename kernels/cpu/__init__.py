"""@njit CPU kernels, destination-passing style, cache=True."""
