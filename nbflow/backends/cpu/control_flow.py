"""CPU kernels of the control-flow ops: If, its gradient, Assert, While, WhileGrad, NoOp.

An If / While kernel runs the ops of a branch or loop body as a *sub-plan*
(``ctx.make_plan``), compiled per feed shapes and reused. A gradient re-runs
forward ops, so random streams are snapshotted and restored around it; the
forward op leaves its records (stream states, values kept per step) in the
resource manager under ("record", kind, forward op name) for its gradient.

The kernels handle their values (loop variables, slices of sequences, stacks,
sums of gradients) through a ``HostValues`` object: the GPU's kernels are these
same functions with device arrays (backends/cuda/control_flow.py).
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.framework.graph import Tensor
from nbflow.ops import cond_op, control_flow_ops, control_flow_util, while_op
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.while_op import _kept, _saved_for, _Stacks
from nbflow.state.resources import ResourceHandle


class HostValues:
    """Values on the host: numpy arrays (what the CPU's If / While kernels keep and stack)."""

    #: where the sub-plans take their feeds and give their fetches (None: the host)
    device = None

    def truth(self, v):
        return bool(v)

    def to_int(self, v):
        return int(v)

    def carrier(self):
        """Keeps loop-carried values across iterations: ``keep(k, value, dtype, fresh)`` -> the
        value of loop variable ``k`` as an array the next sub-plan run does not overwrite."""
        return lambda k, value, dtype, fresh: _kept(value, dtype, fresh)

    def kept(self, v, fresh):
        """``v`` kept past the next sub-plan run (a copy unless the sub-plan made it fresh)."""
        return _kept(v, None, fresh)

    def row(self, a, t):
        return a[t, ...]

    def set_row(self, a, t, v):
        a[t, ...] = v

    def stacks(self, op_name, what):
        return _Stacks(op_name, what)

    def count(self, steps):
        return np.array(steps, dtype=np.int32)

    def empty(self, shape, dtype):
        return np.empty(shape, dtype=dtype)

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype=dtype)

    def zero_rows_from(self, a, start):
        a[start:] = 0

    def copy_into(self, dst, v):
        dst[...] = v

    def add_into(self, dst, v):
        dst += v


HOST = HostValues()


class SubPlans:
    """Sub-plans of one If / While op, compiled per (which, feed shapes) and reused;
    their feeds and fetches on ``device`` (None: the host)."""

    def __init__(self, make_plan, resources, device=None):
        self._make_plan = make_plan
        self._resources = resources
        self._device = device
        self._cache = {}

    def get(self, which, fetches, feed_tensors, values):
        key = (which,) + tuple(v.shape for v in values)
        plan = self._cache.get(key)
        if plan is None:
            feeds = [(t, t.dtype.as_numpy_dtype, v.shape) for t, v in zip(feed_tensors, values)]
            if self._device is None:
                plan = self._make_plan(fetches, feeds)
            else:
                plan = self._make_plan(fetches, feeds, self._device)
            self._cache[key] = plan
            plan.rng_names = random_handles(self._resources, plan)
        return plan


def record_handle(kind, op_name):
    return ResourceHandle("record", kind, op_name)


# -- random streams of rematerialized random ops ----------------------------

def random_handles(resources, plan):
    """Handles of the random streams of ``plan``'s ops (they exist once it is built)."""
    handles = (ResourceHandle("random", "", op.name) for op in plan.ops)
    return [h for h in handles if h in resources]


def rng_snapshot(resources, handles):
    return [(h, resources.get(h).snapshot()) for h in handles]


def rng_restore(resources, snapshot):
    for h, state in snapshot:
        resources.get(h).restore(state)


@register_kernel(cond_op.If)
def _if(ctx, vals=HOST):
    feeds, branches = ctx.attrs["feeds"], ctx.attrs["branches"]
    n_out = len(ctx.attrs["output_specs"])
    is_tensor = [isinstance(e, Tensor) for e in branches[0]]
    subplans = SubPlans(ctx.make_plan, ctx.resources, vals.device)
    resources, name = ctx.resources, ctx.name

    def run(pred, *values):
        which = 0 if vals.truth(pred) else 1
        plan = subplans.get(which, branches[which], feeds, values)
        if plan.rng_names:
            # A gradient re-runs the forward branch: it needs the random streams as they were.
            resources[record_handle("If rng", name)] = rng_snapshot(resources, plan.rng_names)
        out = plan.run(values)
        result = [v for v, keep in zip(out, is_tensor) if keep]
        if n_out == 0:
            return None
        return result[0] if n_out == 1 else tuple(result)
    return run


@register_kernel(cond_op._IfGradient)
def _if_gradient(ctx, vals=HOST):
    run_branch = _if(ctx, vals)
    resources, key = ctx.resources, record_handle("If rng", ctx.attrs["forward_op"])

    def run(pred, *values):
        snapshot = resources.get(key)
        if not snapshot:
            return run_branch(pred, *values)
        after = rng_snapshot(resources, [n for n, _ in snapshot])
        rng_restore(resources, snapshot)
        try:
            return run_branch(pred, *values)
        finally:
            rng_restore(resources, after)
    return run


