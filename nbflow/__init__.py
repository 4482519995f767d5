"""nbflow: TensorFlow 1.x's programming model, every kernel a Numba function.

``import nbflow as tf`` -- graph mode by default, as TF 1.15.
"""
# Numba's threading layer: TBB when it loads, else workqueue -- both fork-safe (data
# loaders, test runners), TBB's parallel calls far cheaper (kernels/threading_layer.py).
from nbflow.kernels import threading_layer as _threading_layer

_threading_layer.choose()

from nbflow.framework import dtypes, errors  # noqa: E402
from nbflow.framework.dtypes import (  # noqa: E402
    DType, as_dtype, bool_ as bool, double, float16, float32, float64, half, int8, int16, int32, int64,
    string, uint8, uint16,
)
from nbflow.framework.tensor_shape import Dimension, TensorShape, dimension_value  # noqa: E402
from nbflow.framework.device import DeviceSpec  # noqa: E402
from nbflow.framework.graph import (  # noqa: E402
    Graph, GraphKeys, Operation, Tensor, add_to_collection, add_to_collections, control_dependencies, device,
    get_collection, get_collection_ref, get_default_graph, name_scope, reset_default_graph,
)
from nbflow.ops.base import convert_to_tensor, register_tensor_conversion_function  # noqa: E402
from nbflow.ops.constant_op import *  # noqa: E402,F401,F403
from nbflow.ops.math_ops import *  # noqa: E402,F401,F403
from nbflow.ops.reduction_ops import *  # noqa: E402,F401,F403
from nbflow.ops.array_ops import *  # noqa: E402,F401,F403
from nbflow.ops.linalg_ops import *  # noqa: E402,F401,F403
from nbflow.ops.random_ops import *  # noqa: E402,F401,F403
from nbflow.ops.nn_ops import *  # noqa: E402,F401,F403
from nbflow.ops.state_ops import *  # noqa: E402,F401,F403
from nbflow.ops.variables import *  # noqa: E402,F401,F403
from nbflow.ops.init_ops import *  # noqa: E402,F401,F403
from nbflow.ops.variable_scope import *  # noqa: E402,F401,F403
from nbflow.ops.control_flow_ops import *  # noqa: E402,F401,F403
from nbflow.ops.cond_op import Assert, case, cond  # noqa: E402,F401
from nbflow.ops.while_op import while_loop  # noqa: E402,F401
from nbflow.ops.functional_ops import foldl, foldr, map_fn, scan  # noqa: E402,F401
from nbflow.ops.sequence_ops import reverse_sequence  # noqa: E402,F401
from nbflow.framework import nest  # noqa: E402,F401
from nbflow.ops.clip_ops import *  # noqa: E402,F401,F403
from nbflow.ops.sort_ops import *  # noqa: E402,F401,F403
from nbflow.ops.data_flow_ops import *  # noqa: E402,F401,F403
from nbflow.ops.io_ops import *  # noqa: E402,F401,F403
from nbflow.ops import operators as _operators, conv_ops as _conv_ops  # noqa: E402,F401
from nbflow.autodiff.gradients import NoGradient, NotDifferentiable, RegisterGradient, gradients  # noqa: E402
from nbflow.runtime.session import (  # noqa: E402
    ConfigProto, GPUOptions, InteractiveSession, RunMetadata, RunOptions, Session, get_default_session,
)
from nbflow.runtime.explain import explain  # noqa: E402
from nbflow.runtime import eager as _eager  # noqa: E402,F401  (installs the eager executor)
from nbflow.ops import eager_variables as _eager_variables  # noqa: E402,F401  (tf.Variable when eager)
from nbflow.autodiff.tape import GradientTape, UnconnectedGradients  # noqa: E402,F401
from nbflow.framework.context import executing_eagerly, init_scope  # noqa: E402,F401
from nbflow import compat, nn, losses, metrics, train, summary, layers, test  # noqa: E402
from nbflow import config  # noqa: E402,F401  (tf.config: list_physical_devices)
from nbflow import contrib  # noqa: E402,F401  (tf.contrib: rnn, layers, framework.arg_scope, seq2seq.sequence_loss)
from nbflow.platform import tf_logging as logging  # noqa: E402,F401  (tf.logging; stdlib logging is untouched)

__version__ = "0.1.0"
VERSION = "1.15.0-nbflow." + __version__
from nbflow.ops.variable_scope import AUTO_REUSE  # noqa: E402,F401,F811
newaxis = None


def enable_eager_execution(config=None, device_policy=None, execution_mode=None):
    """Run ops at once from here on (TF 1.15's switch to eager mode). As in TF, it must come
    before any graph is built."""
    from nbflow.framework import context

    if context.eager_enabled():
        return
    if get_default_graph().get_operations():
        raise ValueError("tf.enable_eager_execution must be called at program startup.")
    context.enable_eager()


def enable_v2_behavior():
    """TF 2's behaviour: eager execution and element-wise ``==`` on eager tensors."""
    from nbflow.framework import context

    enable_eager_execution()
    context.set_tensor_equality(True)


def disable_eager_execution():
    """Back to graph mode (TF 1.15's default)."""
    from nbflow.framework import context

    context.disable_eager()


def disable_v2_behavior():
    """TF 1.x behaviour: graph mode, identity ``==`` (nbflow's default, as TF 1.15)."""
    from nbflow.framework import context

    context.disable_eager()
    context.set_tensor_equality(False)


def enable_tensor_equality():
    from nbflow.framework import context

    context.set_tensor_equality(True)


def disable_tensor_equality():
    from nbflow.framework import context

    context.set_tensor_equality(False)


from nbflow import random  # noqa: E402,F401  (tf.random; after the star imports, which it must not shadow)
from nbflow.module import Module  # noqa: E402,F401  (tf.Module)
# tf.print and tf.Print; imported by name (a star import would shadow the builtin print in this module).
from nbflow.ops.logging_ops import Print, print_v2 as print  # noqa: E402,F401,A001
from nbflow.eager import TensorSpec, function  # noqa: E402,F401  (tf.function, TF 2)


from nbflow.framework.errors import NotImplementedInNbflowError  # noqa: E402


_NOT_YET = {
    "TensorArray": "use tf.while_loop loop variables, tf.map_fn / tf.scan, or tf.nn.dynamic_rnn",
    "py_func": None, "numpy_function": None, "SparseTensor": None, "sparse_placeholder": None,
}


#: tf.<name> -> the module behind it, imported on first use
_LAZY = {
    "app": "nbflow.platform.app", "flags": "nbflow.platform.flags",  # absl's
    "keras": "nbflow.keras", "data": "nbflow.data",
    "autograph": "nbflow.autograph",  # (tf.function imports it when it converts a function)
}


def __getattr__(name):
    from nbflow.framework import protos as _protos

    if name in _LAZY:  # imported on first use: they cost import time every program would pay
        import importlib

        value = globals()[name] = importlib.import_module(_LAZY[name])
        return value
    if name in _protos.PROTOS:  # tf.NodeDef, tf.GraphDef, tf.Summary ... (imported on first use)
        value = globals()[name] = _protos.get(name)
        return value
    if name in _NOT_YET:
        hint = _NOT_YET[name]
        raise NotImplementedInNbflowError("tf.%s is not implemented in nbflow yet%s" % (name, "; " + hint if hint else ""))
    raise AttributeError("module 'nbflow' has no attribute %r" % name)
