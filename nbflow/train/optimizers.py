"""tf.train optimizers (TF 1.x): Optimizer and GradientDescent, Momentum, Adam,
RMSProp, Adagrad and Adadelta, with TF's training ops.

Each update is one stateful op with TF's type name (ApplyGradientDescent,
ApplyMomentum, ApplyAdam, ApplyRMSProp, ApplyCenteredRMSProp, ApplyAdagrad,
ApplyAdadelta; defined in nbflow/ops/training_ops.py). Its leading inputs are
variables ("ref" inputs: the variable and its slots); its kernel rewrites
their arrays in place, in one pass. Hyper-parameters are scalar inputs, so a
learning rate may be a float, a Tensor or a placeholder.

Slots are variables named as TF names them (``w/Adam``, ``w/Adam_1``,
``w/Momentum``, ...): ``get_variable("")`` inside ``variable_scope(None,
default_name="<var op name>/<optimizer name>")``, non-trainable, in
GLOBAL_VARIABLES. Adam's ``beta1_power``/``beta2_power`` are non-slot
variables.
"""
from collections.abc import Mapping

from nbflow.autodiff.gradients import gradients
from nbflow.autodiff.tape import GradientTape
from nbflow.framework import context, dtypes
from nbflow.framework.eager_tensor import is_eager_variable
from nbflow.framework.graph import GraphKeys, Operation, Tensor, control_dependencies, get_default_graph, name_scope
from nbflow.ops import array_ops, init_ops, math_ops, state_ops, variable_scope
from nbflow.ops.base import apply_op, convert_to_tensor
from nbflow.ops.control_flow_ops import group
from nbflow.ops.control_flow_ops import tuple as _tf_tuple
from nbflow.ops.training_ops import (
    ApplyAdadelta, ApplyAdagrad, ApplyAdam, ApplyCenteredRMSProp, ApplyGradientDescent, ApplyMomentum, ApplyRMSProp,
)
from nbflow.ops.variables import Variable, trainable_variables

__all__ = [
    "Optimizer", "GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer", "RMSPropOptimizer",
    "AdagradOptimizer", "AdadeltaOptimizer",
]


def _apply(op_cls, args, attrs, name=None):
    """Build one ApplyX node; ``args`` follow ``op_cls.input_names`` (variables first)."""
    inputs = []
    for i, (arg_name, a) in enumerate(zip(op_cls.input_names, args)):
        if i < op_cls.n_refs:
            ref = a._ref() if isinstance(a, Variable) else a
            if _is_eager_variable(ref):
                inputs.append(ref)  # eager: the executor hands the kernel its handle
                continue
            if not isinstance(ref, Tensor):
                raise TypeError("'%s' of %s must be a Variable, got %r" % (arg_name, op_cls.type, a))
            state_ops.ref_name(ref)  # raises unless it is a variable
            inputs.append(ref)
        elif isinstance(a, Tensor):
            inputs.append(a)  # a dtype mismatch is the op's TypeError
        else:
            inputs.append(convert_to_tensor(a, dtype=inputs[0].dtype, name=arg_name))
    return apply_op(op_cls, inputs, attrs, name=name or op_cls.type)


def _apply_update(op_cls, args, attrs, name=None):
    """``_apply``'s update op (graph); eagerly the update has run: the variable's new value."""
    out = _apply(op_cls, args, attrs, name)
    return out if context.executing_eagerly() else out.op


# ---------------------------------------------------------------------------
# Optimizer
# ---------------------------------------------------------------------------

_VALID_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64)


_is_eager_variable = is_eager_variable


def _var_op_name(var):
    """A graph variable's op name; an eager variable's name without ":0"."""
    if _is_eager_variable(var):
        return var.name.rsplit(":", 1)[0]
    return var.op.name


def _var_key(var):
    if _is_eager_variable(var):
        return (None, var._unique_id)
    return (var.op.graph, var.op.name)


def _call_if_callable(x):
    return x() if callable(x) else x


