"""``tf.contrib.layers`` regularizers: functions ``weights -> scalar loss``
(``l1_regularizer``, ``l2_regularizer``, ``l1_l2_regularizer``,
``sum_regularizer``) and ``apply_regularization``, as TF 1.15.

A regularizer is passed to ``tf.get_variable`` / the layers (its loss goes
to ``tf.GraphKeys.REGULARIZATION_LOSSES``), or applied to a list of weights
with ``apply_regularization``. A scale of 0 gives a regularizer that returns
None (no loss); an integer scale is an error (as TF: 1 would be a typo for
1.0 or a silent cast).
"""
import numbers

from nbflow.framework.graph import GraphKeys, add_to_collection, get_collection, name_scope
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.constant_op import constant
from nbflow.ops.nn_ops import l2_loss

__all__ = ["l1_regularizer", "l2_regularizer", "l1_l2_regularizer", "sum_regularizer", "apply_regularization"]


def _check_scale(scale, what="scale"):
    """True when the regularizer is disabled (a scale of 0)."""
    if isinstance(scale, numbers.Integral):
        raise ValueError("%s cannot be an integer: %s" % (what, scale))
    if isinstance(scale, numbers.Real):
        if scale < 0.:
            raise ValueError("Setting a scale less than 0 on a regularizer: %g" % scale)
        if scale == 0.:
            return True
    return False


def l1_regularizer(scale, scope=None):
    """``weights -> scale * sum(|weights|)`` (in the ``l1_regularizer`` name scope)."""
    if _check_scale(scale):
        return lambda _: None

    def l1(weights, name=None):
        with name_scope(scope, "l1_regularizer", [weights]) as name:
            my_scale = convert_to_tensor(scale, dtype=weights.dtype.base_dtype, name="scale")
            return M.multiply(my_scale, R.reduce_sum(M.abs(weights)), name=name)

    return l1


def l2_regularizer(scale, scope=None):
    """``weights -> scale * sum(weights ** 2) / 2`` (``scale * tf.nn.l2_loss(weights)``)."""
    if _check_scale(scale):
        return lambda _: None

    def l2(weights):
        with name_scope(scope, "l2_regularizer", [weights]) as name:
            my_scale = convert_to_tensor(scale, dtype=weights.dtype.base_dtype, name="scale")
            return M.multiply(my_scale, l2_loss(weights), name=name)

    return l2


def sum_regularizer(regularizer_list, scope=None):
    """The sum of several regularizers (None entries are dropped; None if none is left)."""
    regularizer_list = [reg for reg in regularizer_list if reg is not None]
    if not regularizer_list:
        return None

    def sum_reg(weights):
        with name_scope(scope, "sum_regularizer", [weights]) as name:
            tensors = [t for t in (reg(weights) for reg in regularizer_list) if t is not None]
            return M.add_n(tensors, name=name) if tensors else None

    return sum_reg


def l1_l2_regularizer(scale_l1=1.0, scale_l2=1.0, scope=None):
    """``scale_l1 * sum(|w|) + scale_l2 * sum(w ** 2) / 2`` (one of them alone when
    the other scale is 0)."""
    _check_scale(scale_l1, "scale_l1")
    _check_scale(scale_l2, "scale_l2")
    scope = scope or "l1_l2_regularizer"
    if isinstance(scale_l1, numbers.Real) and scale_l1 == 0.:
        return l2_regularizer(scale_l2, scope)
    if isinstance(scale_l2, numbers.Real) and scale_l2 == 0.:
        return l1_regularizer(scale_l1, scope)
    return sum_regularizer([l1_regularizer(scale_l1), l2_regularizer(scale_l2)], scope=scope)


def apply_regularization(regularizer, weights_list=None):
    """The sum of ``regularizer`` over ``weights_list`` (default: the
    ``tf.GraphKeys.WEIGHTS`` collection), added to REGULARIZATION_LOSSES."""
    if not weights_list:
        weights_list = get_collection(GraphKeys.WEIGHTS)
    if not weights_list:
        raise ValueError("No weights to regularize.")
    with name_scope("get_regularization_penalty", values=weights_list) as scope:
        penalties = [regularizer(w) for w in weights_list]
        penalties = [p if p is not None else constant(0.0) for p in penalties]
        for p in penalties:
            if p.shape.ndims != 0:
                raise ValueError("regularizer must return a scalar Tensor instead of a Tensor with rank %d."
                                 % p.shape.ndims)
        summed_penalty = M.add_n(penalties, name=scope)
        add_to_collection(GraphKeys.REGULARIZATION_LOSSES, summed_penalty)
        return summed_penalty
