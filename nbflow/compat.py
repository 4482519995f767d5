"""tf.compat: ``tf.compat.v1`` is nbflow itself (it follows TF 1.15)."""
import sys


import types

#: TF 1.x names that TF 2's surface (tf.compat.v2) does not have
_V1_ONLY = frozenset([
    "placeholder", "placeholder_with_default", "Session", "InteractiveSession", "get_default_session",
    "global_variables_initializer", "local_variables_initializer", "variables_initializer",
    "initialize_all_variables", "get_variable", "variable_scope", "get_variable_scope", "global_variables",
    "local_variables", "trainable_variables", "gradients", "get_default_graph", "reset_default_graph",
    "set_random_seed", "enable_eager_execution", "disable_eager_execution", "enable_v2_behavior",
    "disable_v2_behavior", "get_collection", "add_to_collection", "get_collection_ref", "GraphKeys",
    "ConfigProto", "RunOptions", "RunMetadata", "logging", "app", "flags", "layers", "contrib", "Print", "py_func", "to_float", "to_int32", "to_int64", "log", "div",
    "random_normal", "random_uniform", "truncated_normal", "multinomial",
])


class _V2Module(types.ModuleType):
    """``tf.compat.v2``: TF 2's surface -- nbflow's names, less TF 1.x's graph-only ones."""

    def __getattr__(self, name):
        if name in _V1_ONLY or name.startswith("__"):
            raise AttributeError("module 'nbflow.compat.v2' has no attribute %r (a TF 1.x name; use "
                                 "tf.compat.v1.%s)" % (name, name))
        if name in ("losses", "metrics", "optimizers"):  # TF 2's tf.losses etc. are Keras'
            return getattr(sys.modules["nbflow"].keras, name)
        return getattr(sys.modules["nbflow"], name)

    def __dir__(self):
        return sorted(n for n in dir(sys.modules["nbflow"]) if n not in _V1_ONLY)


v2 = _V2Module("nbflow.compat.v2")


def __getattr__(name):
    if name == "v1":
        return sys.modules["nbflow"]
    raise AttributeError(name)


def as_bytes(bytes_or_text, encoding="utf-8"):
    if isinstance(bytes_or_text, str):
        return bytes_or_text.encode(encoding)
    return bytes(bytes_or_text)


def as_text(bytes_or_text, encoding="utf-8"):
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text.decode(encoding)
    return str(bytes_or_text)


as_str = as_text
