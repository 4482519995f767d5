"""tf.Variable (TF 1.x reference-variable semantics) and the initializer helpers."""
import numpy as np

from nbflow.framework import context, dtypes, hooks
from nbflow.framework.graph import GraphKeys, Tensor, get_default_graph, name_scope, control_dependencies
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import state_ops
from nbflow.ops.array_ops import identity
from nbflow.ops.base import apply_op, convert_to_tensor, register_tensor_conversion_function
from nbflow.ops.control_flow_ops import group, no_op

__all__ = [
    "Variable", "global_variables", "trainable_variables", "local_variables", "model_variables",
    "all_variables", "global_variables_initializer", "local_variables_initializer", "variables_initializer",
    "initialize_all_variables", "initialize_variables", "initialize_local_variables",
    "report_uninitialized_variables", "is_variable_initialized",
    "moving_average_variables",
]


#: [EagerVariable]: the class ``tf.Variable(...)`` builds when executing eagerly (ops/eager_variables.py)
_eager_variable_class = []


def set_eager_variable_class(cls):
    _eager_variable_class[:] = [cls]


def _creates_eager_variable():
    """Executing eagerly, or tracing a ``tf.function`` (whose variables are lifted out, as TF's)."""
    if not context.eager_enabled():
        return False
    return context.executing_eagerly() or getattr(get_default_graph(), "lift_variables", False)


class Variable:
    """A TF 1.x variable: a VariableV2 node, its initializer and its ``read`` snapshot."""

    def __new__(cls, *args, **kwargs):
        if cls is Variable and _eager_variable_class and _creates_eager_variable():
            return object.__new__(_eager_variable_class[0])
        return object.__new__(cls)

    def __init__(self, initial_value=None, trainable=None, collections=None, validate_shape=True,
                 caching_device=None, name=None, variable_def=None, dtype=None, expected_shape=None,
                 import_scope=None, constraint=None, use_resource=None, synchronization=None,
                 aggregation=None, shape=None):
        if variable_def is not None:
            raise ValueError("Creating a Variable from a VariableDef is not supported by nbflow")
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        if trainable is None:
            trainable = True
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        if not isinstance(collections, (list, tuple, set)):
            raise ValueError("collections argument to Variable constructor must be a list, tuple, or set. "
                             "Got %s of type %s" % (collections, type(collections)))
        collections = list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        self._trainable = trainable
        self._constraint = constraint
        graph = get_default_graph()
        init_from_fn = callable(initial_value)
        with control_dependencies(None):
            with name_scope(name, "Variable", [] if init_from_fn else [initial_value]) as scope:
                with name_scope("Initializer"):
                    value = initial_value() if init_from_fn else initial_value
                    if hasattr(value, "_as_graph_element") and isinstance(value, Variable):
                        value = value.initialized_value()
                self._initial_value = convert_to_tensor(value, dtype=dtype, name="initial_value")
                init_shape = self._initial_value.shape
                if shape is not None:
                    var_shape = TensorShape(shape)
                elif validate_shape:
                    var_shape = init_shape
                else:
                    var_shape = TensorShape(None)
                if validate_shape and not var_shape.is_fully_defined():
                    raise ValueError(
                        "initial_value must have a shape specified: %s" % self._initial_value)
                self._variable = apply_op(
                    state_ops.VariableV2, [],
                    {"shape": var_shape, "dtype": self._initial_value.dtype, "container": "", "shared_name": ""},
                    name=scope, graph=graph)
                self._initializer_op = apply_op(
                    state_ops.Assign, [self._variable, self._initial_value],
                    {"validate_shape": bool(validate_shape), "use_locking": True}, name="Assign").op
                self._snapshot = identity(self._variable, name="read")
        for key in collections:
            graph.add_to_collection(key, self)
        self._save_slice_info = None
        self._caching_device = caching_device

    # -- identity -------------------------------------------------------------
    @property
    def name(self):
        return self._variable.name

    @property
    def op(self):
        return self._variable.op

    @property
    def graph(self):
        return self._variable.graph

    @property
    def dtype(self):
        return self._variable.dtype

    @property
    def shape(self):
        return self._variable.shape

    def get_shape(self):
        return self._variable.shape

    @property
    def device(self):
        return self._variable.device

    @property
    def trainable(self):
        return self._trainable

    @property
    def constraint(self):
        return self._constraint

    @property
    def initializer(self):
        return self._initializer_op

    @property
    def initial_value(self):
        return self._initial_value

    def _as_graph_element(self):
        return self._variable

    def _ref(self):
        return self._variable

    def value(self):
        return self._snapshot

    def read_value(self):
        return identity(self._variable, name="read")

    def initialized_value(self):
        with control_dependencies(None):
            return apply_op(state_ops.InitializedValue, [self._variable, self._initial_value],
                            name=self.op.name + "/initialized_value")

    def eval(self, session=None):
        return self._variable.eval(session=session)

    # -- updates ------------------------------------------------------------------
    def assign(self, value, use_locking=False, name=None, read_value=True):
        out = state_ops.assign(self._variable, value, use_locking=use_locking, name=name)
        return out if read_value else out.op

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        out = state_ops.assign_add(self._variable, delta, use_locking=use_locking, name=name)
        return out if read_value else out.op

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        out = state_ops.assign_sub(self._variable, delta, use_locking=use_locking, name=name)
        return out if read_value else out.op

    def load(self, value, session=None):
        """Write ``value`` into the variable in ``session`` (the default one if None)."""
        session = session or hooks.call(hooks.DEFAULT_SESSION)
        if session is None:
            raise ValueError("Either session argument should be provided or default session should be "
                             "established")
        session.run(self._initializer_op, {self._initial_value: value})

    def set_shape(self, shape):
        self._variable.set_shape(shape)

    def __repr__(self):
        return "<tf.Variable '%s' shape=%s dtype=%s_ref>" % (self.name, self.shape, self.dtype.name)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __iter__(self):
        raise TypeError("'Variable' object is not iterable.")

    def __bool__(self):
        raise TypeError("Using a `tf.Variable` as a Python `bool` is not allowed.")

    __array_priority__ = 100


def _variable_to_tensor(v, dtype=None, name=None):
    t = v.value()
    if dtype is not None and dtype is not t.dtype:
        raise ValueError("Incompatible type conversion requested to type '%s' for variable of type '%s'"
                         % (dtype.name, t.dtype.name))
    return t


register_tensor_conversion_function(Variable, _variable_to_tensor)


# -- collections and initializers -------------------------------------------------

def global_variables(scope=None):
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope=None):
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope=None):
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope=None):
    return get_default_graph().get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope=None):
    return get_default_graph().get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


def variables_initializer(var_list, name="init"):
    if var_list:
        return group(*[v.initializer for v in var_list], name=name)
    return no_op(name=name)


initialize_variables = variables_initializer


def global_variables_initializer():
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def local_variables_initializer():
    return variables_initializer(local_variables())


initialize_local_variables = local_variables_initializer


def is_variable_initialized(variable):
    return state_ops.is_variable_initialized(variable)


def report_uninitialized_variables(var_list=None, name="report_uninitialized_variables"):
    """A 1-D string tensor with the names of the uninitialized variables."""
    if var_list is None:
        var_list = global_variables() + local_variables()
    names = [v.op.name for v in var_list]
    handles = [state_ops.variable_handle(v.op) for v in var_list]
    return apply_op(state_ops.ReportUninitializedVariables, [], {"var_names": names, "var_handles": handles},
                    name=name)
