"""Grouping and ordering: NoOp, tf.group, tf.tuple."""
import builtins

from nbflow.framework import context

from nbflow.framework.graph import Operation, Tensor, control_dependencies, get_default_graph, name_scope
from nbflow.ops.array_ops import identity
from nbflow.ops.base import Op, apply_op

__all__ = ["no_op", "group", "tuple"]


class NoOp(Op):
    type = "NoOp"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return []


def no_op(name=None):
    if context.executing_eagerly():
        return None  # nothing to run (TF 2)
    return apply_op(NoOp, [], name=name or "NoOp", graph=get_default_graph())


def _as_op(x):
    if hasattr(x, "_as_graph_element"):
        x = x._as_graph_element()
    if isinstance(x, Tensor):
        return x.op
    if isinstance(x, Operation):
        return x
    raise TypeError("tf.group: %r is not a Tensor or Operation" % (x,))


def group(*inputs, **kwargs):
    """An op that runs all ``inputs`` (a NoOp with control dependencies on them)."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError("Unknown keyword arguments: " + ", ".join(kwargs))
    flat = []
    for i in inputs:
        if isinstance(i, (list, builtins.tuple, set)):
            flat.extend(i)
        elif isinstance(i, dict):
            flat.extend(i.values())
        elif i is not None:
            flat.append(i)
    if context.executing_eagerly():
        return None  # every input has run already (TF 2)
    ops = [_as_op(i) for i in flat]
    with control_dependencies(ops):
        return no_op(name=name or "group_deps")


def tuple(tensors, name=None, control_inputs=None):
    """Tensors equal to ``tensors`` that are only available after all of them are computed."""
    if context.executing_eagerly():
        return list(tensors)
    with name_scope(name, "tuple", tensors) as scope:
        gate = group([t for t in tensors if t is not None] + list(control_inputs or []))
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            with control_dependencies([gate]):
                out.append(identity(t))
        return out
