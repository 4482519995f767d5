"""``tf.keras.optimizers.Optimizer``: TF 2's OptimizerV2, on nbflow's fused Apply ops.

What differs from tf.train's optimizers (nbflow/train/optimizers.py), as in TF:

- hyper-parameters (``learning_rate``, ``beta_1`` ...) become float32
  variables ``<Name>/<hyper>`` the first time they are needed, so assigning
  ``opt.learning_rate = 0.01`` changes later steps (in a graph too: the
  value is loaded in the default session); a LearningRateSchedule or a
  callable stays a Python object and is evaluated at each apply;
- ``iterations`` (int64 variable ``<Name>/iter``) counts the applied steps
  (Adam's beta powers and the schedules read it; no ``global_step``);
- slots are made lazily, in ``apply_gradients``, named ``<Name>/<var>/<slot>``
  (``Adam/w/m:0``), and live with the variable: eager variables get eager
  slots (also while a ``tf.function`` traces: they are made under
  ``init_scope``), graph variables get graph variables that
  ``tf.global_variables_initializer()`` initializes;
- ``apply_gradients`` returns the ``iterations`` increment: an op to run in a
  graph; eagerly the update has already run.

Updates are in place, so in a graph each update op waits for every gradient
(and for ``minimize``'s loss) through control edges, as tf.train's do.
"""

import numpy as np

from nbflow.autodiff.gradients import gradients
from nbflow.autodiff.tape import GradientTape
from nbflow.framework import context, dtypes, hooks, nest
from nbflow.framework.graph import Tensor, control_dependencies, name_scope
from nbflow.ops import array_ops, clip_ops, math_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.variables import Variable
from nbflow.keras.optimizers import schedules
from nbflow.keras.optimizers.utils import filter_grads, gate_ops, is_number, state_key
from nbflow.train.optimizers import _apply_update, _is_eager_variable, _var_key, _var_op_name

__all__ = ["Optimizer"]


