"""tf.variable_scope, tf.get_variable and VariableScope (TF 1.x semantics).

Each graph holds, in ``graph._extra``, a variable store (full name ->
Variable created by get_variable) and a scope store (the current
VariableScope and how many times each scope name has been opened, which is
what uniquifies ``default_name`` scopes).

A variable's name depends only on the variable scope (``foo/bar/w``); the
name scope that variable_scope also opens only names the other ops created
inside it (so re-entering a scope gives ops under ``foo_1/`` while variables
stay ``foo/...``), as in TF.
"""
import copy
import enum
import functools
import inspect

from nbflow.framework import dtypes
from nbflow.framework.graph import GraphKeys, Tensor, get_default_graph
from nbflow.framework.tensor_shape import TensorShape, as_shape
from nbflow.ops import init_ops
from nbflow.ops.base import _infer_numpy
from nbflow.ops.variables import Variable

__all__ = [
    "AUTO_REUSE", "VariableScope", "variable_scope", "get_variable", "get_local_variable", "get_variable_scope",
    "variable_op_scope", "no_regularizer",
]


class _ReuseMode(enum.Enum):
    """``tf.AUTO_REUSE``: create the variable if it does not exist, else return it."""

    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE


def no_regularizer(_):
    """Use this to turn regularization off in a sub-scope (``regularizer=tf.no_regularizer``)."""
    return None


# -- the per-graph stores ---------------------------------------------------------

class _VariableStore:
    """Variables created by get_variable, by full name."""

    def __init__(self):
        self._vars = {}

    def get_variable(self, name, shape=None, dtype=dtypes.float32, initializer=None, regularizer=None, reuse=None,
                     trainable=None, collections=None, caching_device=None, partitioner=None,
                     validate_shape=True, use_resource=None, custom_getter=None, constraint=None,
                     synchronization=None, aggregation=None):
        if custom_getter is not None and not callable(custom_getter):
            raise ValueError("Passed a custom_getter which is not callable: %s" % custom_getter)
        if partitioner is not None:
            raise NotImplementedError("Partitioned variables (partitioner=...) are not supported by nbflow "
                                      "(variable %s)" % name)
        if use_resource:
            raise NotImplementedError("Resource variables (use_resource=True) are not supported by nbflow; "
                                      "variable %s would be a ResourceVariable" % name)

        def true_getter(name, shape=None, dtype=dtypes.float32, initializer=None, regularizer=None, reuse=None,
                        trainable=None, collections=None, caching_device=None, partitioner=None,
                        validate_shape=True, use_resource=None, constraint=None, synchronization=None,
                        aggregation=None):
            if partitioner is not None:
                raise NotImplementedError("Partitioned variables (partitioner=...) are not supported by nbflow "
                                          "(variable %s)" % name)
            return self._get_single_variable(
                name=name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer, reuse=reuse,
                trainable=trainable, collections=collections, caching_device=caching_device,
                validate_shape=validate_shape, constraint=constraint)

        if custom_getter is not None:
            kwargs = dict(name=name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                          reuse=reuse, trainable=trainable, collections=collections,
                          caching_device=caching_device, partitioner=partitioner, validate_shape=validate_shape,
                          use_resource=use_resource, constraint=constraint, synchronization=synchronization,
                          aggregation=aggregation)
            return custom_getter(true_getter, **kwargs)
        return true_getter(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                           reuse=reuse, trainable=trainable, collections=collections,
                           caching_device=caching_device, validate_shape=validate_shape, constraint=constraint)

    def _get_single_variable(self, name, shape=None, dtype=dtypes.float32, initializer=None, regularizer=None,
                             reuse=None, trainable=None, collections=None, caching_device=None,
                             validate_shape=True, constraint=None):
        initializing_from_value = initializer is not None and not callable(initializer)
        if shape is not None and initializing_from_value:
            raise ValueError("If initializer is a constant, do not specify shape.")
        dtype = dtypes.as_dtype(dtype)
        shape = as_shape(shape) if shape is not None else TensorShape(None)

        if name in self._vars:
            if reuse is False or reuse is None:
                raise ValueError("Variable %s already exists, disallowed. Did you mean to set reuse=True or "
                                 "reuse=tf.AUTO_REUSE in VarScope?" % name)
            found = self._vars[name]
            if not shape.is_compatible_with(found.get_shape()):
                raise ValueError("Trying to share variable %s, but specified shape %s and found shape %s."
                                 % (name, shape, found.get_shape()))
            if dtype is not found.dtype:
                raise ValueError("Trying to share variable %s, but specified dtype %s and found dtype %s."
                                 % (name, dtype.name, found.dtype.name))
            return found

        if reuse is True:
            raise ValueError("Variable %s does not exist, or was not created with tf.get_variable(). Did you mean "
                             "to set reuse=tf.AUTO_REUSE in VarScope?" % name)

        if initializer is None:
            initializer = _default_initializer(name, dtype)
        if initializing_from_value:
            init_val = initializer
            variable_dtype = None
        else:
            if inspect.isclass(initializer):
                initializer = initializer()
            if shape.is_fully_defined():
                init_val = _bind_initializer(initializer, shape.as_list(), dtype)
                variable_dtype = dtype
            elif _takes_no_arguments(initializer):
                init_val = initializer
                variable_dtype = None
            else:
                raise ValueError("The initializer passed is not valid. It should be a callable with no arguments "
                                 "and the shape should not be provided or an instance of "
                                 "`tf.keras.initializers.*' and `shape` should be fully defined.")
        graph = get_default_graph()
        with graph.name_scope(None), graph.control_dependencies(None):
            v = Variable(initial_value=init_val, name=name, trainable=trainable, collections=collections,
                         caching_device=caching_device, dtype=variable_dtype, validate_shape=validate_shape,
                         constraint=constraint)
        self._vars[name] = v

        if regularizer:
            with graph.name_scope(None), graph.control_dependencies(None):
                with graph.name_scope(name + "/Regularizer/"):
                    loss = regularizer(v)
            if loss is not None:
                graph.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
        return v


