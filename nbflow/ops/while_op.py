"""tf.while_loop: a ``While`` op that runs its body's sub-plan once per iteration.

The body (and the condition, evaluated on the body's outputs so one sub-plan
run is one iteration) is built in a control-flow context; see
control_flow_util. The op's outputs are

    [final loop variables..., iteration count, per-step emits..., histories...]

*Sequences* are inputs of shape [T, ...] whose slice t the body reads at step t,
and *emits* are values the body produces at each step, stacked along a new
first axis (dynamic_rnn's inputs and outputs; tf.while_loop has neither): the
op slices and stacks them, so a step copies no whole sequence. *Histories* are the loop
variables at the start of each step, stacked the same way; the op records one
only when its gradient reads it.

The gradient, ``WhileGrad``, runs the steps backwards: at step t it feeds the
recorded loop variables of step t, re-runs the body ops the gradient needs and
the body's gradient ops, and accumulates gradients of captured tensors.
"""
import numpy as np

from nbflow.ops.gradient_registry import RegisterGradient, gradients
from nbflow.framework.eager_tensor import is_eager_variable
from nbflow.framework import context, dtypes, nest
from nbflow.framework.graph import Tensor, get_default_graph, name_scope
from nbflow.framework.tensor_shape import TensorShape, as_shape
from nbflow.ops import array_ops, linalg_ops, nn_ops
from nbflow.ops import control_flow_util as util
from nbflow.ops.base import apply_op, convert_to_tensor

__all__ = ["while_loop"]


class While(util.SubgraphOp):
    type = "While"


def _kept(value, dtype, fresh):
    """A fetched sub-plan value as an array the loop may keep across iterations: a
    copy, unless the sub-plan made it fresh for this run (``Plan.fetch_is_fresh``:
    it is never written again while referenced) and it has the dtype wanted."""
    if fresh and type(value) is np.ndarray and (dtype is None or value.dtype == dtype):
        return value
    return np.array(value, dtype=dtype)


class _Stacks:
    """One value per step, stacked along a new first axis (an emitted output or a history).

    When the number of steps has a known bound (a loop over sequences), each value is
    copied into a buffer of that length, kept from run to run, and the result is its
    first ``steps`` rows: no list of per-step copies, no ``np.stack`` at the end, and
    no multi-megabyte allocation per run (whose page faults cost more than the copy).
    Like any op output buffer, it is rewritten by the op's next run. Without a bound
    the values are kept in a list and stacked at the end.
    """

    def __init__(self, op_name, what):
        self.op_name, self.what = op_name, what
        self.buf = None
        self.start(None)

    def start(self, bound):
        self.bound, self.items, self.n = bound, [], 0

    def add(self, value, owned):
        """``owned``: ``value`` is not rewritten later, so a list may keep it without a copy."""
        if self.bound is None:
            self.items.append(value if owned and type(value) is np.ndarray else np.array(value))
            return
        shape = np.shape(value)
        if self.n == 0:
            dtype = np.asarray(value).dtype
            if self.buf is None or self.buf.shape != (self.bound,) + shape or self.buf.dtype != dtype:
                self.buf = np.empty((self.bound,) + shape, dtype=dtype)
        elif shape != self.buf.shape[1:]:
            raise ValueError(_SHAPE_CHANGES % (self.op_name, self.what, self.buf.shape[1:], shape))
        self.buf[self.n] = value
        self.n += 1

    def result(self, dtype, shape):
        if self.bound is None or self.n == 0:
            return _stack(self.items, dtype, shape, self.op_name, self.what)
        return self.buf[:self.n]


_SHAPE_CHANGES = ("While op '%s': %s changes shape across iterations (%s, then %s); nbflow can stack it (for "
                  "its gradient or as an emitted output) only when its shape is fixed")


def _stack(arrays, dtype, shape, op_name, what):
    if not arrays:
        dims = shape.as_tuple() if shape.ndims is not None else ()
        return np.empty((0,) + tuple(d or 0 for d in dims), dtype=dtype)
    first = arrays[0].shape
    for a in arrays:
        if a.shape != first:
            raise ValueError(_SHAPE_CHANGES % (op_name, what, first, a.shape))
    return np.stack(arrays)


