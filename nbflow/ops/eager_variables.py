"""tf.Variable in eager mode: a value behind a handle, read and updated at once.

``tf.Variable(...)`` builds one of these when executing eagerly (and when a
``tf.function`` creates variables on its first trace: they are lifted out of
the graph, as TF does). Its value is a VariableResource in eager mode's
ResourceManager, so the same Assign/ApplyAdam kernels that update graph
variables update it, in place (copy-on-write against eager tensors that hold
an earlier read: nbflow/runtime/eager.py).

Where the value lives -- host memory, or a GPU's as a device array (TF 2:
GPU:0 when present, unless created under ``tf.device('/cpu:0')``) -- is decided
once, at creation, by the placer the eager runtime installs
(runtime/eager_placement.py ``variable_value``; this layer cannot import it).
``.numpy()``, printing and Python conversions copy a device value back.
"""
import itertools

import numpy as np

from nbflow.framework import context, tape_state
from nbflow.framework.eager_tensor import HOST_DEVICE, EagerTensor, TensorRef, host_value
from nbflow.framework.graph import get_default_graph, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import state_ops, variables
from nbflow.ops.base import convert_to_tensor
from nbflow.state.resources import ResourceHandle, VariableResource, eager_resources

_ids = itertools.count(1)

#: [placer]: ``placer(value, dtype) -> (a private copy of value where the variable lives, device
#: string)``; installed by the eager runtime (runtime/eager_placement.py); None: host memory
_placer = [None]


def set_variable_placer(placer):
    _placer[0] = placer


def _placed_value(value, dtype):
    if _placer[0] is None:
        return np.array(host_value(value), copy=True, order="C"), HOST_DEVICE
    return _placer[0](value, dtype)


class EagerVariable(variables.Variable):
    """A TF 2 (resource) variable, created while executing eagerly."""

    def __init__(self, initial_value=None, trainable=None, collections=None, validate_shape=True,
                 caching_device=None, name=None, variable_def=None, dtype=None, expected_shape=None,
                 import_scope=None, constraint=None, use_resource=None, synchronization=None,
                 aggregation=None, shape=None):
        if variable_def is not None:
            raise ValueError("Creating a Variable from a VariableDef is not supported by nbflow")
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        if constraint is not None and not callable(constraint):
            raise ValueError("The `constraint` argument must be a callable.")
        with context.init_scope():
            with name_scope(name, "Variable") as scope:
                value = initial_value() if callable(initial_value) else initial_value
                if isinstance(value, variables.Variable):
                    value = value.read_value()
                value = convert_to_tensor(value, dtype=dtype)
        if type(value) is not EagerTensor:
            # built in a tf.function's trace before tf.Variable was called: computed now
            value = EagerTensor(value.graph.lift_initial_value(value))
        self._name = (scope[:-1] if scope.endswith("/") else scope) + ":0"
        self._trainable = True if trainable is None else bool(trainable)
        self._constraint = constraint
        self._dtype = value.dtype
        if shape is not None:
            self._shape = TensorShape(shape)
        elif validate_shape:
            self._shape = value.shape
        else:
            self._shape = TensorShape(None)
        if not self._shape.is_compatible_with(value.shape):
            raise ValueError("The initial value's shape (%s) is not compatible with the explicitly supplied "
                             "`shape` argument (%s)." % (value.shape, self._shape))
        self._unique_id = next(_ids)
        self._handle = ResourceHandle("variable", "", "eager_variable_%d" % self._unique_id)
        self._eager_resource = VariableResource(self._name, self._dtype)
        self._eager_resource.value, self._device_name = _placed_value(value._value, self._dtype)
        eager_resources()[self._handle] = self._eager_resource
        self._save_slice_info = None
        self._caching_device = caching_device

    # -- identity -----------------------------------------------------------------------
    @property
    def name(self):
        return self._name

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    @property
    def device(self):
        """Where the value lives: TF's device string (``.../device:GPU:0`` on a GPU)."""
        return self._device_name

    @property
    def handle(self):
        return self._handle

    def _captured_ref(self):
        """In a graph that captures eager variables (a tf.function's trace): this
        variable's ref there (a VariableV2 op on its handle); else None."""
        if context._default_graph_stack:
            capture = getattr(get_default_graph(), "capture_variable", None)
            if capture is not None:
                return capture(self)
        return None

    @property
    def op(self):
        ref = self._captured_ref()
        if ref is None:
            raise AttributeError("Tensor.op is meaningless when eager execution is enabled.")
        return ref.op

    @property
    def graph(self):
        ref = self._captured_ref()
        if ref is None:
            raise AttributeError("Tensor.graph is meaningless when eager execution is enabled.")
        return ref.graph

    @property
    def initializer(self):
        return None

    @property
    def initial_value(self):
        raise RuntimeError("initial_value not supported in EAGER mode.")

    def _as_graph_element(self):
        ref = self._captured_ref()
        return self if ref is None else ref

    def _ref(self):
        ref = self._captured_ref()
        return self if ref is None else ref

    def ref(self):
        return TensorRef(self)

    experimental_ref = ref

    # -- reading ----------------------------------------------------------------------------
    def value(self):
        """The current value, as an eager tensor (watched by recording tapes); in a
        tf.function's trace, a read of the captured variable."""
        if context._default_graph_stack:
            read = getattr(get_default_graph(), "read_variable", None)
            if read is not None:
                return read(self)
        t = EagerTensor(self._eager_resource.read(), self._device_name)
        if tape_state._recording:
            tape_state.record_variable_read(self, t)
        return t

    def read_value(self):
        return self.value()

    def initialized_value(self):
        return self.value()

    def _host_value(self):
        """The value as a numpy array (copied back from a GPU)."""
        return host_value(self._eager_resource.read())

    def numpy(self):
        v = self._host_value()
        return v[()] if v.ndim == 0 else v

    def __array__(self, dtype=None, copy=None):
        v = self._host_value()
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    def eval(self, session=None):
        raise NotImplementedError("eval is not supported when eager execution is enabled, is .numpy() what "
                                  "you're looking for?")

    # -- updates: the same Assign kernels as graph mode, run at once --------------------------
    def assign(self, value, use_locking=None, name=None, read_value=True):
        state_ops.assign(self, value, use_locking=use_locking, name=name)
        return self if read_value else None

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        state_ops.assign_add(self, delta, use_locking=use_locking, name=name)
        return self if read_value else None

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        state_ops.assign_sub(self, delta, use_locking=use_locking, name=name)
        return self if read_value else None

    def load(self, value, session=None):
        self.assign(value)

    def set_shape(self, shape):
        self._shape = self._shape.merge_with(TensorShape(shape))

    # -- Python conversions -------------------------------------------------------------------
    def __bool__(self):
        return bool(self._host_value())

    def __int__(self):
        return int(self._host_value())

    def __float__(self):
        return float(self._host_value())

    def __index__(self):
        return int(self._host_value())

    def __len__(self):
        return len(self._eager_resource.read())

    def __format__(self, format_spec):
        return format(self.value(), format_spec)

    def __iter__(self):
        return iter(self.value())

    def __repr__(self):
        value = self._host_value()
        text = str(value[()]) if value.ndim == 0 else repr(value)
        return "<tf.Variable '%s' shape=%s dtype=%s, numpy=%s>" % (self._name, self._shape, self._dtype.name, text)


variables.set_eager_variable_class(EagerVariable)
