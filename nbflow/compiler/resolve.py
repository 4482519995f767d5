"""The resolve pass and the node passes it runs on each op.

Resolve walks the pruned ops in topological order with concrete shapes (a
placeholder fed with shape (128, 784) has that shape here), builds each op's
KernelContext, and hands the op to the node passes in order; the first that
takes the op ends its walk:

1. ``fold``      -- a stateless op whose inputs are all known before running (or
   whose value follows from shapes alone) is evaluated now into constant slots;
   equal small constants share one slot (with ``cse``);
2. ``transfer``  -- inputs living on another device get a copy (never takes the op);
3. ``identity``  -- an op whose output equals an input (Identity, a Reshape to the
   same shape) runs no step: its output is that input's slot;
4. ``cse``       -- an op equal to an earlier one (type, attrs, input slots)
   reuses its outputs;
5. ``kernel``    -- otherwise the op becomes a KernelUnit with new output slots.

fold, identity and cse can be switched off (CompilerOptions).
"""
import numpy as np

from nbflow.backends import registry
from nbflow.backends.context import KernelContext
from nbflow.framework import errors
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.base import resource_handle_of
from nbflow.compiler.program import KernelUnit


class Node:
    """One op on its way through the node passes."""

    __slots__ = ("op", "ctx", "device", "host_ins", "ins")

    def __init__(self, op, ctx, device, host_ins):
        self.op, self.ctx, self.device, self.host_ins = op, ctx, device, host_ins
        self.ins = host_ins


def resolve_pass(program):
    consumers = {}
    for op in program.ops:
        for i, t in enumerate(op.inputs):
            consumers.setdefault(t, []).append((op, i))
    program.consumers = consumers
    program.fetched = set(program.fetch_tensors)
    program.cse_seen = {}
    program.feed_slots = [program.new_slot(TensorShape(shape), None, program.io, t) for t, _, shape in program.feeds]
    for op in program.ops:
        host_ins = [program.slot_of[t] for t in op.inputs]
        node = Node(op, kernel_context(program, op, host_ins), program.placement[op], host_ins)
        for node_pass in NODE_PASSES:
            if node_pass(program, node):
                break
    program.note("resolve", "%d ops to run by kernels, %d slots" % (len(program.units), len(program.slot_shapes)))


def kernel_context(program, op, in_slots):
    """The KernelContext of ``op``: concrete input shapes and known values, inferred outputs."""
    op_def = op.op_def
    in_shapes = [program.slot_shapes[sl] for sl in in_slots]
    in_values = [program.initial[sl] for sl in in_slots]
    in_dtypes = [t.dtype for t in op.inputs]
    ictx = KernelContext(op, in_dtypes, in_shapes, in_values, None, None)
    try:
        specs = getattr(op_def, "plan_infer", op_def.infer)(ictx)
    except (ValueError, TypeError) as e:
        # Shapes known only now (from the feeds) can be impossible.
        raise errors.InvalidArgumentError(None, op, "%s\n\t [[node %s]]" % (e, op.name)) from e
    out_shapes = []
    for t, (_, shp) in zip(op.outputs, specs):
        try:
            out_shapes.append(t.shape.merge_with(shp))
        except ValueError:
            raise errors.InvalidArgumentError(
                None, op, "Op '%s' produced shape %s, incompatible with its declared shape %s"
                % (op.name, shp, t.shape)) from None
    ctx = KernelContext(op, in_dtypes, in_shapes, in_values, [t.dtype for t in op.outputs], out_shapes)
    _describe_uses(program, op, ctx)
    env = program.env
    ctx.resources = env.resources
    ctx.own_handle = op_def.resource_handle(op)
    ctx.input_handles = {i: resource_handle_of(op.inputs[i]) for i in op_def.resource_inputs}
    ctx.device = program.placement[op]
    ctx.prechecks = program.prechecks
    ctx.make_plan = env.make_plan
    ctx.threads = program.options.threads
    return ctx


def _describe_uses(program, op, ctx):
    """What the kernel may know of the op's consumers in this plan: which outputs
    are used, by which op types, and whether output 0's value is read (not only
    written through a ref input, as Assign does)."""
    fetched = program.fetched
    used, types = set(), set()
    read = bool(op.outputs) and op.outputs[0] in fetched
    for t in op.outputs:
        uses = program.consumers.get(t, ())
        if uses or t in fetched:
            used.add(t.value_index)
        for c, i in uses:
            types.add(c.type)
            if t.value_index == 0 and i not in getattr(c.op_def, "init_inputs", ()):
                read = True
    ctx.used_outputs, ctx.consumer_types = frozenset(used), frozenset(types)
    ctx.value_read = read or not any(program.consumers.get(t) for t in op.outputs[:1])