class WhileGrad(util.SubgraphOp):
    """Runs the gradient body for t = n-1 .. 0; inputs [n, histories, captured, grads, emit grads]."""

    type = "WhileGrad"


def _saved_for(record, wanted, steps, op_name):
    """The per-step values of ``wanted`` that the forward While kept."""
    if not wanted:
        return []
    if record is None:
        raise RuntimeError("WhileGrad '%s' runs without its forward While having run in the same step" % op_name)
    names, values = record
    index = {t: j for j, t in enumerate(names)}
    out = [values[index[t]] for t in wanted]
    if any(len(v) != steps for v in out):
        raise RuntimeError("WhileGrad '%s': the forward loop kept %s steps, expected %d"
                           % (op_name, [len(v) for v in out], steps))
    return out


@RegisterGradient("WhileGrad")
def _while_grad_grad(op, *grads):
    raise NotImplementedError("nbflow does not support second derivatives through tf.while_loop (op '%s')"
                              % op.name)


# -- building --------------------------------------------------------------

def build_while(cond_fn, body_fn, flat_init, invariants, maximum_iterations=None, back_prop=True, scope=None,
                sequences=()):
    """Build a While op over flat loop variables.

    ``cond_fn(args) -> bool Tensor``; ``body_fn(args, slices) -> (new args,
    emits)`` (lists of Tensors), where ``slices`` are step t's slices of
    ``sequences``. Returns (final loop variables, emitted stacks, op).
    """
    graph = get_default_graph()
    context = util.ControlFlowContext(graph, "while")
    sequences = [convert_to_tensor(q) for q in sequences]
    with context.entered():
        args = [util.func_arg(t.dtype, inv, "loop_var") for t, inv in zip(flat_init, invariants)]
        seq_args = [util.func_arg(q.dtype, q.shape[1:] if q.shape.ndims is not None else TensorShape(None),
                                  "sequence_slice") for q in sequences]
        c = _as_bool_scalar(cond_fn(list(args)))
        new_vars, emits = body_fn(list(args), list(seq_args))
        new_vars = [convert_to_tensor(v) for v in new_vars]
        emits = [convert_to_tensor(e) for e in emits]
        if len(new_vars) != len(args):
            raise ValueError("The body of tf.while_loop returned %d loop variables; it takes %d"
                             % (len(new_vars), len(args)))
        for k, (v, arg, init, inv) in enumerate(zip(new_vars, args, flat_init, invariants)):
            if v.dtype is not arg.dtype:
                raise TypeError("Loop variable %d (%s) enters the loop with dtype %s, but the body returns %s"
                                % (k, init.name, arg.dtype.name, v.dtype.name))
            if not inv.is_compatible_with(v.shape) or (inv.ndims is not None and v.shape.ndims is None):
                raise ValueError(
                    "Input tensor '%s' enters the loop with shape %s, but has shape %s after one iteration. "
                    "To allow the shape to vary across iterations, use the `shape_invariants` argument of "
                    "tf.while_loop to specify a less-specific shape." % (init.name, inv, v.shape))
        c_next = _as_bool_scalar(cond_fn(list(new_vars)))
    controls = []
    captured = util.external_inputs(context.contains, [c] + new_vars + emits + [c_next], args + seq_args, controls)
    inputs = list(flat_init) + sequences + captured
    has_max = maximum_iterations is not None
    if has_max:
        inputs.append(convert_to_tensor(maximum_iterations, dtype=dtypes.int32, name="maximum_iterations"))
    specs = [(arg.dtype, inv) for arg, inv in zip(args, invariants)] + [(dtypes.int32, TensorShape([]))]
    specs += [(e.dtype, TensorShape([None]).concatenate(e.shape)) for e in emits]
    specs += [(arg.dtype, TensorShape([None]).concatenate(inv)) for arg, inv in zip(args, invariants)]
    attrs = {"args": args, "seq_args": seq_args, "cond": c, "body_outputs": new_vars, "emits": emits, "cond_next": c_next,
             "captured": captured, "saved": [], "has_max": has_max, "back_prop": bool(back_prop), "context": context,
             "output_specs": specs}
    outs = apply_op(While, inputs, attrs, name=scope)
    for op in controls:
        outs[0].op._add_control_input(op)
    n = len(args)
    return outs[:n], outs[n + 1:n + 1 + len(emits)], outs[0].op


