"""tf.cond and tf.case: an ``If`` op that runs only the branch its predicate picks.

Each branch is built in its own control-flow context (see control_flow_util);
the If op's inputs are the predicate and every tensor either branch reads from
outside, and at run time it runs the chosen branch's sub-plan. Its gradient is
another If op whose branches differentiate the forward branches.
"""
import numpy as np

from nbflow.ops.gradient_registry import RegisterGradient, gradients
from nbflow.framework import context as _context, dtypes, errors, nest
from nbflow.framework.graph import Operation, Tensor, control_dependencies, get_default_graph, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops, math_ops
from nbflow.ops import control_flow_util as util
from nbflow.ops.base import Op, apply_op, convert_to_tensor

__all__ = ["cond", "case", "Assert"]


def _most_specific_compatible_shape(a, b):
    if a.ndims is None or b.ndims is None or a.ndims != b.ndims:
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(a.as_tuple(), b.as_tuple())])


class If(util.SubgraphOp):
    """Runs ``branches[0]`` (pred true) or ``branches[1]``; inputs are [pred] + ``feeds``' values."""

    type = "If"


def _flatten_branch(result, strict, which):
    if result is None:
        raise ValueError("%s must have a return value." % which)
    if not strict and isinstance(result, (list, tuple)) and not hasattr(result, "_fields") and len(result) == 1:
        result = result[0]
    return result


def _as_branch_element(x):
    if isinstance(x, Operation):
        return x
    if hasattr(x, "_as_graph_element") and not isinstance(x, Tensor):
        el = x._as_graph_element()
        if isinstance(el, Operation):
            return el
    return convert_to_tensor(x)


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """``tf.cond``: ``true_fn()`` if ``pred`` else ``false_fn()``; only the chosen branch runs."""
    if fn1 is not None:
        if true_fn is not None:
            raise TypeError("cond(): true_fn and fn1 may not be set simultaneously.")
        true_fn = fn1
    if fn2 is not None:
        if false_fn is not None:
            raise TypeError("cond(): false_fn and fn2 may not be set simultaneously.")
        false_fn = fn2
    if not callable(true_fn):
        raise TypeError("true_fn must be callable.")
    if not callable(false_fn):
        raise TypeError("false_fn must be callable.")
    if _context.executing_eagerly():
        # eager (TF 2): only the chosen branch runs, now
        if isinstance(pred, Tensor) and pred.dtype is not dtypes.bool_:
            raise TypeError("pred must be a bool Tensor, got dtype %s" % pred.dtype.name)
        return true_fn() if bool(pred) else false_fn()
    if isinstance(pred, (bool, np.bool_)):
        raise TypeError("pred must not be a Python bool")
    with name_scope(name, "cond", [pred]) as scope:
        pred = convert_to_tensor(pred)
        if pred.dtype is not dtypes.bool_:
            raise TypeError("pred must be a bool Tensor, got %s of dtype %s" % (pred.name, pred.dtype.name))
        if not pred.shape.is_compatible_with(TensorShape([])):
            raise ValueError("Shape must be rank 0 but is rank %s for pred %s of tf.cond"
                             % (pred.shape.ndims, pred.name))
        graph = get_default_graph()
        contexts, structures, flats = [], [], []
        for fn, which in ((true_fn, "true_fn"), (false_fn, "false_fn")):
            context = util.ControlFlowContext(graph, "cond")
            with context.entered():
                result = _flatten_branch(fn(), strict, which)
                flat = [_as_branch_element(x) for x in nest.flatten(result)]
            contexts.append(context)
            structures.append(result)
            flats.append(flat)
        try:
            nest.assert_same_structure(structures[0], structures[1], check_types=False)
        except (ValueError, TypeError) as e:
            raise ValueError("true_fn and false_fn must return the same structure: %s" % e) from None
        specs = []
        for a, b in zip(*flats):
            if isinstance(a, Operation) != isinstance(b, Operation):
                raise TypeError("tf.cond: one branch returns the Operation %s where the other returns a Tensor"
                                % (a.name if isinstance(a, Operation) else b.name))
            if isinstance(a, Operation):
                continue
            if a.dtype is not b.dtype:
                raise TypeError("Outputs of true_fn and false_fn must have the same type: %s, %s"
                                % (a.dtype.name, b.dtype.name))
            specs.append((a.dtype, _most_specific_compatible_shape(a.shape, b.shape)))
        feeds, controls = [], []
        for context, flat in zip(contexts, flats):
            for t in util.external_inputs(context.contains, flat, (), controls):
                if t not in feeds:
                    feeds.append(t)
        attrs = {"feeds": feeds, "branches": [flats[0], flats[1]], "output_specs": specs,
                 "contexts": contexts}
        out = apply_op(If, [pred] + feeds, attrs, name=scope)
        op = out if isinstance(out, Operation) else (out.op if isinstance(out, Tensor) else out[0].op)
        for c in controls:
            op._add_control_input(c)
        outputs = iter(op.outputs)
        flat_result = [op if isinstance(a, Operation) else next(outputs) for a in flats[0]]
        return nest.pack_sequence_as(structures[0], flat_result)