def _flatten(x):
    """``var_list`` as TF 1.15's nest.flatten walks it: lists, tuples and dict views
    (``weights.values()``) in order, dicts by sorted key, nested. Beyond TF, any other
    iterable (a generator, a set) is walked too, where TF rejects it."""
    if isinstance(x, (Variable, Tensor, str, bytes)):  # Variables and Tensors are iterable: leaves here
        return [x]
    if isinstance(x, Mapping):
        return _flatten([x[k] for k in sorted(x)])
    try:
        items = iter(x)
    except TypeError:
        return [x]
    out = []
    for e in items:
        out.extend(_flatten(e))
    return out


class Optimizer:
    """Base class of the TF 1.x optimizers.

    ``minimize`` = ``compute_gradients`` + ``apply_gradients``. Subclasses
    define ``_create_slots(var_list)``, ``_prepare()`` and
    ``_apply_dense(grad, var)`` (and optionally ``_finish``)."""

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking, name):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots = {}          # slot name -> {var key -> slot variable}
        self._non_slot_dict = {}  # (name, graph) -> variable

    def get_name(self):
        return self._name

    # -- public API -------------------------------------------------------------
    def minimize(self, loss, global_step=None, var_list=None, gate_gradients=GATE_OP, aggregation_method=None,
                 colocate_gradients_with_ops=False, name=None, grad_loss=None):
        """Add ops that minimize ``loss`` by updating ``var_list`` (default: the
        trainable variables); increments ``global_step`` when given."""
        if callable(loss) and not context.executing_eagerly():
            loss = loss()
        grads_and_vars = self.compute_gradients(
            loss, var_list=var_list, gate_gradients=gate_gradients, aggregation_method=aggregation_method,
            colocate_gradients_with_ops=colocate_gradients_with_ops, grad_loss=grad_loss)
        vars_with_grad = [v for g, v in grads_and_vars if g is not None]
        if not vars_with_grad:
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not support gradients, "
                "between variables %s and loss %s." % ([str(v) for _, v in grads_and_vars], loss))
        return self._apply_gradients(grads_and_vars, global_step, name, gate=[loss])

    def compute_gradients(self, loss, var_list=None, gate_gradients=GATE_OP, aggregation_method=None,
                          colocate_gradients_with_ops=False, grad_loss=None):
        """``[(gradient, variable), ...]`` of ``loss``; the gradient is None for a
        variable ``loss`` does not depend on. Eagerly, ``loss`` is a function,
        differentiated with a GradientTape."""
        if context.executing_eagerly():
            return self._compute_gradients_eager(loss, var_list, grad_loss)
        if callable(loss):
            loss = loss()
        if gate_gradients not in (Optimizer.GATE_NONE, Optimizer.GATE_OP, Optimizer.GATE_GRAPH):
            raise ValueError("gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, "
                             "Optimizer.GATE_GRAPH.  Not %s" % gate_gradients)
        loss = convert_to_tensor(loss)
        self._assert_valid_dtypes([loss])
        if grad_loss is not None:
            grad_loss = convert_to_tensor(grad_loss)
            self._assert_valid_dtypes([grad_loss])
        if var_list is None:
            var_list = trainable_variables()
        else:
            var_list = _flatten(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        for v in var_list:
            if not isinstance(v, (Variable, Tensor)):
                raise NotImplementedError("Trying to optimize unsupported type ", v)
        grads = gradients(loss, var_list, grad_ys=grad_loss, aggregation_method=aggregation_method,
                          colocate_gradients_with_ops=colocate_gradients_with_ops)
        if gate_gradients == Optimizer.GATE_GRAPH:
            grads = _tf_tuple(grads)
        grads_and_vars = list(zip(grads, var_list))
        self._assert_valid_dtypes([v for g, v in grads_and_vars if g is not None])
        return grads_and_vars

    def _compute_gradients_eager(self, loss, var_list, grad_loss):
        if not callable(loss):
            raise RuntimeError("`loss` passed to Optimizer.compute_gradients should be a function when eager "
                               "execution is enabled.")
        with GradientTape() as tape:
            if var_list is not None:
                var_list = _flatten(var_list)
                tape.watch(var_list)
            loss_value = loss()
        if var_list is None:
            var_list = list(tape.watched_variables())
        if not var_list:
            raise ValueError("No variables to optimize.")
        grads = tape.gradient(loss_value, var_list, grad_loss)
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """The op that applies ``grads_and_vars`` (pairs with None gradients are
        skipped); it also increments ``global_step`` when given.

        Every update op runs after all the gradients are computed: updates are
        in place, and a gradient that reads a variable (dh = dy @ W2^T reads
        W2) must see it before its own update. (TF gets this from GATE_OP's
        per-op gating in tf.gradients; here it is a control edge on each
        update op, which adds no op to the step.)"""
        return self._apply_gradients(grads_and_vars, global_step, name)

    def _apply_gradients(self, grads_and_vars, global_step, name, gate=()):
        """apply_gradients; ``gate``: more tensors/ops the updates must wait for
        (minimize passes the loss, so fetching it with the train op gives its
        value before the update)."""
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("No variables provided.")
        converted = []
        for g, v in grads_and_vars:
            if g is not None:
                try:
                    g = convert_to_tensor(g)
                except (TypeError, ValueError):
                    raise TypeError("Gradient must be convertible to a Tensor or IndexedSlices, or None: %s"
                                    % (g,)) from None
            if not isinstance(v, Variable):
                if isinstance(v, Tensor):
                    raise NotImplementedError("Trying to update a Tensor ", v)
                raise NotImplementedError("Trying to optimize unsupported type ", v)
            converted.append((g, v))
        var_list = [v for g, v in converted if g is not None]
        if not var_list:
            raise ValueError("No gradients provided for any variable: %s." % ([str(v) for _, v in converted],))
        for g, v in converted:
            if g is not None:
                if g.dtype is not v.dtype:
                    raise TypeError("Gradient %s has dtype %s but variable %s has dtype %s"
                                    % (g.name, g.dtype.name, v.name, v.dtype.name))
                if not g.shape.is_compatible_with(v.shape):
                    raise ValueError("Gradient %s has shape %s, incompatible with variable %s of shape %s"
                                     % (g.name, g.shape, v.name, v.shape))
        gate_ops = []
        for t in [] if context.executing_eagerly() else [g for g, _ in converted if g is not None] + list(gate):
            if hasattr(t, "_as_graph_element") and not isinstance(t, (Tensor, Operation)):
                t = t._as_graph_element()
            t = t.op if isinstance(t, Tensor) else t
            if isinstance(t, Operation) and t not in gate_ops:
                gate_ops.append(t)
        with control_dependencies(None):
            self._create_slots(var_list)
        update_ops = []
        with name_scope(name, self._name) as scope:
            self._prepare()
            for grad, var in converted:
                if grad is None:
                    continue
                with name_scope("update_" + _var_op_name(var)):
                    update_ops.append(self._update_op(grad, var, gate_ops))
            if global_step is None:
                apply_updates = self._finish(update_ops, scope)
            else:
                with control_dependencies([self._finish(update_ops, "update")]):
                    apply_updates = state_ops.assign_add(global_step, 1, name=scope)
        if context.executing_eagerly():
            return None  # the updates have run (TF 2 returns no op either)
        if isinstance(apply_updates, Tensor):
            apply_updates = apply_updates.op
        train_ops = get_default_graph().get_collection_ref(GraphKeys.TRAIN_OP)
        if apply_updates not in train_ops:
            train_ops.append(apply_updates)
        return apply_updates

    def get_slot(self, var, name):
        """The slot variable ``name`` made for ``var`` (None if there is none)."""
        named = self._slots.get(name)
        if not named:
            return None
        return named.get(_var_key(var))

    def get_slot_names(self):
        return sorted(self._slots.keys())

    def variables(self):
        """The optimizer's variables (slots and non-slot ones) of the default graph, sorted by name."""
        graph = get_default_graph()
        out = [v for (_, g), v in self._non_slot_dict.items() if g is graph]
        for slots in self._slots.values():
            out.extend(v for v in slots.values() if v.graph is graph)
        return sorted(out, key=lambda v: v.name)

    # -- for subclasses ------------------------------------------------------------
    def _update_op(self, grad, var, gate_ops=()):
        op = self._apply_dense(grad, var)
        if context.executing_eagerly():
            if var.constraint is not None:
                var.assign(var.constraint(var))
            return op
        update = op.op if isinstance(op, Tensor) else op
        for g in gate_ops:
            if g is not update:
                update._add_control_input(g)
        if var.constraint is not None:
            with control_dependencies([op]):
                return var.assign(var.constraint(var))
        return op

    def _create_slots(self, var_list):
        pass

    def _prepare(self):
        pass

    def _apply_dense(self, grad, var):
        raise NotImplementedError()

    def _finish(self, update_ops, name_scope):
        return group(*update_ops, name=name_scope)

    def _assert_valid_dtypes(self, tensors):
        for t in tensors:
            dtype = t.dtype
            if dtype not in _VALID_DTYPES:
                raise ValueError("Invalid type %r for %s, expected: %s."
                                 % (dtype.name, t.name, [d.name for d in _VALID_DTYPES]))

    def _slot_dict(self, slot_name):
        return self._slots.setdefault(slot_name, {})

    def _get_or_make_slot_with_initializer(self, var, initializer, shape, dtype, slot_name, op_name):
        """The slot ``slot_name`` of ``var``, made with ``initializer`` (a callable
        initializer when the shape is known, else a Tensor) if new."""
        named = self._slot_dict(slot_name)
        key = _var_key(var)
        if key not in named:
            named[key] = _create_slot(var, initializer, op_name, shape=shape, dtype=dtype)
        return named[key]

    def _zeros_slot(self, var, slot_name, op_name):
        if var.get_shape().is_fully_defined():
            init = init_ops.zeros_initializer()
        else:
            init = array_ops.zeros_like(var.initialized_value())
        return self._get_or_make_slot_with_initializer(var, init, var.get_shape(), var.dtype, slot_name, op_name)

    def _get_or_make_slot(self, var, val, slot_name, op_name):
        return self._get_or_make_slot_with_initializer(var, val, None, None, slot_name, op_name)

    def _create_non_slot_variable(self, initial_value, name, colocate_with):
        if _is_eager_variable(colocate_with):
            key = (name, None)
            v = self._non_slot_dict.get(key)
            if v is None:
                with context.init_scope(), context.eager_device(colocate_with.device):  # beside it, as TF
                    v = self._non_slot_dict[key] = Variable(initial_value, name=name, trainable=False)
            return v
        graph = colocate_with.graph
        key = (name, graph)
        v = self._non_slot_dict.get(key)
        if v is None:
            with graph.as_default(), graph.device(colocate_with.device or ""), control_dependencies(None):
                v = Variable(initial_value, name=name, trainable=False)
            self._non_slot_dict[key] = v
        return v

    def _get_non_slot_variable(self, name, graph=None):
        eager = self._non_slot_dict.get((name, None))
        if eager is not None:
            return eager
        return self._non_slot_dict.get((name, graph or get_default_graph()))

    def _non_slot_variables(self):
        return list(self._non_slot_dict.values())


def _create_slot(primary, initializer, op_name, shape=None, dtype=None):
    """A slot variable of ``primary``: ``<primary op name>/<op_name>[_N]``, not trainable."""
    callable_init = callable(initializer)
    if _is_eager_variable(primary):
        # an eager variable's slots are eager variables (made on first use, outside any trace),
        # on its device (host memory or a GPU: the update op runs where both live)
        with context.init_scope(), context.eager_device(primary.device):
            value = initializer(shape, dtype=dtype) if callable_init else initializer
            return Variable(value, name=_var_op_name(primary) + "/" + op_name, trainable=False)
    validate_shape = shape.is_fully_defined() if callable_init and shape is not None \
        else initializer.shape.is_fully_defined()
    # colocated with the primary (TF's colocate_with): a slot on a ps task lives beside its variable
    with get_default_graph().device(primary.device or ""), control_dependencies(None):
        with variable_scope.variable_scope(None, _var_op_name(primary) + "/" + op_name):
            return variable_scope.get_variable(
                "", initializer=initializer, trainable=False, shape=shape if callable_init else None,
                dtype=dtype if callable_init else None, validate_shape=validate_shape)


def _cast(x, var):
    return math_ops.cast(x, var.dtype)


class GradientDescentOptimizer(Optimizer):
    """``var -= learning_rate * grad`` (ApplyGradientDescent)."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._learning_rate_tensor = None

    def _prepare(self):
        self._learning_rate_tensor = convert_to_tensor(_call_if_callable(self._learning_rate), name="learning_rate")

    def _apply_dense(self, grad, var):
        return _apply_update(ApplyGradientDescent, [var, _cast(self._learning_rate_tensor, var), grad],
                      {"use_locking": self._use_locking})


class MomentumOptimizer(Optimizer):
    """``accum = momentum * accum + grad; var -= lr * accum`` (ApplyMomentum);
    slot ``momentum`` (``w/Momentum``)."""

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = convert_to_tensor(_call_if_callable(self._learning_rate), name="learning_rate")
        self._momentum_tensor = convert_to_tensor(_call_if_callable(self._momentum), name="momentum")

    def _apply_dense(self, grad, var):
        mom = self.get_slot(var, "momentum")
        return _apply_update(ApplyMomentum, [var, mom, _cast(self._learning_rate_tensor, var), grad,
                                      _cast(self._momentum_tensor, var)],
                      {"use_locking": self._use_locking, "use_nesterov": bool(self._use_nesterov)})


class AdamOptimizer(Optimizer):
    """Adam (Kingma & Ba), TF's form: ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``var -= lr_t * m / (sqrt(v) + epsilon)`` (ApplyAdam); slots ``m``, ``v``
    (``w/Adam``, ``w/Adam_1``) and non-slot ``beta1_power``, ``beta2_power``."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, use_locking=False, name="Adam"):
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._beta1 = beta1
        self._beta2 = beta2
        self._epsilon = epsilon
        self._lr_t = self._beta1_t = self._beta2_t = self._epsilon_t = None

    def _get_beta_accumulators(self):
        graph = get_default_graph()
        return (self._get_non_slot_variable("beta1_power", graph=graph),
                self._get_non_slot_variable("beta2_power", graph=graph))

    def _create_slots(self, var_list):
        first_var = min(var_list, key=lambda x: x.name)
        self._create_non_slot_variable(initial_value=self._beta1, name="beta1_power", colocate_with=first_var)
        self._create_non_slot_variable(initial_value=self._beta2, name="beta2_power", colocate_with=first_var)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _prepare(self):
        self._lr_t = convert_to_tensor(_call_if_callable(self._lr), name="learning_rate")
        self._beta1_t = convert_to_tensor(_call_if_callable(self._beta1), name="beta1")
        self._beta2_t = convert_to_tensor(_call_if_callable(self._beta2), name="beta2")
        self._epsilon_t = convert_to_tensor(_call_if_callable(self._epsilon), name="epsilon")

    def _apply_dense(self, grad, var):
        m = self.get_slot(var, "m")
        v = self.get_slot(var, "v")
        beta1_power, beta2_power = self._get_beta_accumulators()
        return _apply_update(ApplyAdam, [var, m, v, _cast(beta1_power, var), _cast(beta2_power, var),
                                  _cast(self._lr_t, var), _cast(self._beta1_t, var), _cast(self._beta2_t, var),
                                  _cast(self._epsilon_t, var), grad],
                      {"use_locking": self._use_locking, "use_nesterov": False})

    def _finish(self, update_ops, name_scope):
        with control_dependencies(update_ops):
            beta1_power, beta2_power = self._get_beta_accumulators()
            update_beta1 = beta1_power.assign(beta1_power * self._beta1_t, use_locking=self._use_locking)
            update_beta2 = beta2_power.assign(beta2_power * self._beta2_t, use_locking=self._use_locking)
        return group(*update_ops + [update_beta1, update_beta2], name=name_scope)


class RMSPropOptimizer(Optimizer):
    """RMSProp (ApplyRMSProp, or ApplyCenteredRMSProp when ``centered``); slots
    ``rms`` (starts at ones), ``mg`` when centered, and ``momentum``."""

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False, centered=False,
                 name="RMSProp"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._decay = decay
        self._momentum = momentum
        self._epsilon = epsilon
        self._centered = centered

    def _create_slots(self, var_list):
        for v in var_list:
            if v.get_shape().is_fully_defined():
                init_rms = init_ops.ones_initializer(dtype=v.dtype)
            else:
                init_rms = array_ops.ones_like(v.initialized_value())
            self._get_or_make_slot_with_initializer(v, init_rms, v.get_shape(), v.dtype, "rms", self._name)
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = convert_to_tensor(_call_if_callable(self._learning_rate), name="learning_rate")
        self._decay_tensor = convert_to_tensor(_call_if_callable(self._decay), name="decay")
        self._momentum_tensor = convert_to_tensor(_call_if_callable(self._momentum), name="momentum")
        self._epsilon_tensor = convert_to_tensor(_call_if_callable(self._epsilon), name="epsilon")

    def _apply_dense(self, grad, var):
        rms = self.get_slot(var, "rms")
        mom = self.get_slot(var, "momentum")
        hyper = [_cast(self._learning_rate_tensor, var), _cast(self._decay_tensor, var),
                 _cast(self._momentum_tensor, var), _cast(self._epsilon_tensor, var)]
        attrs = {"use_locking": self._use_locking}
        if self._centered:
            mg = self.get_slot(var, "mg")
            return _apply_update(ApplyCenteredRMSProp, [var, mg, rms, mom] + hyper + [grad], attrs)
        return _apply_update(ApplyRMSProp, [var, rms, mom] + hyper + [grad], attrs)


class AdagradOptimizer(Optimizer):
    """``accum += grad^2; var -= lr * grad / sqrt(accum)`` (ApplyAdagrad); slot
    ``accumulator`` (``w/Adagrad``) starting at ``initial_accumulator_value``."""

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"):
        if initial_accumulator_value <= 0.0:
            raise ValueError("initial_accumulator_value must be positive: %s" % initial_accumulator_value)
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            if v.get_shape().is_fully_defined():
                init = init_ops.constant_initializer(self._initial_accumulator_value, dtype=v.dtype)
            else:
                init = array_ops.ones_like(v.initialized_value()) * self._initial_accumulator_value
            self._get_or_make_slot_with_initializer(v, init, v.get_shape(), v.dtype, "accumulator", self._name)

    def _prepare(self):
        self._learning_rate_tensor = convert_to_tensor(_call_if_callable(self._learning_rate), name="learning_rate")

    def _apply_dense(self, grad, var):
        acc = self.get_slot(var, "accumulator")
        return _apply_update(ApplyAdagrad, [var, acc, _cast(self._learning_rate_tensor, var), grad],
                      {"use_locking": self._use_locking, "update_slots": True})


class AdadeltaOptimizer(Optimizer):
    """Adadelta (Zeiler) (ApplyAdadelta); slots ``accum`` and ``accum_update``
    (``w/Adadelta``, ``w/Adadelta_1``)."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-8, use_locking=False, name="Adadelta"):
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._rho = rho
        self._epsilon = epsilon

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "accum", self._name)
            self._zeros_slot(v, "accum_update", self._name)

    def _prepare(self):
        self._lr_t = convert_to_tensor(_call_if_callable(self._lr), name="lr")
        self._rho_t = convert_to_tensor(_call_if_callable(self._rho), name="rho")
        self._epsilon_t = convert_to_tensor(_call_if_callable(self._epsilon), name="epsilon")

    def _apply_dense(self, grad, var):
        accum = self.get_slot(var, "accum")
        accum_update = self.get_slot(var, "accum_update")
        return _apply_update(ApplyAdadelta, [var, accum, accum_update, _cast(self._lr_t, var), _cast(self._rho_t, var),
                                      _cast(self._epsilon_t, var), grad],
                      {"use_locking": self._use_locking})
