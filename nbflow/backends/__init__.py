"""Per-device kernels: which kernel runs an op type on a device type.

``registry`` holds the entries (keyed by op type and device type, as TF's
kernel registration); each device folder (``cpu/``) registers its kernels when
imported; ``context`` is what a kernel factory sees.
"""