@RegisterGradient("If")
def _if_grad(op, *grads):
    """An If over the same predicate whose branches differentiate the forward branches.

    Each gradient branch re-runs the forward branch's ops it needs (they are
    cheap next to the bookkeeping TF does to keep them), so the forward If
    keeps nothing but its random streams' state.
    """
    feeds = op.attrs["feeds"]
    branches = op.attrs["branches"]
    outs = op.outputs
    diff_feeds = [t for t in feeds if t.dtype.is_floating]
    if not diff_feeds:
        return [None] * len(op.inputs)
    # Outputs of the branches (tensor positions only), paired with the If's outputs.
    tensor_pos = [i for i, e in enumerate(branches[0]) if isinstance(e, Tensor)]
    diff_outs = [k for k, t in enumerate(outs) if t.dtype.is_floating]
    graph = op.graph
    grad_values = [grads[k] if grads[k] is not None else array_ops.zeros_like(outs[k]) for k in diff_outs]
    saved = graph._control_flow_context
    graph._control_flow_context = op._control_flow_context
    try:
        grad_context = util.ControlFlowContext(graph, "cond_grad")
    finally:
        graph._control_flow_context = saved
    with grad_context.entered():
        grad_args = [util.func_arg(outs[k].dtype, outs[k].shape, "grad_arg") for k in diff_outs]
        grad_branches = []
        for b, fwd_context in enumerate(op.attrs["contexts"]):
            ys = [branches[b][tensor_pos[k]] for k in diff_outs]
            inside = _either(fwd_context, grad_context)
            dx = gradients(ys, diff_feeds, grad_ys=grad_args, _op_filter=inside)
            grad_branches.append([d if d is not None else array_ops.zeros_like(x) for d, x in zip(dx, diff_feeds)])
    # Anything else the gradient branches read from outside is fed too.
    grad_feeds = list(feeds) + grad_args
    for b, fwd_context in enumerate(op.attrs["contexts"]):
        for t in util.external_inputs(_either(fwd_context, grad_context), grad_branches[b], grad_args):
            if t not in grad_feeds:
                grad_feeds.append(t)
    inputs = [op.inputs[0]] + list(feeds) + grad_values + grad_feeds[len(feeds) + len(grad_args):]
    specs = [(x.dtype, x.shape) for x in diff_feeds]
    attrs = {"feeds": grad_feeds, "branches": grad_branches, "output_specs": specs,
             "contexts": [grad_context, grad_context], "forward_op": op.name}
    out = apply_op(_IfGradient, inputs, attrs, name=op.name.split("/")[-1] + "_grad")
    out = [out] if isinstance(out, Tensor) else list(out)
    by_feed = dict(zip(diff_feeds, out))
    return [None] + [by_feed.get(t) for t in feeds]


class _IfGradient(If):
    """The gradient If: restores the forward branch's random streams before re-running it."""

    type = "IfGrad"


@RegisterGradient("IfGrad")
def _if_grad_grad(op, *grads):
    raise NotImplementedError("nbflow does not support second derivatives through tf.cond (op '%s')" % op.name)


def _either(a, b):
    return lambda o: a.contains(o) or b.contains(o)


# -- tf.case -----------------------------------------------------------------

def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """``tf.case``: the first ``fn`` whose ``pred`` is true (nested conds); else ``default``."""
    if isinstance(pred_fn_pairs, dict):
        pairs = sorted(pred_fn_pairs.items(), key=lambda kv: kv[0].name)
    else:
        pairs = list(pred_fn_pairs)
    for p in pairs:
        if not isinstance(p, tuple) or len(p) != 2:
            raise TypeError("Each entry in pred_fn_pairs must be a 2-tuple, got %r" % (p,))
        if not callable(p[1]):
            raise TypeError("fn for pred %s must be callable." % getattr(p[0], "name", p[0]))
    if not pairs:
        if default is None:
            raise ValueError("tf.case: pred_fn_pairs is empty and no default was given")
        return default()
    if _context.executing_eagerly():
        for p, fn in pairs:
            if bool(p):
                return fn()
        if default is None:
            raise errors.InvalidArgumentError(None, None, "tf.case: none of the conditions is true and no "
                                              "default was given")
        return default()
    with name_scope(name, "case", [p for p, _ in pairs]):
        preds = [convert_to_tensor(p) for p, _ in pairs]
        for p in preds:
            if p.dtype is not dtypes.bool_:
                raise TypeError("pred must be a bool Tensor, got %s of dtype %s" % (p.name, p.dtype.name))
        fns = [f for _, f in pairs]
        if default is None:
            # TF: the last pair's function is the default (its predicate is not tested).
            default = fns.pop()
            last_pred = preds.pop()
        if exclusive:
            all_preds = preds + ([last_pred] if len(preds) < len(pairs) else [])
            count = math_ops.add_n([math_ops.cast(p, dtypes.int32) for p in all_preds]) if len(all_preds) > 1 \
                else math_ops.cast(all_preds[0], dtypes.int32)
            check = Assert(math_ops.less_equal(count, 1),
                           ["Input error: exclusive=True and more than one predicate evaluated to true"],
                           name="exclusive_check")
            preds = [_after(check, p) for p in preds]

        def build(i):
            if i == len(preds):
                return default()
            return cond(preds[i], fns[i], lambda: build(i + 1), strict=strict, name="If_%d" % i)
        return build(0)


def _after(op, t):
    with control_dependencies([op]):
        return array_ops.identity(t)


# -- tf.Assert ----------------------------------------------------------------

class _AssertOp(Op):
    type = "Assert"
    stateful = True
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        if not ctx.input_shapes[0].is_compatible_with(TensorShape([])):
            raise ctx.error("condition must be a scalar, got shape %s" % ctx.input_shapes[0])
        return []


def Assert(condition, data, summarize=None, name=None):
    """``tf.Assert``: an op that raises InvalidArgumentError when ``condition`` is false."""
    with name_scope(name, "Assert", [condition]) as scope:
        condition = convert_to_tensor(condition, dtype=dtypes.bool_)
        tensors, texts = [], []
        for d in data:
            if isinstance(d, str):
                texts.append(d)
                tensors.append(convert_to_tensor(0))
            else:
                texts.append(None)
                tensors.append(convert_to_tensor(d))
        return apply_op(_AssertOp, [condition] + tensors, {"summarize": summarize or 3, "texts": texts},
                        name=scope)
