"""What tf.cond and tf.while_loop share: contexts, function arguments, captures.

A cond branch or a while body is built by calling the user's Python function
while the graph's *control-flow context* is set: every op created then records
that context (``op._control_flow_context``). Those ops live in the ordinary
graph but are never reached by the outer pruning: the If / While op that owns
them names them in its attributes and runs them as a *sub-plan* (a Plan of the
executor, built with ``PlanContext.make_plan``) once per branch taken or per
iteration. Tensors the function reads from outside the context become inputs
of the If / While op and are fed to the sub-plan.

Gradients are built the same way: ``tf.gradients`` of the body's outputs with
respect to its arguments and captured tensors, restricted to the body's ops,
in a new context; the backward op re-runs (rematerializes) the forward body for
each step from the recorded loop variables.
"""
import contextlib

from nbflow.framework.graph import Operation, Tensor
from nbflow.ops.base import Op, apply_op
from nbflow.ops.constant_op import Placeholder


class ControlFlowContext:
    """A cond branch, a while body, or the gradient of one of them."""

    def __init__(self, graph, kind):
        self.graph = graph
        self.kind = kind
        self.outer = graph._control_flow_context

    def contains(self, op):
        """True for ops created in this context or in one nested inside it."""
        c = op._control_flow_context
        while c is not None:
            if c is self:
                return True
            c = c.outer
        return False

    @contextlib.contextmanager
    def entered(self):
        g = self.graph
        saved = g._control_flow_context, g._control_dependencies_stack
        # Outer control dependencies apply to the If / While op, not to each op inside.
        g._control_flow_context, g._control_dependencies_stack = self, []
        try:
            yield self
        finally:
            g._control_flow_context, g._control_dependencies_stack = saved


class SubgraphOp(Op):
    """Base of the ops that run sub-plans (If, While, WhileGrad): their output dtypes and
    shapes are fixed when the op is built (``output_specs``), and their sub-plans may
    assign variables or draw random numbers, so they are never folded or merged."""

    stateful = True

    @classmethod
    def infer(cls, ctx):
        return ctx.attrs["output_specs"]

    @staticmethod
    def variable_inputs(op):
        """Inputs that are variables themselves (what an assign inside takes), not reads of
        them: the ops inside may update them in place, so placement runs the op where they are."""
        return [i for i, t in enumerate(op.inputs) if t.op.op_def.resource_handle(t.op) is not None]


class FuncArg(Placeholder):
    """An argument of a branch or loop body: fed by its If / While op, never run on its own
    (a placeholder that only its op feeds)."""

    type = "_FuncArg"


def func_arg(dtype, shape, name):
    return apply_op(FuncArg, [], {"dtype": dtype, "shape": shape}, name=name)


def external_inputs(inside, outputs, arguments, external_controls=None):
    """The tensors from outside a context that computing ``outputs`` reads.

    ``inside(op)`` says whether an op belongs to the context; ``arguments`` are
    its fed arguments. Ops inside are walked through their inputs and control
    inputs; the result keeps first-seen order (so graphs build deterministically).

    A control dependency of an op inside on an op outside (TF 1.x's batch-norm
    idiom: ``with tf.control_dependencies([ema_apply_op])`` in a cond branch)
    is moved to the If / While op when ``external_controls`` is a list: the
    edge leaves the inside op and the outside op is appended to the list, so it
    runs once before the If / While, as in TF, where an op outside a cond or
    loop runs whenever the op inside is in the step. Without the list it is an
    error (gradient bodies never have such edges).
    """
    arguments = set(arguments)
    found, found_set, seen = [], set(), set()

    def visit_tensor(t, stack):
        if t in arguments:
            return
        if inside(t.op):
            stack.append(t.op)
        elif t not in found_set:
            found_set.add(t)
            found.append(t)

    stack = []
    for t in reversed(outputs):
        if isinstance(t, Operation):
            stack.append(t)
        else:
            visit_tensor(t, stack)
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        for c in op.control_inputs:
            if not inside(c) and external_controls is not None:
                op._control_inputs.remove(c)
                op.graph._mark_mutated()
                if c not in external_controls:
                    external_controls.append(c)
                continue
            if not inside(c):
                raise ValueError(
                    "Op '%s' inside a cond branch or while loop has a control dependency on '%s', which is "
                    "outside it; nbflow does not support that (make the dependency on the tf.cond / "
                    "tf.while_loop call instead)" % (op.name, c.name))
            stack.append(c)
        for t in reversed(op.inputs):
            visit_tensor(t, stack)
    return found


def reached_arguments(inside, outputs, arguments):
    """The subset of ``arguments`` that computing ``outputs`` reads (inside the context)."""
    arguments = set(arguments)
    hit, seen = set(), set()
    stack = [t for t in outputs if isinstance(t, Tensor)]
    while stack:
        t = stack.pop()
        if t in arguments:
            hit.add(t)
            continue
        op = t.op
        if op in seen or not inside(op):
            continue
        seen.add(op)
        stack.extend(op.inputs)
        for c in op.control_inputs:
            stack.extend(c.outputs)
    return hit