def _default_initializer(name, dtype):
    """glorot_uniform for floats, zeros for integers, bools and strings (as TF)."""
    if dtype.is_floating:
        return init_ops.glorot_uniform_initializer()
    if dtype.is_integer or dtype.is_bool or dtype is dtypes.string:
        return init_ops.zeros_initializer()
    raise ValueError("An initializer for variable %s of %s is required" % (name, dtype.name))


def _bind_initializer(initializer, shape, dtype):
    try:
        params = inspect.signature(initializer).parameters
    except (TypeError, ValueError):
        params = {}
    if "partition_info" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return functools.partial(initializer, shape, dtype=dtype, partition_info=None)
    return functools.partial(initializer, shape, dtype=dtype)


def _takes_no_arguments(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


class _VariableScopeStore:
    """The current VariableScope and how often each scope name has been opened."""

    def __init__(self):
        self.current_scope = VariableScope(False)
        self.variable_scopes_count = {}

    def open_variable_scope(self, scope_name):
        self.variable_scopes_count[scope_name] = self.variable_scopes_count.get(scope_name, 0) + 1

    def close_variable_subscopes(self, scope_name):
        for k in list(self.variable_scopes_count):
            if scope_name is None or k.startswith(scope_name + "/"):
                self.variable_scopes_count[k] = 0

    def variable_scope_count(self, scope_name):
        return self.variable_scopes_count.get(scope_name, 0)


_SCOPE_STORE_KEY = "variable_scope_store"
_VAR_STORE_KEY = "variable_store"


def _get_scope_store(graph=None):
    graph = graph or get_default_graph()
    store = graph._extra.get(_SCOPE_STORE_KEY)
    if store is None:
        store = graph._extra[_SCOPE_STORE_KEY] = _VariableScopeStore()
    return store


def _get_default_variable_store(graph=None):
    graph = graph or get_default_graph()
    store = graph._extra.get(_VAR_STORE_KEY)
    if store is None:
        store = graph._extra[_VAR_STORE_KEY] = _VariableStore()
    return store


def get_variable_scope():
    """The current VariableScope."""
    return _get_scope_store().current_scope


# -- VariableScope ----------------------------------------------------------------

class VariableScope:
    """The variable-creation defaults of one scope: name, reuse, initializer,
    regularizer, dtype, custom getter."""

    def __init__(self, reuse, name="", initializer=None, regularizer=None, caching_device=None, partitioner=None,
                 custom_getter=None, name_scope="", dtype=dtypes.float32, use_resource=None, constraint=None):
        self._name = name
        self._initializer = initializer
        self._regularizer = regularizer
        self._reuse = reuse
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._name_scope = name_scope
        self._dtype = dtypes.as_dtype(dtype)
        self._use_resource = use_resource
        self._constraint = constraint

    @property
    def name(self):
        return self._name

    @property
    def original_name_scope(self):
        return self._name_scope

    @property
    def reuse(self):
        return self._reuse

    @property
    def initializer(self):
        return self._initializer

    @property
    def dtype(self):
        return self._dtype

    @property
    def use_resource(self):
        return self._use_resource

    @property
    def regularizer(self):
        return self._regularizer

    @property
    def caching_device(self):
        return self._caching_device

    @property
    def partitioner(self):
        return self._partitioner

    @property
    def custom_getter(self):
        return self._custom_getter

    @property
    def constraint(self):
        return self._constraint

    def reuse_variables(self):
        """Reuse variables in this scope from now on."""
        self._reuse = True

    def set_initializer(self, initializer):
        self._initializer = initializer

    def set_dtype(self, dtype):
        self._dtype = dtypes.as_dtype(dtype)

    def set_use_resource(self, use_resource):
        self._use_resource = use_resource

    def set_regularizer(self, regularizer):
        self._regularizer = regularizer

    def set_caching_device(self, caching_device):
        self._caching_device = caching_device

    def set_partitioner(self, partitioner):
        self._partitioner = partitioner

    def set_custom_getter(self, custom_getter):
        self._custom_getter = custom_getter

    def get_collection(self, name):
        scope = self._name + "/" if self._name else ""
        return get_default_graph().get_collection(name, scope)

    def trainable_variables(self):
        return self.get_collection(GraphKeys.TRAINABLE_VARIABLES)

    def global_variables(self):
        return self.get_collection(GraphKeys.GLOBAL_VARIABLES)

    def local_variables(self):
        return self.get_collection(GraphKeys.LOCAL_VARIABLES)

    def get_variable(self, var_store, name, shape=None, dtype=None, initializer=None, regularizer=None, reuse=None,
                     trainable=None, collections=None, caching_device=None, partitioner=None, validate_shape=True,
                     use_resource=None, custom_getter=None, constraint=None, synchronization=None,
                     aggregation=None):
        """Get an existing variable of this scope or create a new one."""
        if regularizer is None:
            regularizer = self._regularizer
        if caching_device is None:
            caching_device = self._caching_device
        if partitioner is None:
            partitioner = self._partitioner
        if custom_getter is None:
            custom_getter = self._custom_getter
        if reuse is None:
            reuse = self._reuse
        full_name = self.name + "/" + name if self.name else name
        if dtype is not None and initializer is not None and not callable(initializer):
            init_dtype = _value_dtype(initializer)
            if init_dtype is not dtypes.as_dtype(dtype):
                raise ValueError("Initializer type '%s' and explicit dtype '%s' don't match."
                                 % (init_dtype.name, dtypes.as_dtype(dtype).name))
        if initializer is None:
            initializer = self._initializer
        if constraint is None:
            constraint = self._constraint
        if dtype is None:
            dtype = self._dtype
        if use_resource is None:
            use_resource = self._use_resource
        return var_store.get_variable(
            full_name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer, reuse=reuse,
            trainable=trainable, collections=collections, caching_device=caching_device, partitioner=partitioner,
            validate_shape=validate_shape, use_resource=use_resource, custom_getter=custom_getter,
            constraint=constraint, synchronization=synchronization, aggregation=aggregation)

    def __repr__(self):
        return "<VariableScope name=%r reuse=%r>" % (self._name, self._reuse)


def _value_dtype(value):
    """The dtype ``convert_to_tensor(value)`` would have (without adding a node)."""
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        return value.dtype
    return dtypes.as_dtype(_infer_numpy(value, None).dtype)


# -- get_variable -------------------------------------------------------------

def get_variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=None, collections=None,
                 caching_device=None, partitioner=None, validate_shape=True, use_resource=None, custom_getter=None,
                 constraint=None, synchronization=None, aggregation=None):
    """``tf.get_variable``: the variable ``<scope>/name``, created (with ``initializer``,
    default glorot_uniform for floats and zeros for integers/bools) unless the
    scope reuses variables."""
    return get_variable_scope().get_variable(
        _get_default_variable_store(), name, shape=shape, dtype=dtype, initializer=initializer,
        regularizer=regularizer, trainable=trainable, collections=collections, caching_device=caching_device,
        partitioner=partitioner, validate_shape=validate_shape, use_resource=use_resource,
        custom_getter=custom_getter, constraint=constraint, synchronization=synchronization,
        aggregation=aggregation)


