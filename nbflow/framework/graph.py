"""Graph, Operation and Tensor: the dataflow graph a TF 1.x program builds.

Operations reference an *op definition* (a class from ``nbflow.ops``) only
through ``op.op_def``; this module never looks inside it, so the framework
stays free of numerics.
"""
import contextlib
import re
import threading

from nbflow.framework import dtypes as _dtypes
from nbflow.framework import hooks
from nbflow.framework import context as _context
from nbflow.framework.context import _default_graph_stack
from nbflow.framework.device import merge_device, DeviceSpec
from nbflow.framework.tensor_shape import TensorShape, as_shape

_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\-/>]*$")


class GraphKeys:
    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    CONCATENATED_VARIABLES = "concatenated_variables"
    SAVERS = "savers"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    SAVEABLE_OBJECTS = "saveable_objects"
    RESOURCES = "resources"
    LOCAL_RESOURCES = "local_resources"
    TRAINABLE_RESOURCE_VARIABLES = "trainable_resource_variables"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    READY_FOR_LOCAL_INIT_OP = "ready_for_local_init_op"
    SUMMARY_OP = "summary_op"
    GLOBAL_STEP = "global_step"
    EVAL_STEP = "eval_step"
    TRAIN_OP = "train_op"
    COND_CONTEXT = "cond_context"
    WHILE_CONTEXT = "while_context"
    VARIABLES = GLOBAL_VARIABLES


class Tensor:
    """A symbolic handle to one output of an Operation."""

    __slots__ = ("_op", "_value_index", "_dtype", "_shape", "_consumers", "__weakref__")

    #: an EagerTensor (framework/eager_tensor.py) holds a value and belongs to no graph
    _is_eager = False

    # Tensor operators are installed by nbflow.ops (see ops/operators.py);
    # numpy must defer to them in mixed expressions like ``np_array * t``.
    __array_priority__ = 100

    def __init__(self, op, value_index, dtype, shape):
        self._op = op
        self._value_index = value_index
        self._dtype = _dtypes.as_dtype(dtype)
        self._shape = as_shape(shape)
        self._consumers = []

    @property
    def op(self):
        return self._op

    @property
    def value_index(self):
        return self._value_index

    @property
    def dtype(self):
        return self._dtype

    @property
    def graph(self):
        return self._op.graph

    @property
    def name(self):
        return "%s:%d" % (self._op.name, self._value_index)

    @property
    def device(self):
        return self._op.device

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    def set_shape(self, shape):
        try:
            merged = self._shape.merge_with(as_shape(shape))
        except ValueError:
            raise ValueError(
                "Tensor %s: shape %s is not compatible with %s" % (self.name, self._shape, as_shape(shape))
            ) from None
        if merged != self._shape:
            self._shape = merged
            self.graph._mark_mutated()

    def consumers(self):
        return list(self._consumers)

    def eval(self, feed_dict=None, session=None):
        return hooks.call(hooks.RUN_IN_DEFAULT_SESSION, self, feed_dict, self.graph, session)

    def __str__(self):
        return 'Tensor("%s", shape=%s, dtype=%s)' % (self.name, self._shape, self._dtype.name)

    def __repr__(self):
        return "<tf.Tensor '%s' shape=%s dtype=%s>" % (self.name, self._shape, self._dtype.name)

    __hash__ = object.__hash__  # identity, at C speed (Tensors are dict keys on hot paths)

    def __eq__(self, other):
        # TF 1.x graph tensors compare by identity.
        return self is other

    def __ne__(self, other):
        return self is not other

    def __bool__(self):
        raise TypeError(
            "Using a `tf.Tensor` as a Python `bool` is not allowed. Use `if t is not None:` instead of "
            "`if t:` to test if a tensor is defined, and use TensorFlow ops such as tf.cond to execute "
            "subgraphs conditioned on the value of a tensor."
        )

    def __len__(self):
        raise TypeError(
            "len is not well defined for symbolic Tensors. (%s) Please call `x.shape` rather than "
            "`len(x)` for shape information." % self.name
        )

    def __iter__(self):
        dims = self._shape.as_tuple()
        if dims is None or len(dims) == 0 or dims[0] is None:
            raise TypeError("Cannot iterate over a tensor with unknown first dimension.")
        for i in range(dims[0]):
            yield self[i]

    def _as_node_def_input(self):
        return self._op.name if self._value_index == 0 else self.name


