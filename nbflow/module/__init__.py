"""``tf.Module`` (TF 2's base class of named containers of variables and submodules)."""
from nbflow.module.module import Module

__all__ = ["Module"]