def get_local_variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=False,
                       collections=None, caching_device=None, partitioner=None, validate_shape=True,
                       use_resource=None, custom_getter=None, constraint=None, synchronization=None,
                       aggregation=None):
    """``tf.get_local_variable``: get_variable in LOCAL_VARIABLES, not trainable."""
    collections = [GraphKeys.LOCAL_VARIABLES] + list(collections or [])
    return get_variable(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                        trainable=False, collections=collections, caching_device=caching_device,
                        partitioner=partitioner, validate_shape=validate_shape, use_resource=use_resource,
                        custom_getter=custom_getter, constraint=constraint, synchronization=synchronization,
                        aggregation=aggregation)


# -- variable_scope -----------------------------------------------------------

def _get_unique_variable_scope(prefix):
    store = _get_scope_store()
    current = store.current_scope
    name = current.name + "/" + prefix if current.name else prefix
    if store.variable_scope_count(name) == 0:
        return prefix
    idx = 1
    while store.variable_scope_count(name + ("_%d" % idx)) > 0:
        idx += 1
    return prefix + ("_%d" % idx)


def _wrap_custom_getter(custom_getter, old_getter):
    """Nested custom getters compose: the inner one's getter is the outer one."""
    if old_getter is None:
        return custom_getter

    def wrapped(getter, *args, **kwargs):
        return custom_getter(functools.partial(old_getter, getter), *args, **kwargs)
    return wrapped


