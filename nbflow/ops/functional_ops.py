"""tf.map_fn, tf.scan, tf.foldl, tf.foldr: one While op each, slicing ``elems``
along axis 0 per step and stacking per-step results (see while_op.py)."""
from nbflow.framework import context, dtypes, nest
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.while_op import build_while

__all__ = ["map_fn", "scan", "foldl", "foldr"]


def _elems(elems):
    flat = [convert_to_tensor(e) for e in nest.flatten(elems)]
    if not flat:
        raise ValueError("elems must be a Tensor or a (possibly nested) sequence of Tensors")
    for e in flat:
        if e.shape.ndims == 0:
            raise ValueError("Elements in elems must be 1+ dimensional Tensors, not scalars: %s" % e.name)
    return flat


def _count(flat):
    n = flat[0].shape.as_tuple()[0] if flat[0].shape.ndims is not None else None
    return n if n is not None else array_ops.shape(flat[0])[0]


def _loop(flat_elems, n, flat_init, step, back_prop):
    """Run ``step(acc, slices) -> (new acc, outputs)`` over the slices; (final acc, stacked outputs)."""
    if context.executing_eagerly():
        return _eager_loop(flat_elems, int(n), flat_init, step)
    counter = convert_to_tensor(0, name="i")

    def body(args, slices):
        new_acc, outputs = step(list(args[1:]), slices)
        return [args[0] + 1] + list(new_acc), list(outputs)

    invariants = [TensorShape([])] + [t.shape for t in flat_init]
    with name_scope("while") as scope:
        finals, stacked, _ = build_while(lambda args: args[0] < n, body, [counter] + list(flat_init), invariants,
                                         maximum_iterations=n, back_prop=back_prop, scope=scope,
                                         sequences=flat_elems)
    return finals[1:], stacked


def _eager_loop(flat_elems, n, flat_init, step):
    """Eager (TF 2): a Python loop; the tape records each step's ops."""
    acc, per_step = list(flat_init), []
    for i in range(n):
        new_acc, outputs = step(acc, [e[i] for e in flat_elems])
        acc = list(new_acc)
        per_step.append(list(outputs))
    if not per_step:
        probe = step(acc, [array_ops.zeros(e.shape[1:], e.dtype) for e in flat_elems])[1] if flat_elems else []
        return acc, [array_ops.zeros([0] + o.shape.as_list(), o.dtype) for o in probe]
    return acc, [array_ops.stack([outs[k] for outs in per_step]) for k in range(len(per_step[0]))]


def _with_static_length(ts, n):
    if isinstance(n, int):
        for t in ts:
            t.set_shape(TensorShape([n]).concatenate(t.shape[1:]))
    return ts


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False, infer_shape=True,
           name=None):
    """``tf.map_fn``: ``fn`` applied to each slice of ``elems`` along axis 0, results stacked."""
    if not callable(fn):
        raise TypeError("fn must be callable.")
    with name_scope(name, "map"):
        flat = _elems(elems)
        n = _count(flat)
        out_structure = dtype if dtype is not None else elems

        def step(acc, slices):
            result = fn(nest.pack_sequence_as(elems, slices))
            try:
                nest.assert_same_structure(out_structure, result, check_types=False)
            except (ValueError, TypeError) as e:
                raise ValueError("The structure of fn's output must match `dtype` (or elems when dtype is "
                                 "not given): %s" % e) from None
            outs = [convert_to_tensor(r) for r in nest.flatten(result)]
            if dtype is not None:
                for r, d in zip(outs, nest.flatten(dtype)):
                    if r.dtype is not dtypes.as_dtype(d):
                        raise TypeError("map_fn: fn returned %s of dtype %s where dtype says %s"
                                        % (r.name, r.dtype.name, dtypes.as_dtype(d).name))
            return [], outs
        _, stacked = _loop(flat, n, [], step, back_prop)
        return nest.pack_sequence_as(out_structure, _with_static_length(stacked, n))


def _running(fn, elems, initializer, reverse, back_prop, keep_every):
    """Run ``a = fn(a, x)`` over the slices of ``elems`` (from the last with ``reverse``),
    starting from ``initializer`` or else from the first slice.

    Returns (the structure of ``a``, the initial ``a`` (flat), ``elems`` in scan order
    (flat), the final ``a``, and every ``a`` stacked when ``keep_every``).
    """
    flat = _elems(elems)
    if reverse:
        flat = [array_ops.reverse(e, [0]) for e in flat]
    if initializer is None:
        acc_structure = elems
        init = [e[0] for e in flat]
        rest = [e[1:] for e in flat]
    else:
        acc_structure = initializer
        init = [convert_to_tensor(a) for a in nest.flatten(initializer)]
        rest = flat

    def step(acc, slices):
        result = fn(nest.pack_sequence_as(acc_structure, acc), nest.pack_sequence_as(elems, slices))
        nest.assert_same_structure(acc_structure, result, check_types=False)
        new = [convert_to_tensor(r) for r in nest.flatten(result)]
        return new, (new if keep_every else [])
    finals, stacked = _loop(rest, _count(rest), init, step, back_prop)
    return acc_structure, init, flat, finals, stacked


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, infer_shape=True,
         reverse=False, name=None):
    """``tf.scan``: the running ``a = fn(a, x)`` over slices of ``elems``, every ``a`` stacked."""
    if not callable(fn):
        raise TypeError("fn must be callable.")
    with name_scope(name, "scan"):
        acc_structure, init, flat, _, stacked = _running(fn, elems, initializer, reverse, back_prop, True)
        if initializer is None:  # the first slice is the first output
            stacked = [array_ops.concat([array_ops.expand_dims(a, 0), s], 0) for a, s in zip(init, stacked)]
        stacked = _with_static_length(stacked, _count(flat))
        if reverse:
            stacked = [array_ops.reverse(s, [0]) for s in stacked]
        return nest.pack_sequence_as(acc_structure, stacked)


def _fold(fn, elems, initializer, back_prop, name, default_name, reverse):
    if not callable(fn):
        raise TypeError("fn must be callable.")
    with name_scope(name, default_name):
        acc_structure, _, _, finals, _ = _running(fn, elems, initializer, reverse, back_prop, False)
        return nest.pack_sequence_as(acc_structure, finals)


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """``tf.foldl``: ``a = fn(a, x)`` over slices of ``elems`` from first to last; the final ``a``."""
    return _fold(fn, elems, initializer, back_prop, name, "foldl", reverse=False)


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """``tf.foldr``: as foldl, from last to first."""
    return _fold(fn, elems, initializer, back_prop, name, "foldr", reverse=True)
