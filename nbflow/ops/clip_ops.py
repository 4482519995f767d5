"""Gradient clipping (TF 1.x clip_ops): clip_by_norm, global_norm,
clip_by_global_norm, clip_by_average_norm. (clip_by_value is in math_ops.)

All are composites of ordinary ops, so they are differentiable and fusible.
"""
import collections.abc

from nbflow.framework.graph import Tensor, name_scope
from nbflow.ops import array_ops, math_ops, reduction_ops
from nbflow.ops.nn_ops import l2_loss
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.constant_op import constant

__all__ = ["clip_by_norm", "global_norm", "clip_by_global_norm", "clip_by_average_norm"]


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t * clip_norm / max(l2norm(t, axes), clip_norm)``: ``t`` scaled so its L2
    norm (over ``axes``, default all) is at most ``clip_norm``. A zero ``t``
    stays zero, with a finite gradient."""
    with name_scope(name, "clip_by_norm", [t, clip_norm]) as scope:
        values = convert_to_tensor(t, name="t")
        l2sum = reduction_ops.reduce_sum(values * values, axes, keepdims=True)
        pred = l2sum > 0
        # Two where's keep the gradient finite where the norm is zero.
        l2sum_safe = math_ops.where(pred, l2sum, array_ops.ones_like(l2sum))
        l2norm = math_ops.where(pred, math_ops.sqrt(l2sum_safe), l2sum)
        intermediate = values * clip_norm
        values.shape.merge_with(intermediate.shape)  # clip_norm must not broadcast t to a new shape
        return array_ops.identity(intermediate / math_ops.maximum(l2norm, clip_norm), name=scope)


def _as_sequence(t_list):
    if not isinstance(t_list, collections.abc.Sequence) or isinstance(t_list, (str, bytes)):
        raise TypeError("t_list should be a sequence")
    return list(t_list)


def global_norm(t_list, name=None):
    """``sqrt(sum(l2norm(t)**2 for t in t_list))``; None entries are ignored."""
    t_list = _as_sequence(t_list)
    with name_scope(name, "global_norm", [t for t in t_list if isinstance(t, Tensor)]) as scope:
        values = [convert_to_tensor(t, name="t_%d" % i) if t is not None else None for i, t in enumerate(t_list)]
        half_squared_norms = [l2_loss(v) for v in values if v is not None]
        if not half_squared_norms:
            raise ValueError("global_norm: t_list holds no tensors (every entry is None)")
        dts = {h.dtype for h in half_squared_norms}
        if len(dts) > 1:
            raise TypeError("global_norm: all tensors must have the same dtype, got %s"
                            % sorted(d.name for d in dts))
        half_squared_norm = reduction_ops.reduce_sum(array_ops.stack(half_squared_norms))
        return math_ops.sqrt(half_squared_norm * constant(2.0, dtype=half_squared_norm.dtype), name="global_norm")


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """``(list_clipped, global_norm)``: every tensor scaled by
    ``clip_norm / max(global_norm, clip_norm)`` (None entries stay None). A
    non-finite global norm makes every clipped value NaN, as in TF."""
    t_list = _as_sequence(t_list)
    if use_norm is None:
        use_norm = global_norm(t_list, name)
    use_norm = convert_to_tensor(use_norm)
    with name_scope(name, "clip_by_global_norm", [t for t in t_list if isinstance(t, Tensor)]) as scope:
        clip_norm_t = convert_to_tensor(clip_norm, dtype=use_norm.dtype) \
            if not isinstance(clip_norm, Tensor) else clip_norm
        scale_for_finite = clip_norm_t * math_ops.minimum(
            1.0 / use_norm, constant(1.0, dtype=use_norm.dtype) / clip_norm_t)
        scale = scale_for_finite + (use_norm - use_norm)  # NaN when the norm is inf or NaN
        clipped = []
        for i, t in enumerate(t_list):
            if t is None:
                clipped.append(None)
                continue
            v = convert_to_tensor(t, name="t_%d" % i)
            clipped.append(array_ops.identity(v * math_ops.cast(scale, v.dtype), name="%s_%d" % (scope, i)))
    return clipped, use_norm


def clip_by_average_norm(t, clip_norm, name=None):
    """``t * clip_norm / max(l2norm(t) / size(t), clip_norm)`` (deprecated in TF)."""
    with name_scope(name, "clip_by_average_norm", [t, clip_norm]) as scope:
        t = convert_to_tensor(t, name="t")
        n_element = math_ops.cast(array_ops.size(t), t.dtype)
        l2norm_inv = math_ops.rsqrt(reduction_ops.reduce_sum(t * t))
        return array_ops.identity(
            t * clip_norm * math_ops.minimum(l2norm_inv * n_element, constant(1.0, dtype=t.dtype) / clip_norm),
            name=scope)