@register_kernel(cond_op._AssertOp)
def _assert_op(ctx):
    name, summarize, texts = ctx.name, ctx.attrs["summarize"], ctx.attrs["texts"]

    def run(condition, *data):
        if not condition:
            parts = []
            for text, d in zip(texts, data):
                parts.append(text if text is not None else np.array2string(
                    np.asarray(d).reshape(-1)[:summarize], separator=" "))
            raise ctx.op_error(errors.InvalidArgumentError, "assertion failed: [%s]\n\t [[node %s]]"
                               % ("] [".join(parts), name))
    return run



@register_kernel(while_op.While)
def _while(ctx, vals=HOST):
    a = ctx.attrs
    args, body_outs, emits = a["args"], a["body_outputs"], a["emits"]
    cond, cond_next, captured, seq_args = a["cond"], a["cond_next"], a["captured"], a["seq_args"]
    n, n_seq, n_cap, n_emit, has_max = len(args), len(seq_args), len(captured), len(emits), a["has_max"]
    feeds = list(args) + list(seq_args) + list(captured)
    cond_feeds = list(args) + list(captured)
    hist_base = n + 1 + n_emit
    # A history (the loop variable at each step) is recorded only when read.
    record = [hist_base + k in ctx.used_outputs for k in range(n)]
    grad_in_plan = "WhileGrad" in ctx.consumer_types
    # Body values the gradient reads, kept per step (so it need not recompute them).
    saved = list(a["saved"]) if grad_in_plan else []
    n_saved = len(saved)
    body_fetches = list(body_outs) + list(emits) + saved + [cond_next]
    emit_specs = [(t.dtype.as_numpy_dtype, t.shape) for t in emits]
    lv_dtypes = [t.dtype.as_numpy_dtype for t in args]
    subplans = SubPlans(ctx.make_plan, ctx.resources, vals.device)
    resources, name = ctx.resources, ctx.name
    any_record = any(record) or grad_in_plan
    emit_stacks = [vals.stacks(name, "emitted value %d" % j) for j in range(n_emit)]
    hist_stacks = [vals.stacks(name, "loop variable %d" % k) for k in range(n)]
    keep = vals.carrier()

    def run(*values):
        loop_vars = [keep(k, v, dt, False) for k, (v, dt) in enumerate(zip(values[:n], lv_dtypes))]
        sequences = values[n:n + n_seq]
        captured_values = list(values[n + n_seq:n + n_seq + n_cap])
        limit = vals.to_int(values[-1]) if has_max else None
        go = limit is None or limit > 0
        if go:
            first = subplans.get("cond", [cond], cond_feeds, loop_vars + captured_values)
            go = vals.truth(first.run(loop_vars + captured_values)[0])
        # The loop reads its sequences step by step, so it runs at most as many steps as the
        # shortest: then the stacks are written in place (see _Stacks).
        bound = min(seq.shape[0] for seq in sequences) if sequences else None
        if bound is not None and limit is not None:
            bound = min(bound, max(limit, 0))
        for st in emit_stacks:
            st.start(bound)
        for k in range(n):
            if record[k]:
                hist_stacks[k].start(bound)
        rng_states = []
        saved_values = [[] for _ in range(n_saved)]
        steps = 0
        while go:
            for seq in sequences:
                if steps >= seq.shape[0]:
                    raise ValueError("While op '%s': step %d reads past the end of a sequence of length %d"
                                     % (name, steps, seq.shape[0]))
            inputs = loop_vars + [vals.row(seq, steps) for seq in sequences] + captured_values
            plan = subplans.get("body", body_fetches, feeds, inputs)
            if any_record:
                for k in range(n):
                    if record[k]:
                        hist_stacks[k].add(loop_vars[k], True)
                if plan.rng_names:
                    rng_states.append(rng_snapshot(resources, plan.rng_names))
            out = plan.run(inputs)
            # Copies: the sub-plan rewrites its buffers on the next run (not its fresh outputs).
            fresh = plan.fetch_is_fresh
            loop_vars = [keep(k, out[k], lv_dtypes[k], fresh[k]) for k in range(n)]
            for j in range(n_emit):
                emit_stacks[j].add(out[n + j], fresh[n + j])
            for j in range(n_saved):
                saved_values[j].append(vals.kept(out[n + n_emit + j], fresh[n + n_emit + j]))
            steps += 1
            go = vals.truth(out[-1]) and (limit is None or steps < limit)
        if rng_states:
            resources[record_handle("While rng", name)] = rng_states
        if grad_in_plan:
            resources[record_handle("While saved", name)] = (saved, saved_values)
        results = list(loop_vars) + [vals.count(steps)]
        for j, (dt, shape) in enumerate(emit_specs):
            results.append(emit_stacks[j].result(dt, shape))
        for k in range(n):
            results.append(hist_stacks[k].result(lv_dtypes[k], TensorShape(values[k].shape)) if record[k]
                           else vals.empty((0,), lv_dtypes[k]))
        return tuple(results)
    return run


