"""``tf.contrib.framework`` (TF 1.15): ``arg_scope`` and its helpers, and
``variable`` / ``model_variable``. Any other name raises a clear
not-implemented error (an AttributeError too, so ``hasattr`` is False).
"""
from nbflow.framework.errors import NotImplementedInNbflowError
from nbflow.contrib.framework.arg_scope import (  # noqa: F401
    add_arg_scope, arg_scope, arg_scope_func_key, arg_scoped_arguments, current_arg_scope, has_arg_scope,
)

__all__ = ["arg_scope", "add_arg_scope", "current_arg_scope", "has_arg_scope", "arg_scoped_arguments",
           "arg_scope_func_key", "variable", "model_variable"]


def __getattr__(name):
    if name in ("variable", "model_variable"):  # defined by tf.contrib.layers, which imports this package
        from nbflow.contrib.layers import layers

        return getattr(layers, name)
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedInNbflowError(
        "tf.contrib.framework.%s is not implemented in nbflow; available: %s" % (name, ", ".join(__all__)))