class _pure_variable_scope:
    """Enters a VariableScope without touching name scopes."""

    def __init__(self, name_or_scope, reuse=None, initializer=None, regularizer=None, caching_device=None,
                 partitioner=None, custom_getter=None, old_name_scope=None, dtype=dtypes.float32,
                 use_resource=None, constraint=None, graph=None):
        self._name_or_scope = name_or_scope
        self._reuse = reuse
        self._initializer = initializer
        self._regularizer = regularizer
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._old_name_scope = old_name_scope
        self._dtype = dtype
        self._use_resource = use_resource
        self._constraint = constraint
        self._store = _get_scope_store(graph)
        self._last_object = None
        if isinstance(name_or_scope, VariableScope):
            self._new_name = name_or_scope.name
            obj = VariableScope(
                name_or_scope.reuse if not reuse else reuse, name=self._new_name,
                initializer=name_or_scope.initializer, regularizer=name_or_scope.regularizer,
                caching_device=name_or_scope.caching_device, partitioner=name_or_scope.partitioner,
                dtype=name_or_scope.dtype, custom_getter=name_or_scope.custom_getter,
                name_scope=name_or_scope.original_name_scope, use_resource=name_or_scope.use_resource,
                constraint=name_or_scope.constraint)
            self._apply_overrides(obj)
            self._cached = obj

    def _apply_overrides(self, obj):
        if self._initializer is not None:
            obj.set_initializer(self._initializer)
        if self._regularizer is not None:
            obj.set_regularizer(self._regularizer)
        if self._caching_device is not None:
            obj.set_caching_device(self._caching_device)
        if self._partitioner is not None:
            obj.set_partitioner(self._partitioner)
        if self._custom_getter is not None:
            obj.set_custom_getter(_wrap_custom_getter(self._custom_getter, obj.custom_getter))
        if self._dtype is not None:
            obj.set_dtype(self._dtype)
        if self._use_resource is not None:
            obj.set_use_resource(self._use_resource)
        if self._constraint is not None:
            obj._constraint = self._constraint

    def __enter__(self):
        self._old = self._store.current_scope
        if isinstance(self._name_or_scope, VariableScope):
            self._store.open_variable_scope(self._new_name)
            self._old_subscopes = copy.copy(self._store.variable_scopes_count)
            obj = self._cached
        else:
            old = self._old
            self._new_name = old.name + "/" + self._name_or_scope if old.name else self._name_or_scope
            reuse = self._reuse or old.reuse  # reuse is inherited by sub-scopes
            name_scope = self._name_or_scope if self._old_name_scope is None else self._old_name_scope
            obj = VariableScope(reuse, name=self._new_name, initializer=old.initializer,
                                regularizer=old.regularizer, caching_device=old.caching_device,
                                partitioner=old.partitioner, dtype=old.dtype, use_resource=old.use_resource,
                                custom_getter=old.custom_getter, name_scope=name_scope, constraint=old.constraint)
            self._apply_overrides(obj)
            self._store.open_variable_scope(self._new_name)
        self._store.current_scope = obj
        self._last_object = obj
        return obj

    def __exit__(self, *exc):
        if self._store.current_scope is not self._last_object:
            raise RuntimeError("Improper nesting of variable_scope.")
        if isinstance(self._name_or_scope, VariableScope):
            self._store.variable_scopes_count = self._old_subscopes
        else:
            self._store.close_variable_subscopes(self._new_name)
        self._store.current_scope = self._old