class Optimizer:
    """Base class of the Keras optimizers (TF 2's ``OptimizerV2``).

    Subclasses set hyper-parameters with ``_set_hyper`` in ``__init__`` and
    define ``_create_slots(var_list)`` (with ``add_slot``),
    ``_prepare_local(var_dtype, coefficients)`` and
    ``_resource_apply_dense(grad, var, coefficients)``, which builds one fused
    Apply op (``_apply_update``), and ``get_config``."""

    _HAS_AGGREGATE_GRAD = True

    def __init__(self, name, **kwargs):
        allowed = {"clipnorm", "clipvalue", "lr", "decay"}
        for k in kwargs:
            if k not in allowed:
                raise TypeError("Unexpected keyword argument passed to optimizer: " + str(k))
            if kwargs[k] is not None and is_number(kwargs[k]) and kwargs[k] < 0:
                raise ValueError("Expected {} >= 0, received: {}".format(k, kwargs[k]))
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._name = name
        self._hyper = {}        # name -> Python number, schedule, callable or Tensor
        self._hyper_vars = {}   # state key -> {name: float32 variable}
        self._iterations = {}   # state key -> int64 variable
        self._slots = {}        # variable key -> {slot name: variable}
        self._slot_names = []
        self._slot_owners = {}  # variable key -> the variable (tf.train.Checkpoint keys slots by it)
        self._deferred_slots = {}  # (variable key, slot name) -> (value, callback): restored when made
        self._weights = []      # iterations and slots, in creation order
        self._initial_decay = kwargs.get("decay", 0.0)
        self.clipnorm = kwargs.get("clipnorm")
        self.clipvalue = kwargs.get("clipvalue")

    # -- hyper-parameters as attributes (``opt.learning_rate``, ``opt.lr``) ------------------
    def __getattr__(self, name):  # only for names normal lookup does not find
        hyper = self.__dict__.get("_hyper")
        if hyper is not None:
            if name == "lr":
                name = "learning_rate"
            if name in hyper:
                return self._get_hyper(name)
        raise AttributeError("'%s' object has no attribute '%s'" % (type(self).__name__, name))

    def __setattr__(self, name, value):
        if name == "lr":
            name = "learning_rate"
        if "_hyper" in self.__dict__ and name in self._hyper:
            self._set_hyper(name, value)
        else:
            object.__setattr__(self, name, value)

    def _set_hyper(self, name, value):
        prev = self._hyper.get(name)
        self._hyper[name] = value
        if is_number(prev) and is_number(value):
            for key, hyper_vars in self._hyper_vars.items():
                var = hyper_vars.get(name)
                if var is None:
                    continue
                if key is None:
                    var.assign(value)
                else:
                    with key.as_default():
                        var.load(value)
        elif not is_number(value):
            for hyper_vars in self._hyper_vars.values():
                hyper_vars.pop(name, None)

    def _hyper_variable(self, name):
        with context.init_scope():
            hyper_vars = self._hyper_vars.setdefault(state_key(), {})
            var = hyper_vars.get(name)
            if var is None:
                var = hyper_vars[name] = self._make_variable(name, np.float32(self._hyper[name]), dtypes.float32)
        return var

    def _get_hyper(self, name, dtype=None):
        value = self._hyper[name]
        if isinstance(value, schedules.LearningRateSchedule):
            return value
        if callable(value):
            value = value()
        elif is_number(value):
            value = self._hyper_variable(name)
        if dtype is not None:
            return math_ops.cast(value, dtype)
        return value

    def _serialize_hyperparameter(self, name):
        value = self._hyper[name]
        if isinstance(value, schedules.LearningRateSchedule):
            return schedules.serialize(value)
        if callable(value):
            return value()
        if isinstance(value, Tensor):
            return value.numpy() if hasattr(value, "numpy") else value
        return value

    # -- the optimizer's variables ------------------------------------------------------------
    def _make_variable(self, name, initial_value, dtype):
        """A non-trainable variable ``<Name>/<name>`` outside any trace or control-flow context."""
        with context.init_scope():
            with control_dependencies(None), name_scope(self._name + "/"):
                return Variable(initial_value, name=name, trainable=False, dtype=dtype)

    @property
    def iterations(self):
        """The int64 variable counting the steps applied (made on first use)."""
        with context.init_scope():
            key = state_key()
            var = self._iterations.get(key)
            if var is None:
                var = self._iterations[key] = self._make_variable("iter", np.int64(0), dtypes.int64)
                self._weights.append(var)
        return var

    @iterations.setter
    def iterations(self, variable):
        with context.init_scope():
            key = state_key()
        if key in self._iterations:
            raise RuntimeError("Cannot set `iterations` to a new Variable after the Optimizer weights have been "
                               "created")
        self._iterations[key] = variable
        self._weights.append(variable)

    def add_slot(self, var, slot_name, initializer="zeros"):
        """The slot ``slot_name`` of ``var``, made if new: ``initializer`` is "zeros", "ones",
        a number (fill value) or an initializer ``f(shape, dtype=)``."""
        if slot_name not in self._slot_names:
            self._slot_names.append(slot_name)
        slots = self._slots.setdefault(_var_key(var), {})
        slot = slots.get(slot_name)
        if slot is not None:
            return slot
        if initializer == "zeros":
            initializer = 0.0
        elif initializer == "ones":
            initializer = 1.0
        shape, dtype = var.shape, var.dtype
        with context.init_scope():
            graph = None if _is_eager_variable(var) else var.graph
            # an eager variable's slots live on its device (host memory or a GPU), as TF colocates them
            with (graph.as_default() if graph is not None else context.eager_device(var.device)):
                with control_dependencies(None), name_scope(self._name + "/"):
                    if shape.is_fully_defined() and is_number(initializer):
                        value = np.full(shape.as_list(), initializer, dtype.as_numpy_dtype)
                        validate = True
                    elif shape.is_fully_defined():
                        value = lambda: initializer(shape.as_list(), dtype=dtype)  # noqa: E731
                        validate = True
                    else:  # a graph variable of unknown shape: filled at run time
                        value = array_ops.fill(array_ops.shape(var.initialized_value()),
                                               math_ops.cast(initializer, dtype))
                        validate = False
                    slot = Variable(value, name="%s/%s" % (_var_op_name(var), slot_name), trainable=False,
                                    dtype=dtype, validate_shape=validate)
        slots[slot_name] = slot
        self._weights.append(slot)
        self._slot_owners[_var_key(var)] = var
        deferred = self._deferred_slots.pop((_var_key(var), slot_name), None)
        if deferred is not None:
            self._restore_slot(var, slot_name, *deferred)
        return slot

    def get_slot(self, var, slot_name):
        try:
            return self._slots[_var_key(var)][slot_name]
        except KeyError:
            raise KeyError("No slot %r for variable %s (slots are made by the first apply_gradients)"
                           % (slot_name, getattr(var, "name", var))) from None

    def get_slot_names(self):
        """The slot names, in the order the optimizer first made them."""
        return list(self._slot_names)

    def variables(self):
        """``iterations`` and the slots, in the order they were made (not the hyper-parameters)."""
        return list(self._weights)

    @property
    def weights(self):
        return list(self._weights)

    def get_weights(self):
        if context.executing_eagerly():
            return [np.array(v.numpy()) for v in self._weights]
        session = hooks.call(hooks.DEFAULT_SESSION)
        if session is None:
            raise ValueError("get_weights of a graph-mode optimizer needs a default session")
        return session.run(list(self._weights))

    def set_weights(self, weights):
        params = self._weights
        if len(params) != len(weights):
            raise ValueError("You called `set_weights(weights)` on optimizer %s with a weight list of length %d, "
                             "but the optimizer was expecting %d weights." % (self._name, len(weights), len(params)))
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(p.shape.as_list()) != w.shape:
                raise ValueError("Optimizer weight shape %s not compatible with provided weight shape %s"
                                 % (p.shape, w.shape))
            if _is_eager_variable(p):
                p.assign(w)
            else:
                p.load(w)

    def _create_all_weights(self, var_list):
        _ = self.iterations
        for name, value in sorted(self._hyper.items()):
            if is_number(value):
                self._hyper_variable(name)
        self._create_slots(var_list)

    # -- applying gradients -----------------------------------------------------------------------
    def minimize(self, loss, var_list, grad_loss=None, name=None, tape=None):
        """Compute the gradients of ``loss`` (a callable; or a Tensor recorded by ``tape``, or
        any loss Tensor in a graph) for ``var_list`` (a list, or a callable returning one), then
        ``apply_gradients``."""
        grads_and_vars, loss_value = self._compute_gradients(loss, var_list, grad_loss, tape)
        return self._apply(grads_and_vars, name, gate=[] if loss_value is None else [loss_value])

    def _compute_gradients(self, loss, var_list, grad_loss=None, tape=None):
        if context.executing_eagerly():
            if tape is None:
                if not callable(loss):
                    raise ValueError("`tape` is required when a `Tensor` loss is passed.")
                tape = GradientTape()
            if callable(loss):
                with tape:
                    if not callable(var_list):
                        tape.watch(var_list)
                    loss = loss()
            if callable(var_list):
                var_list = var_list()
            var_list = nest.flatten(var_list)
            grads = tape.gradient(loss, var_list, grad_loss)
            return list(zip(grads, var_list)), None
        loss_value = loss() if callable(loss) else loss
        if callable(var_list):
            var_list = var_list()
        var_list = nest.flatten(var_list)
        loss_value = convert_to_tensor(loss_value)
        grads = gradients(loss_value, var_list, grad_ys=grad_loss)
        return list(zip(grads, var_list)), loss_value

    def _clip_gradients(self, grads):
        if self.clipnorm is not None:
            grads = [clip_ops.clip_by_norm(g, self.clipnorm) for g in grads]
        if self.clipvalue is not None:
            v = self.clipvalue
            grads = [clip_ops.clip_by_value(g, -v, v) for g in grads]
        return grads

    def apply_gradients(self, grads_and_vars, name=None, experimental_aggregate_gradients=True):
        """Apply the (gradient, variable) pairs (None gradients are skipped) and add 1 to
        ``iterations``. Returns the increment: an op in a graph; eagerly the updates have run
        (the returned value is ``iterations``)."""
        return self._apply(grads_and_vars, name)

    def _apply(self, grads_and_vars, name, gate=()):
        pairs = filter_grads(grads_and_vars)
        var_list = [v for _, v in pairs]
        eager = context.executing_eagerly()
        with name_scope(name or self._name):
            with context.init_scope():
                self._create_all_weights(var_list)
            grads = self._clip_gradients([g for g, _ in pairs])
            gates = [] if eager else gate_ops(list(grads) + list(gate))
            coefficients = {}
            for var in var_list:
                if var.dtype not in coefficients:
                    coefficients[var.dtype] = {}
                    self._prepare_local(var.dtype, coefficients[var.dtype])
            update_ops = []
            for grad, var in zip(grads, var_list):
                with name_scope("update_" + _var_op_name(var)):
                    update_ops.append(self._update(grad, var, coefficients[var.dtype], gates))
            if eager:
                self.iterations.assign_add(1)
                return self.iterations
            with control_dependencies(update_ops):
                return self.iterations.assign_add(1, read_value=False)

    def _update(self, grad, var, coefficients, gates):
        out = self._resource_apply_dense(grad, var, coefficients)
        if context.executing_eagerly():
            if var.constraint is not None:
                var.assign(var.constraint(var))
            return out
        op = out.op if isinstance(out, Tensor) else out
        for g in gates:
            if g is not op:
                op._add_control_input(g)
        if var.constraint is not None:
            with control_dependencies([op]):
                return var.assign(var.constraint(var)).op
        return op

    def _decayed_lr(self, var_dtype):
        """The learning rate of this step as a ``var_dtype`` tensor (a schedule is called on
        ``iterations``; the legacy ``decay`` divides by ``1 + decay * iterations``)."""
        lr_t = self._get_hyper("learning_rate", var_dtype)
        if isinstance(lr_t, schedules.LearningRateSchedule):
            local_step = math_ops.cast(self.iterations, var_dtype)
            lr_t = math_ops.cast(lr_t(local_step), var_dtype)
        if self._initial_decay > 0.0:
            local_step = math_ops.cast(self.iterations, var_dtype)
            decay_t = self._get_hyper("decay", var_dtype)
            lr_t = lr_t / (1.0 + decay_t * local_step)
        return lr_t

    # -- for subclasses --------------------------------------------------------------------------
    def _create_slots(self, var_list):
        pass

    def _prepare_local(self, var_dtype, coefficients):
        if "learning_rate" in self._hyper:
            coefficients["lr_t"] = array_ops.identity(self._decayed_lr(var_dtype))

    def _resource_apply_dense(self, grad, var, coefficients):
        raise NotImplementedError("Must be implemented in subclasses.")

    def _apply_op(self, op_cls, args, attrs=None):
        """One fused Apply op on ``args`` (variables first); the update op (graph) or the new value."""
        return _apply_update(op_cls, args, dict(attrs or {}, use_locking=False))

    # -- tf.train.Checkpoint's object graph (nbflow/train/tracking.py) -----------------------------------
    def _trackable_children(self):
        """``iter`` and the hyper-parameter variables (made now, eagerly, as a restore needs them)."""
        with context.init_scope():
            out = {"iter": self.iterations}
            for name, value in sorted(self._hyper.items()):
                if is_number(value):
                    out[name] = self._hyper_variable(name)
        return out

    def _trackable_slots(self):
        """[(variable, slot name, slot variable)] of the eager slots."""
        return [(self._slot_owners[key], name, slot) for key, slots in self._slots.items()
                if key in self._slot_owners and _is_eager_variable(self._slot_owners[key])
                for name, slot in slots.items()]

    def _restore_slot(self, var, slot_name, value, on_restored=None):
        """Give slot ``slot_name`` of ``var`` the saved ``value`` now, or when ``add_slot`` makes it."""
        slot = self._slots.get(_var_key(var), {}).get(slot_name)
        if slot is None:
            self._deferred_slots[(_var_key(var), slot_name)] = (value, on_restored)
            return False
        if tuple(slot.shape.as_list()) != tuple(np.shape(value)):
            raise ValueError("Cannot restore slot %r of %s: the checkpoint has shape %s, the slot %s"
                             % (slot_name, var.name, list(np.shape(value)), slot.shape))
        slot.assign(value)
        if on_restored is not None:
            on_restored()
        return True

    # -- serialization ------------------------------------------------------------------------------
    def get_config(self):
        config = {"name": self._name}
        if self.clipnorm is not None:
            config["clipnorm"] = self.clipnorm
        if self.clipvalue is not None:
            config["clipvalue"] = self.clipvalue
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if "lr" in config:
            config["learning_rate"] = config.pop("lr")
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return "<%s.%s name=%r>" % (type(self).__module__, type(self).__name__, self._name)