def _as_bool_scalar(c):
    c = convert_to_tensor(c)
    if c.dtype is not dtypes.bool_:
        raise TypeError("The condition of tf.while_loop must be a bool Tensor, got %s of dtype %s"
                        % (c.name, c.dtype.name))
    if not c.shape.is_compatible_with(TensorShape([])):
        raise ValueError("The condition of tf.while_loop must be a scalar, got shape %s" % c.shape)
    return c


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, name=None, maximum_iterations=None, return_same_structure=False):
    """``tf.while_loop``: repeat ``body`` while ``cond`` is true, as one op run by the executor."""
    if not callable(cond):
        raise TypeError("cond must be callable.")
    if not callable(body):
        raise TypeError("body must be callable.")
    if parallel_iterations < 1:
        raise TypeError("parallel_iterations must be a positive integer.")
    flat = nest.flatten(loop_vars)
    if not flat:
        raise ValueError("No loop variables provided")
    if context.executing_eagerly():
        return _eager_while(cond, body, loop_vars, maximum_iterations, return_same_structure)
    with name_scope(name, "while", [t for t in flat if isinstance(t, Tensor)]) as scope:
        flat = [convert_to_tensor(v) for v in flat]
        if shape_invariants is not None:
            nest.assert_same_structure(loop_vars, shape_invariants, check_types=False)
            invariants = [as_shape(s) for s in nest.flatten(shape_invariants)]
            for t, inv in zip(flat, invariants):
                if not inv.is_compatible_with(t.shape):
                    raise ValueError("The shape invariant specified for %s is not compatible with the initial "
                                     "shape of the loop variable. It enters the loop with shape %s, but the "
                                     "specified shape invariant is %s." % (t.name, t.shape, inv))
        else:
            invariants = [t.shape for t in flat]
        splat = isinstance(loop_vars, (list, tuple))

        def call(fn, args):
            packed = nest.pack_sequence_as(loop_vars, args)
            return fn(*packed) if splat else fn(packed)

        def body_flat(args, _):
            result = call(body, args)
            if splat and not isinstance(result, (list, tuple)) and len(loop_vars) == 1:
                result = [result]
            try:
                nest.assert_same_structure(loop_vars, result, check_types=False)
            except (ValueError, TypeError) as e:
                raise ValueError("The body of tf.while_loop must return the structure of loop_vars: %s" % e) \
                    from None
            return nest.flatten(result), []

        finals, _, _ = build_while(lambda args: call(cond, args), body_flat, flat, invariants,
                                   maximum_iterations=maximum_iterations, back_prop=back_prop, scope=scope)
        result = nest.pack_sequence_as(loop_vars, finals)
        if not return_same_structure and splat and len(flat) == 1 and len(loop_vars) == 1:
            return finals[0]
        return result


# -- gradient ----------------------------------------------------------------