class Operation:
    """A node of the graph: an op type, its inputs, attributes and outputs."""

    _control_flow_context = None

    def __init__(self, graph, op_def, name, inputs, attrs, output_specs, control_inputs, device):
        self._graph = graph
        self.op_def = op_def
        self._name = name
        self._inputs = list(inputs)
        self._attrs = dict(attrs)
        self._control_inputs = list(control_inputs)
        self._device = device
        self._id = graph._next_id()
        self._outputs = [Tensor(self, i, dt, shp) for i, (dt, shp) in enumerate(output_specs)]
        for t in self._inputs:
            t._consumers.append(self)

    @property
    def name(self):
        return self._name

    @property
    def type(self):
        return self.op_def.type

    @property
    def graph(self):
        return self._graph

    @property
    def inputs(self):
        return tuple(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def control_inputs(self):
        return list(self._control_inputs)

    @property
    def device(self):
        return self._device

    @property
    def attrs(self):
        return self._attrs

    @property
    def node_def(self):
        """This op as a ``tf.NodeDef`` protobuf, as TF's (see nbflow/summary/graph_def.py)."""
        return hooks.call(hooks.NODE_DEF, self, add_shapes=False)

    def get_attr(self, name):
        if name not in self._attrs:
            raise ValueError("Operation '%s' has no attr named '%s'." % (self._name, name))
        return self._attrs[name]

    def _set_device(self, device):
        self._device = device.to_string() if isinstance(device, DeviceSpec) else (device or "")

    def _add_control_input(self, op):
        if op not in self._control_inputs:
            self._control_inputs.append(op)
            self._graph._mark_mutated()

    def values(self):
        return tuple(self._outputs)

    def run(self, feed_dict=None, session=None):
        hooks.call(hooks.RUN_IN_DEFAULT_SESSION, self, feed_dict, self._graph, session)

    def __repr__(self):
        return "<tf.Operation '%s' type=%s>" % (self._name, self.type)

    def __str__(self):
        return str(self.node_def)  # the NodeDef's text format, as TF prints an op


class Graph:
    """A TensorFlow computation: operations, names, scopes and collections."""

    def __init__(self):
        self._lock = threading.RLock()
        self._ops = []
        self._ops_by_name = {}
        self._names_in_use = {}
        self._name_stack = ""
        self._device_stack = []
        self._control_dependencies_stack = []
        self._collections = {}
        self._finalized = False
        self._version = 0
        #: changes to ops already in the graph (a control input added, a shape set): plans
        #: compiled before may be stale. Adding ops changes no existing op's result.
        self._mutations = 0
        self._last_id = 0
        self.seed = None
        self._gradient_override_map = {}
        #: the cond branch or while body being built (see ops/control_flow_ops.py); every
        #: op records the context it was created in.
        self._control_flow_context = None
        # Per-graph state owned by higher layers (variable scopes, ...).
        self._extra = {}

    # -- bookkeeping -----------------------------------------------------
    def _next_id(self):
        self._last_id += 1
        return self._last_id

    @property
    def version(self):
        return self._version

    def _mark_mutated(self):
        """An op already in the graph changed (see ``_mutations``)."""
        self._version += 1
        self._mutations += 1

    @property
    def finalized(self):
        return self._finalized

    def finalize(self):
        self._finalized = True

    def _unsafe_unfinalize(self):
        self._finalized = False

    def _check_not_finalized(self):
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")

    def get_operations(self):
        return list(self._ops)

    def as_graph_element(self, obj, allow_tensor=True, allow_operation=True):
        if isinstance(obj, str):
            if ":" in obj:
                if not allow_tensor:
                    raise ValueError("Name %r appears to refer to a Tensor, not an Operation." % obj)
                return self.get_tensor_by_name(obj)
            if not allow_operation:
                raise ValueError(
                    "The name %r refers to an Operation, not a Tensor. Tensor names must be of the form "
                    '"<op_name>:<output_index>".' % obj
                )
            return self.get_operation_by_name(obj)
        if isinstance(obj, Tensor) and obj._is_eager:
            raise TypeError("Fetch argument %r has invalid type %r, must be a string or Tensor. (Can not convert a "
                            "EagerTensor into a Tensor or Operation.)" % (obj, type(obj)))
        if isinstance(obj, Tensor) and allow_tensor:
            if obj.graph is not self:
                raise ValueError("Tensor %s is not an element of this graph." % obj)
            return obj
        if isinstance(obj, Operation) and allow_operation:
            if obj.graph is not self:
                raise ValueError("Operation %s is not an element of this graph." % obj)
            return obj
        raise TypeError("Can not convert a %s into a %s." % (type(obj).__name__, "Tensor or Operation"))

    def get_operation_by_name(self, name):
        if not isinstance(name, str):
            raise TypeError("Operation names are strings (or similar), not %s." % type(name).__name__)
        try:
            return self._ops_by_name[name]
        except KeyError:
            raise KeyError("The name %r refers to an Operation not in the graph." % name) from None

    def get_tensor_by_name(self, name):
        if not isinstance(name, str):
            raise TypeError("Tensor names are strings (or similar), not %s." % type(name).__name__)
        op_name, sep, idx = name.rpartition(":")
        if not sep or not idx.isdigit():
            raise ValueError(
                "The name %r looks a like an Operation name, not a Tensor name. Tensor names must be of "
                'the form "<op_name>:<output_index>".' % name
            )
        if op_name not in self._ops_by_name:
            raise KeyError(
                "The name %r refers to a Tensor which does not exist. The operation, %r, does not exist in "
                "the graph." % (name, op_name)
            )
        op = self._ops_by_name[op_name]
        i = int(idx)
        if i >= len(op._outputs):
            raise KeyError(
                "The name %r refers to a Tensor which does not exist. The operation, %r, exists but only "
                "has %d outputs." % (name, op_name, len(op._outputs))
            )
        return op._outputs[i]

    # -- names ---------------------------------------------------------
    def get_name_scope(self):
        return self._name_stack

    def unique_name(self, name, mark_as_used=True):
        if self._name_stack:
            name = self._name_stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base = key
            while key in self._names_in_use:
                key = "%s_%d" % (base, i)
                i += 1
            if mark_as_used:
                self._names_in_use[key] = 1
            name = "%s_%d" % (name, i - 1)
        return name

    @contextlib.contextmanager
    def name_scope(self, name):
        if name:
            if isinstance(name, str) and not _VALID_SCOPE_NAME.match(name):
                raise ValueError("'%s' is not a valid scope name" % name)
        old = self._name_stack
        try:
            if not name:
                new = ""
            elif name.endswith("/"):
                new = name[:-1]
            else:
                new = self.unique_name(name)
            self._name_stack = new
            yield (new + "/") if new else ""
        finally:
            self._name_stack = old

    # -- devices ---------------------------------------------------------
    @contextlib.contextmanager
    def device(self, device_name_or_function):
        self._device_stack.append(device_name_or_function)
        try:
            yield
        finally:
            self._device_stack.pop()

    def _current_device(self, op_for_function=None):
        dev = ""
        for d in self._device_stack:
            if d is None:
                dev = ""
            elif callable(d):
                dev = merge_device(dev, d(op_for_function) if op_for_function is not None else "")
            else:
                dev = merge_device(dev, d.to_string() if isinstance(d, DeviceSpec) else d)
        return dev

    # -- control dependencies -------------------------------------------
    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        if control_inputs is None:
            # As TF 1.x: clears the control dependencies *and* the control-flow
            # context, so e.g. variables created in a while body live outside it.
            saved = self._control_dependencies_stack
            saved_context = self._control_flow_context
            self._control_dependencies_stack = []
            self._control_flow_context = None
            try:
                yield
            finally:
                self._control_dependencies_stack = saved
                self._control_flow_context = saved_context
            return
        ops = []
        for c in control_inputs:
            if hasattr(c, "_as_graph_element"):
                c = c._as_graph_element()
            if isinstance(c, Tensor):
                c = c.op
            if not isinstance(c, Operation):
                raise TypeError("Control input must be Operation or Tensor: %s" % (c,))
            if c.graph is not self:
                raise ValueError("Control input %s is not an element of this graph." % c.name)
            ops.append(c)
        self._control_dependencies_stack.append(ops)
        try:
            yield
        finally:
            self._control_dependencies_stack.pop()

    def _current_control_inputs(self, inputs):
        deps = []
        input_ops = {t.op for t in inputs}
        for frame in self._control_dependencies_stack:
            for c in frame:
                if c not in deps and c not in input_ops:
                    deps.append(c)
        return deps

    @contextlib.contextmanager
    def gradient_override_map(self, op_type_map):
        saved = dict(self._gradient_override_map)
        self._gradient_override_map.update(op_type_map)
        try:
            yield
        finally:
            self._gradient_override_map = saved

    # -- op creation -----------------------------------------------------
    def create_op(self, op_def, inputs, attrs, output_specs, name, control_inputs=()):
        """Add a node. ``name`` is already unique (see ``unique_name``)."""
        with self._lock:
            self._check_not_finalized()
            for t in inputs:
                if t.graph is not self:
                    raise ValueError(
                        "Tensor %s must be from the same graph as the op being created (%s)." % (t.name, name)
                    )
            ctrl = self._current_control_inputs(inputs)
            for c in control_inputs:
                if c not in ctrl:
                    ctrl.append(c)
            op = Operation(self, op_def, name, inputs, attrs, output_specs, ctrl, "")
            op._control_flow_context = self._control_flow_context
            op._set_device(self._current_device(op))
            if self._gradient_override_map and op.type in self._gradient_override_map:
                op._attrs["_gradient_op_type"] = self._gradient_override_map[op.type]
            self._ops.append(op)
            self._ops_by_name[name] = op
            self._version += 1
            return op

    # -- collections -----------------------------------------------------
    def add_to_collection(self, name, value):
        self._check_not_finalized()
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value):
        names = (names,) if isinstance(names, str) else set(names)
        for n in names:
            self.add_to_collection(n, value)

    def get_collection_ref(self, name):
        return self._collections.setdefault(name, [])

    def get_collection(self, name, scope=None):
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        regex = re.compile(scope)
        return [i for i in items if hasattr(i, "name") and regex.match(i.name)]

    def get_all_collection_keys(self):
        return [k for k, v in self._collections.items() if v]

    def clear_collection(self, name):
        self._collections.pop(name, None)

    # -- default graph ---------------------------------------------------
    @contextlib.contextmanager
    def as_default(self):
        _default_graph_stack.append(self)
        try:
            yield self
        finally:
            _default_graph_stack.pop()

    def as_graph_def(self, add_shapes=False):
        """This graph as a GraphDef protobuf (TensorBoard's messages, via nbflow.summary)."""
        return hooks.call(hooks.GRAPH_DEF, self, add_shapes=add_shapes)

    def is_feedable(self, tensor):
        return True

    def is_fetchable(self, tensor_or_op):
        return True