@register_kernel(while_op.WhileGrad)
def _while_grad(ctx, vals=HOST):
    a = ctx.attrs
    hist_args, captured, grad_args, emit_grad_args = a["hist_args"], a["captured"], a["grad_args"], \
        a["emit_grad_args"]
    seq_args = a["seq_args"]
    fetch_args, fetch_seq, fetch_captured = a["d_args"], a["d_seq"], a["d_captured"]
    nh, ns, nc, ng = len(hist_args), len(seq_args), len(captured), len(grad_args)
    feeds = list(hist_args) + list(seq_args) + list(captured) + list(grad_args) + list(emit_grad_args)
    grad_emits = list(a["grad_emits"])
    fetches = list(fetch_args) + list(fetch_seq) + list(fetch_captured) + grad_emits
    n_fetch_acc = len(fetches) - len(grad_emits)
    saved = list(a["saved"])
    feeds = feeds + saved
    n_args, n_dseq = len(fetch_args), len(fetch_seq)
    n_diff = len(fetch_captured)  # the first n_diff captured inputs are the differentiated ones
    dts = [t.dtype.as_numpy_dtype for t in fetches]
    emit_specs = [(t.dtype.as_numpy_dtype, TensorShape([None]).concatenate(t.shape)) for t in grad_emits]
    subplans = SubPlans(ctx.make_plan, ctx.resources, vals.device)
    resources, key = ctx.resources, record_handle("While rng", a["forward_op"])
    saved_key, op_name = record_handle("While saved", a["forward_op"]), ctx.name
    out_bufs = {}  # output buffers kept from run to run (as op outputs are); no allocation per run

    def buffer(i, shape, dtype):
        buf = out_bufs.get(i)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = out_bufs[i] = vals.empty(shape, dtype)
        return buf

    keep = vals.carrier()

    def run(steps, *values):
        steps = vals.to_int(steps)
        histories = values[:nh]
        sequences = values[nh:nh + ns]
        cap = list(values[nh + ns:nh + ns + nc])
        grads = [keep(k, g, dt, False)
                 for k, (g, dt) in enumerate(zip(values[nh + ns + nc:nh + ns + nc + ng], dts))]
        emit_grads = values[nh + ns + nc + ng:]
        # gradients of the sequences, one slice per step (rows < steps are written below);
        # zero past the steps run
        d_seqs = [buffer(("d_seq", i), seq.shape, seq.dtype) for i, seq in enumerate(sequences)]
        for d in d_seqs:
            vals.zero_rows_from(d, steps)
        acc = None  # gradients of the captured tensors, summed over the steps
        stacks = [None] * len(grad_emits)  # per-step values summed after the loop
        rng_states = resources.get(key) or []
        saved_values = _saved_for(resources.get(saved_key), saved, steps, op_name)
        after = rng_snapshot(resources, [nm for nm, _ in rng_states[0]]) if rng_states else None
        try:
            for t in range(steps - 1, -1, -1):
                inputs = [vals.row(h, t) for h in histories] + [vals.row(q, t) for q in sequences] + cap + grads \
                    + [vals.row(e, t) for e in emit_grads] + [v[t] for v in saved_values]
                plan = subplans.get("grad", fetches, feeds, inputs)
                if rng_states:
                    rng_restore(resources, rng_states[t])
                out = plan.run(inputs)
                fresh = plan.fetch_is_fresh
                grads = [keep(k, out[k], dts[k], fresh[k]) for k in range(n_args)]
                for d, o in zip(d_seqs, out[n_args:n_args + n_dseq]):
                    vals.set_row(d, t, o)
                k = n_args + n_dseq
                if acc is None:
                    acc = [buffer(("acc", i), np.shape(o), dt)
                           for i, (o, dt) in enumerate(zip(out[k:n_fetch_acc], dts[k:n_fetch_acc]))]
                    for s, o in zip(acc, out[k:n_fetch_acc]):
                        vals.copy_into(s, o)
                else:
                    for s, o in zip(acc, out[k:n_fetch_acc]):
                        vals.add_into(s, o)
                for i, o in enumerate(out[n_fetch_acc:]):
                    if t == steps - 1:
                        stacks[i] = buffer(("emit", i), (steps,) + np.shape(o), dts[n_fetch_acc + i])
                    vals.set_row(stacks[i], t, o)
        finally:
            if after is not None:
                rng_restore(resources, after)
        if acc is None:
            acc = [vals.zeros(v.shape, v.dtype) for v in cap[:n_diff]]
        for i, (dt, shape) in enumerate(emit_specs):
            if stacks[i] is None:  # no step ran
                stacks[i] = vals.zeros((0,) + tuple(d or 0 for d in shape.as_tuple()[1:]), dt)
        result = grads + d_seqs + acc + stacks
        return result[0] if len(result) == 1 else tuple(result)
    return run

@register_kernel(control_flow_ops.NoOp)
def _no_op(ctx):
    return lambda: None

@register_kernel(control_flow_util.FuncArg)
def _func_arg(ctx):
    raise ctx.op_error(
        errors.InvalidArgumentError, "Tensor '%s:0' is an argument of a while loop body or cond branch; it has a value "
        "only inside that loop or branch and cannot be fetched or computed outside it" % ctx.name)

