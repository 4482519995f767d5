"""tf.gradients: reverse-mode differentiation that builds graph ops.

Each op type's gradient is a Python function registered by type name
(``@RegisterGradient("Add")``) that receives the forward Operation and the
gradients of its outputs and returns one gradient (a Tensor or None) per
input -- TF's own protocol. Gradients are ordinary ops, so they can be fused,
run eagerly, and differentiated again.
"""
from nbflow.framework import context
from nbflow.framework.graph import Tensor
from nbflow.ops import array_ops, math_ops
from nbflow.ops.base import convert_to_tensor

from nbflow.ops.gradient_registry import (  # noqa: F401  (tf.RegisterGradient etc. live below ops)
    NoGradient, NotDifferentiable, RegisterGradient, get_gradient_function, register_gradients_impl,
)


def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _to_tensor(x):
    if hasattr(x, "_as_graph_element") and not isinstance(x, Tensor):
        x = x._as_graph_element()
    return convert_to_tensor(x)


def _differentiable_dtype(t):
    return t.dtype.is_floating


def gradients(ys, xs, grad_ys=None, name="gradients", colocate_gradients_with_ops=False,
              gate_gradients=False, aggregation_method=None, stop_gradients=None,
              unconnected_gradients="none", _op_filter=None):
    """Symbolic partial derivatives of sum(ys) with respect to each x in xs.

    ``_op_filter`` (internal): differentiate only through ops it accepts -- a
    while body or cond branch differentiated with respect to the tensors it
    reads from outside, which must not be traced further out.
    """
    if context.executing_eagerly():
        raise RuntimeError("tf.gradients is not supported when eager execution is enabled. Use "
                           "tf.GradientTape instead.")
    ys = [_to_tensor(y) for y in _as_list(ys)]
    xs = [_to_tensor(x) for x in _as_list(xs)]
    grad_ys = _as_list(grad_ys) if grad_ys is not None else [None] * len(ys)
    if len(grad_ys) != len(ys):
        raise ValueError("Passed %d grad_ys for %d ys" % (len(grad_ys), len(ys)))
    if unconnected_gradients not in ("none", "zero"):
        raise ValueError("Unknown value for unconnected_gradients: %r" % (unconnected_gradients,))
    stop_tensors = {_to_tensor(t) for t in _as_list(stop_gradients)}
    graph = ys[0].graph

    with graph.name_scope(name):
        # Ops reachable forward from xs, then those of them that reach ys.
        reached = set()
        stack = [x.op for x in xs]
        while stack:
            op = stack.pop()
            if op in reached:
                continue
            reached.add(op)
            for t in op.outputs:
                stack.extend(c for c in t._consumers if c not in reached)
        if _op_filter is not None:
            reached = {op for op in reached if _op_filter(op)}
        between = set()
        order = []  # topological order of `between` ops (inputs before consumers)
        visited = set()
        for y in ys:
            _topo(y.op, reached, visited, order)
        between = set(order)

        grads = {}
        for i, (y, gy) in enumerate(zip(ys, grad_ys)):
            if gy is None:
                if not y.dtype.is_floating:
                    raise TypeError(
                        "Gradients of complex or integer tensors are not supported: %s has dtype %s"
                        % (y.name, y.dtype.name))
                gy = array_ops.ones_like(y, name="grad_ys_%d" % i)
            else:
                gy = _to_tensor(gy)
                if gy.dtype is not y.dtype:
                    raise TypeError("grad_ys[%d] has dtype %s, but ys[%d] has dtype %s"
                                    % (i, gy.dtype.name, i, y.dtype.name))
            grads.setdefault(y, []).append(gy)

        x_set = set(xs)
        for op in reversed(order):
            if not any(t.op in between or t in x_set for t in op.inputs):
                continue  # nothing upstream needs a gradient
            out_grads = [_aggregate(grads.get(t), math_ops) for t in op.outputs]
            if all(g is None for g in out_grads):
                continue
            if any(t in stop_tensors for t in op.outputs) and not any(t in x_set for t in op.outputs):
                continue
            grad_fn = get_gradient_function(op)
            if grad_fn is None:
                continue
            for k, (t, g) in enumerate(zip(op.outputs, out_grads)):
                if g is None and t.dtype.is_floating:
                    out_grads[k] = array_ops.zeros_like(t)
            with graph.name_scope(op.name + "_grad"):
                in_grads = grad_fn(op, *out_grads)
            in_grads = _as_list(in_grads) if isinstance(in_grads, (list, tuple)) else [in_grads]
            if len(in_grads) != len(op.inputs):
                raise ValueError(
                    "Num gradients %d generated for op %s do not match num inputs %d"
                    % (len(in_grads), op.name, len(op.inputs)))
            for t, g in zip(op.inputs, in_grads):
                if g is None or not _differentiable_dtype(t) or (t.op not in between and t not in x_set):
                    continue
                if t in stop_tensors and t not in x_set:
                    continue
                g = _to_tensor(g)
                grads.setdefault(t, []).append(g)

        result = []
        for x in xs:
            g = _aggregate(grads.get(x), math_ops)
            if g is None and unconnected_gradients == "zero":
                g = array_ops.zeros_like(x)
            result.append(g)
    return result


def _topo(root, allowed, visited, order):
    """Post-order DFS (iterative) over ops in ``allowed`` reachable backward from root."""
    if root not in allowed or root in visited:
        return
    stack = [(root, False)]
    while stack:
        op, done = stack.pop()
        if done:
            order.append(op)
            continue
        if op in visited:
            continue
        visited.add(op)
        stack.append((op, True))
        for t in op.inputs:
            if t.op in allowed and t.op not in visited:
                stack.append((t.op, False))


def _aggregate(gs, math_ops):
    if not gs:
        return None
    if len(gs) == 1:
        return gs[0]
    return math_ops.add_n(gs)


register_gradients_impl(gradients)