# -- the node passes: each returns True when it takes the op -------------------------

def fold(program, node):
    op, ctx = node.op, node.ctx
    op_def = op.op_def
    disabled = program.options.disabled
    foldable = not op_def.stateful and not op.control_inputs and op.outputs and "fold" not in disabled
    if not foldable:
        return False
    # Some values follow from shapes alone (Shape, ZerosLike, ...).
    known = op_def.plan_value(ctx) if hasattr(op_def, "plan_value") else None
    if known is None and not all(v is not None for v in ctx.input_values):
        return False
    try:
        result = known if known is not None else registry.kernel_factory(op_def, "CPU")(ctx)(*ctx.input_values)
    except errors.OpError:
        raise
    except Exception as e:
        raise kernel_error(op, e) from e
    cse_seen = program.cse_seen if "cse" not in disabled else None
    for t, v in zip(op.outputs, _as_tuple(result, len(op.outputs))):
        v = np.asarray(v)
        vkey = ("value", _hashable(v)) if cse_seen is not None and v.size <= 64 else None
        if vkey is not None and vkey in cse_seen:
            program.slot_of[t] = cse_seen[vkey]  # equal small constants share a slot
            continue
        sl = program.new_slot(TensorShape(v.shape), v, program.host, t)
        if vkey is not None:
            cse_seen[vkey] = sl
    program.note("fold", "%s (%s) folded into a constant" % (op.name, op.type))
    return True


def transfer(program, node):
    node.ins = [program.on_device(sl, node.device) for sl in node.host_ins]
    return False


def identity(program, node):
    op, ctx, ins = node.op, node.ctx, node.ins
    if "identity" in program.options.disabled or op.control_inputs:
        return False
    fwd = op.op_def.plan_forwards(ctx)
    if fwd is None or program.slot_device[ins[fwd]] is not node.device \
            or program.slot_shapes[ins[fwd]] != ctx.output_shapes[0]:
        return False
    # Identity-like: its output is its input; no step runs.
    program.slot_of[op.outputs[0]] = ins[fwd]
    program.alias_op[op] = op.inputs[fwd].op
    program.note("identity", "%s (%s) forwards its input %d" % (op.name, op.type, fwd))
    return True


def cse(program, node):
    op = node.op
    if "cse" in program.options.disabled or op.op_def.stateful or op.control_inputs or not op.outputs:
        return False
    key = _cse_key(op, node.ins)
    if key is None:
        return False
    first = program.cse_seen.get(key)
    if first is None:
        program.cse_seen[key] = op
        return False
    # Common subexpression: reuse the first op's outputs.
    for t, ft in zip(op.outputs, first.outputs):
        program.slot_of[t] = program.slot_of[ft]
    program.alias_op[op] = first
    program.note("cse", "%s (%s) computes what %s does" % (op.name, op.type, first.name))
    return True


def kernel(program, node):
    op = node.op
    out_slots = [program.new_slot(shp, None, node.device, t) for t, shp in zip(op.outputs, node.ctx.output_shapes)]
    program.units.append(KernelUnit(op, node.ctx, node.ins, out_slots))
    return True


NODE_PASSES = (fold, transfer, identity, cse, kernel)


def fetch_pass(program):
    """Fetched values come back to the host (a sub-plan's: to its io device)."""
    program.fetch_slots = [program.on_device(program.slot_of[e], program.io) if isinstance(e, Tensor) else -1
                           for e in program.elements]


# -- helpers ---------------------------------------------------------------------------

def _cse_key(op, in_slots):
    """Two stateless ops with equal keys compute the same values."""
    try:
        attrs = tuple(sorted((k, _hashable(v)) for k, v in op.attrs.items()))
        key = (op.type, tuple(in_slots), attrs)
        hash(key)
        return key
    except TypeError:
        return None


def _hashable(v):
    if isinstance(v, np.ndarray):
        return ("ndarray", v.dtype.str, v.shape, v.tobytes()) if v.dtype != object else ("obj", id(v))
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


def _as_tuple(result, n):
    if n == 1:
        return (result,)
    return tuple(result)


def kernel_error(op, exc):
    """The OpError for an exception a kernel raised: out of memory is TF's
    ResourceExhaustedError, anything else an InvalidArgumentError; both name the op."""
    name, op_type = (op.name, op.type) if op is not None else ("?", "?")
    if isinstance(exc, MemoryError):
        return errors.ResourceExhaustedError(
            None, op, "OOM when allocating a tensor (%s)\n\t [[node %s (defined as %s)]]" % (exc, name, op_type))
    return errors.InvalidArgumentError(
        None, op, "%s: %s\n\t [[node %s (defined as %s)]]" % (type(exc).__name__, exc, name, op_type))
