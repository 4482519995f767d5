"""The CPU backend: importing it registers every CPU kernel.

One module per op family, each binding the ops of ``nbflow/ops/<family>`` to
the @njit kernels of ``nbflow/kernels/cpu`` (destination-passing; output
buffers allocated once per plan). The modules are found by name, so a new
family module registers itself by existing.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(__name__ + "." + _module.name)