@RegisterGradient("While")
def _while_grad(op, *grads):
    a = op.attrs
    if not a["back_prop"]:
        return [None] * len(op.inputs)
    args, body_outs, emits, captured = a["args"], a["body_outputs"], a["emits"], a["captured"]
    seq_args = a["seq_args"]
    n, n_seq, n_emit = len(args), len(seq_args), len(emits)
    outs = op.outputs
    fl = [k for k in range(n) if args[k].dtype.is_floating]
    fl_emit = [j for j in range(n_emit) if emits[j].dtype.is_floating]
    diff_captured = [t for t in captured if t.dtype.is_floating]
    diff_seq = [q for q in seq_args if q.dtype.is_floating]
    if not fl and not diff_captured and not diff_seq:
        return [None] * len(op.inputs)
    graph = op.graph
    fwd_context = a["context"]
    saved = graph._control_flow_context
    graph._control_flow_context = op._control_flow_context
    try:
        grad_context = util.ControlFlowContext(graph, "while_grad")
    finally:
        graph._control_flow_context = saved
    inside = lambda o: fwd_context.contains(o) or grad_context.contains(o)  # noqa: E731
    with grad_context.entered():
        grad_args = [util.func_arg(args[k].dtype, body_outs[k].shape, "grad_arg") for k in fl]
        emit_grad_args = [util.func_arg(emits[j].dtype, emits[j].shape, "emit_grad_arg") for j in fl_emit]
        ys = [body_outs[k] for k in fl] + [emits[j] for j in fl_emit]
        xs = [args[k] for k in fl] + list(seq_args) + diff_captured
        dxs = gradients(ys, xs, grad_ys=grad_args + emit_grad_args, _op_filter=inside)
        dxs = [d if d is not None else array_ops.zeros_like(x) for d, x in zip(dxs, xs)]
    d_args, d_seq, d_captured = dxs[:len(fl)], dxs[len(fl):len(fl) + n_seq], dxs[len(fl) + n_seq:]
    # Weight and bias gradients of per-step products are summed after the loop (see _batched_sum).
    batched = {j: _batched_sum(d, grad_context) for j, d in enumerate(d_captured)}
    batched = {j: b for j, b in batched.items() if b is not None}
    acc_captured = [t for j, t in enumerate(diff_captured) if j not in batched]
    d_acc = [d for j, d in enumerate(d_captured) if j not in batched]
    grad_emits = []
    for _, operands in batched.values():
        grad_emits.extend(t for t in operands if t not in grad_emits)
    dxs = d_args + d_seq + d_acc + grad_emits  # what the gradient body computes at each step
    # Forward body values the gradient ops read are kept by the forward loop at each step
    # and fed to the gradient body, which then recomputes no forward op.
    saved = _forward_values_read(fwd_context, grad_context, dxs)
    for t in saved:
        if t not in a["saved"]:
            a["saved"].append(t)
    op.graph._mark_mutated()  # plans built before this gradient do not keep them
    needed = util.reached_arguments(inside, dxs, list(args) + saved)
    hist_k = [k for k in range(n) if args[k] in needed]
    # The captured tensors whose gradients are summed in the loop come first (their shapes
    # size the sums).
    grad_captured = list(acc_captured) + [
        t for t in util.external_inputs(inside, dxs, list(args) + list(seq_args) + grad_args + emit_grad_args
                                        + saved)
        if t not in acc_captured]
    incoming = [grads[k] if grads[k] is not None else array_ops.zeros_like(outs[k]) for k in fl]
    emit_outs = outs[n + 1:n + 1 + n_emit]
    incoming_emit = [grads[n + 1 + j] if grads[n + 1 + j] is not None else array_ops.zeros_like(emit_outs[j])
                     for j in fl_emit]
    hist_outs = [outs[n + 1 + n_emit + k] for k in hist_k]
    sequences = list(op.inputs[n:n + n_seq])
    inputs = [outs[n]] + hist_outs + sequences + grad_captured + incoming + incoming_emit
    specs = [(op.inputs[k].dtype, op.inputs[k].shape) for k in fl] + [(q.dtype, q.shape) for q in sequences] \
        + [(t.dtype, t.shape) for t in acc_captured] \
        + [(t.dtype, TensorShape([None]).concatenate(t.shape)) for t in grad_emits]
    attrs = {"hist_args": [args[k] for k in hist_k], "seq_args": seq_args, "captured": grad_captured,
             "grad_args": grad_args, "emit_grad_args": emit_grad_args, "d_args": d_args, "d_seq": d_seq,
             "d_captured": d_acc, "grad_emits": grad_emits, "saved": saved,
             "forward_op": op.name, "output_specs": specs, "context": grad_context}
    out = apply_op(WhileGrad, inputs, attrs, name=op.name.split("/")[-1] + "_grad")
    out = [out] if isinstance(out, Tensor) else list(out)
    by_arg = dict(zip(fl, out[:len(fl)]))
    d_sequences = [g if q.dtype.is_floating else None for g, q in zip(out[len(fl):len(fl) + n_seq], sequences)]
    by_captured = dict(zip(acc_captured, out[len(fl) + n_seq:len(fl) + n_seq + len(acc_captured)]))
    stacked = dict(zip(grad_emits, out[len(fl) + n_seq + len(acc_captured):]))
    for j, (kind, operands) in batched.items():
        by_captured[diff_captured[j]] = _sum_over_steps(kind, [stacked[t] for t in operands], operands)
    result = [by_arg.get(k) for k in range(n)] + d_sequences + [by_captured.get(t) for t in captured]
    if a["has_max"]:
        result.append(None)
    return result