class variable_scope:
    """``tf.variable_scope(name_or_scope, default_name=None, values=None, initializer=None,
    regularizer=None, caching_device=None, partitioner=None, custom_getter=None, reuse=None,
    dtype=None, use_resource=None, constraint=None, auxiliary_name_scope=True)``.

    Opens a variable scope (and a name scope of the same name, uniquified);
    ``reuse=True`` / ``tf.AUTO_REUSE`` lets get_variable return existing
    variables; reuse is inherited by sub-scopes. With ``name_or_scope=None``
    the scope is ``default_name``, made unique (``layer``, ``layer_1``, ...).
    """

    def __init__(self, name_or_scope, default_name=None, values=None, initializer=None, regularizer=None,
                 caching_device=None, partitioner=None, custom_getter=None, reuse=None, dtype=None,
                 use_resource=None, constraint=None, auxiliary_name_scope=True):
        self._name_or_scope = name_or_scope
        self._default_name = default_name
        self._values = values
        self._initializer = initializer
        self._regularizer = regularizer
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._reuse = reuse
        self._dtype = dtype
        self._use_resource = use_resource
        self._constraint = constraint
        if self._default_name is None and self._name_or_scope is None:
            raise TypeError("If default_name is None then name_or_scope is required")
        if self._reuse is False:
            self._reuse = None  # False means "inherit", as None
        if not (self._reuse is True or self._reuse is None or self._reuse is AUTO_REUSE):
            raise ValueError("The reuse parameter must be True or False or None.")
        if self._values is None:
            self._values = []
        if not isinstance(auxiliary_name_scope, bool):
            raise TypeError("The auxiliary_name_scope must be `True` or `False`, while get {}"
                            .format(auxiliary_name_scope))
        self._auxiliary_name_scope = auxiliary_name_scope
        self._graph = None
        for v in self._values:
            el = v._as_graph_element() if hasattr(v, "_as_graph_element") else v
            if isinstance(el, Tensor) and not el._is_eager:
                self._graph = el.graph
                break
        self._stack = []

    def __enter__(self):
        graph = self._graph
        if graph is not None and graph is not get_default_graph():
            cm = graph.as_default()
            cm.__enter__()
            self._stack.append(cm)
        else:
            graph = get_default_graph()
        try:
            return self._enter(graph)
        except BaseException:
            self._unwind(None, None, None)
            raise

    def _push(self, cm):
        value = cm.__enter__()
        self._stack.append(cm)
        return value

    def _enter(self, graph):
        current_name_scope = None
        if not self._auxiliary_name_scope:
            ns = graph.get_name_scope()
            current_name_scope = graph.name_scope(ns + "/" if ns else "")
        if self._name_or_scope is not None:
            if not isinstance(self._name_or_scope, (VariableScope, str)):
                raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
            if isinstance(self._name_or_scope, str):
                name_scope = self._name_or_scope
            else:
                name_scope = self._name_or_scope.name.split("/")[-1]
            if name_scope or current_name_scope is not None:
                ns_name = self._push(current_name_scope or graph.name_scope(name_scope))
                if isinstance(self._name_or_scope, str):
                    old_name_scope = ns_name
                else:
                    old_name_scope = self._name_or_scope.original_name_scope
            else:
                old_name_scope = None  # entering the root scope
            pure = _pure_variable_scope(
                self._name_or_scope, reuse=self._reuse, initializer=self._initializer,
                regularizer=self._regularizer, caching_device=self._caching_device, partitioner=self._partitioner,
                custom_getter=self._custom_getter, old_name_scope=old_name_scope, dtype=self._dtype,
                use_resource=self._use_resource, constraint=self._constraint, graph=graph)
            return self._push(pure)
        if self._reuse:
            raise ValueError("reuse=True cannot be used without a name_or_scope")
        ns_name = self._push(current_name_scope or graph.name_scope(self._default_name))
        unique = _get_unique_variable_scope(self._default_name)
        pure = _pure_variable_scope(
            unique, initializer=self._initializer, regularizer=self._regularizer,
            caching_device=self._caching_device, partitioner=self._partitioner, custom_getter=self._custom_getter,
            old_name_scope=ns_name, dtype=self._dtype, use_resource=self._use_resource,
            constraint=self._constraint, graph=graph)
        return self._push(pure)

    def __exit__(self, exc_type, exc, tb):
        self._unwind(exc_type, exc, tb)
        return False

    def _unwind(self, exc_type, exc, tb):
        while self._stack:
            self._stack.pop().__exit__(exc_type, exc, tb)


def variable_op_scope(values, name_or_scope, default_name=None, initializer=None, regularizer=None,
                      caching_device=None, partitioner=None, custom_getter=None, reuse=None, dtype=None,
                      use_resource=None, constraint=None):
    """Deprecated TF 1.x spelling of ``variable_scope(name_or_scope, default_name, values, ...)``."""
    return variable_scope(name_or_scope, default_name=default_name, values=values, initializer=initializer,
                          regularizer=regularizer, caching_device=caching_device, partitioner=partitioner,
                          custom_getter=custom_getter, reuse=reuse, dtype=dtype, use_resource=use_resource,
                          constraint=constraint)