_global_default_graph = [Graph()]


def get_default_graph():
    if _default_graph_stack:
        return _default_graph_stack[-1]
    return _global_default_graph[0]


def reset_default_graph():
    if _default_graph_stack:
        raise AssertionError(
            "Do not use tf.reset_default_graph() to clear nested graphs. If you need a cleared graph, "
            "exit the nesting and create a new graph."
        )
    _global_default_graph[0] = Graph()


def name_scope(name, default_name=None, values=None):
    """``tf.name_scope(name, default_name=None, values=None)``."""
    if _context.executing_eagerly():
        n = name if name is not None else default_name
        return _context.eager_name_scope(n or "")
    g = get_default_graph()
    if values is not None:
        for v in values:
            if isinstance(v, Tensor):
                g = v.graph
                break
    n = name if name is not None else default_name
    if n is None:
        n = ""
    return g.name_scope(n)


def device(device_name_or_function):
    if _context.executing_eagerly():
        if callable(device_name_or_function):
            raise RuntimeError("tf.device does not support functions when eager execution is enabled.")
        return _context.eager_device(device_name_or_function)
    return get_default_graph().device(device_name_or_function)


def control_dependencies(control_inputs):
    if _context.executing_eagerly():
        # ops run in program order already (TF 2's eager control_dependencies)
        return contextlib.nullcontext()
    return get_default_graph().control_dependencies(control_inputs)


def add_to_collection(name, value):
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value):
    get_default_graph().add_to_collections(names, value)


def get_collection(key, scope=None):
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key):
    return get_default_graph().get_collection_ref(key)