# Not kept: arguments (recorded as histories), constants, and control-flow ops, whose own
# gradients need them re-run in the same step (they keep per-run state in the runtime).
_RECOMPUTED = ("_FuncArg", "Const", "While", "If", "IfGrad", "WhileGrad")


def _forward_values_read(fwd_context, grad_context, dxs):
    """Tensors of the forward body (not its arguments or constants) that gradient ops read."""
    found, seen = [], set()
    stack = [d.op for d in dxs if grad_context.contains(d.op)]
    for d in dxs:
        if fwd_context.contains(d.op) and d not in found:
            found.append(d)
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        for t in op.inputs:
            if grad_context.contains(t.op):
                stack.append(t.op)
            elif fwd_context.contains(t.op) and t.op.type not in _RECOMPUTED and t not in found:
                found.append(t)
        for c in op.control_inputs:
            if grad_context.contains(c):
                stack.append(c)
    return found


def _batched_sum(d, grad_context):
    """How to sum a captured tensor's per-step gradient ``d`` after the loop, or None.

    A weight used in a per-step matrix product gets ``a_t^T @ g_t`` at each step; a
    bias, ``BiasAddGrad(g_t)``. Keeping ``a_t`` and ``g_t`` per step and computing one
    product over all steps (``A^T @ G`` with the steps stacked into the rows) is one
    large BLAS call instead of a small one plus an accumulation pass per step (PyTorch's
    LSTM does the same). Needs the trailing dims statically known (they size the result
    when no step runs).
    """
    op = d.op
    if not grad_context.contains(op):
        return None
    if op.type == "MatMul" and op.attrs.get("transpose_a") and not op.attrs.get("transpose_b"):
        a_t, g_t = op.inputs
        if a_t.shape.ndims == 2 and g_t.shape.ndims == 2 and a_t.shape.as_tuple()[1] is not None \
                and g_t.shape.as_tuple()[1] is not None:
            return "matmul", (a_t, g_t)
    if op.type == "BiasAddGrad" and op.attrs.get("data_format", "NHWC") in ("NHWC", None):
        (g_t,) = op.inputs
        if g_t.shape.ndims is not None and g_t.shape.ndims >= 2 and g_t.shape.as_tuple()[-1] is not None:
            return "bias", (g_t,)
    return None


def _sum_over_steps(kind, stacks, operands):
    """The gradient summed over steps from per-step stacks ([steps, ...] each)."""
    rows = [array_ops.reshape(st, [-1, t.shape.as_tuple()[-1]]) for st, t in zip(stacks, operands)]
    if kind == "matmul":
        return linalg_ops.matmul(rows[0], rows[1], transpose_a=True)
    return nn_ops.bias_add_grad(rows[0])


def _eager_while(cond, body, loop_vars, maximum_iterations, return_same_structure):
    """tf.while_loop when executing eagerly: a Python loop (as TF 2)."""
    splat = isinstance(loop_vars, (list, tuple))
    single = splat and len(loop_vars) == 1 and not return_same_structure
    current = nest.map_structure(lambda v: convert_to_tensor(v) if not is_eager_variable(v) else v,
                                 loop_vars)
    i = 0
    while maximum_iterations is None or i < int(maximum_iterations):
        if not bool(cond(*current) if splat else cond(current)):
            break
        result = body(*current) if splat else body(current)
        if splat and not isinstance(result, (list, tuple)):
            result = [result]
        nest.assert_same_structure(list(current) if splat else current,
                                   list(result) if splat else result, check_types=False)
        current = type(loop_vars)(result) if splat and isinstance(loop_vars, tuple) and \
            not hasattr(loop_vars, "_fields") else result
        i += 1
    if single:
        return current[0]
    return current
