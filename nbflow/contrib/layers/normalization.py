"""``tf.contrib.layers.batch_norm`` (TF 1.15), with its three implementations:

* rank-2 or rank-4 input with ``fused`` (the default) and a rank of 2, a
  non-default ``updates_collections`` (e.g. None) or ``zero_debias_moving_mean``:
  ``tf.nn.fused_batch_norm`` (rank 2 reshaped to [N, 1, 1, C]); its moving
  variance is updated with the batch's unbiased variance;
* otherwise, with the default ``updates_collections``: ``tf.layers.BatchNormalization``
  (``momentum=decay``, axis -1, or 1 for NCHW);
* otherwise: tf.nn.moments + tf.nn.batch_normalization (biased variance).

Variables ``<scope>/beta`` (``center``, default True), ``<scope>/gamma``
(``scale``, default **False**), ``<scope>/moving_mean`` and
``<scope>/moving_variance`` (not trainable), all model variables; the default
scope is ``BatchNorm``. ``decay`` (0.999) is the moving averages' decay:
``moving -= (moving - batch_value) * (1 - decay)``. When training, the two
update ops go to ``updates_collections`` (``tf.GraphKeys.UPDATE_OPS``: run them
with the train op), or, with ``updates_collections=None``, run before the
output is computed (control dependencies). ``is_training`` may be a bool
Tensor: both paths are built and element-wise selects pick one (the updates
then change nothing when it is False), as nbflow's tf.layers do.

Not supported (NotImplementedError): ``batch_weights``,
``zero_debias_moving_mean=True``, ``renorm``, ``adjustment``. float64 inputs
keep float64 statistics (TF's fused path would fail on them).
"""
from nbflow.framework import dtypes
from nbflow.framework.graph import GraphKeys, add_to_collections, control_dependencies, name_scope
from nbflow.layers import normalization as normalization_layers
from nbflow.layers.base import constant_bool
from nbflow.ops import array_ops as A
from nbflow.ops import init_ops
from nbflow.ops import math_ops as M
from nbflow.ops import state_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.nn_impl import batch_normalization as nn_batch_normalization
from nbflow.ops.nn_impl import fused_batch_norm, moments
from nbflow.ops.variable_scope import variable_scope
from nbflow.contrib.framework.arg_scope import add_arg_scope
from nbflow.contrib.layers.layers import (
    DATA_FORMAT_NCHW, DATA_FORMAT_NHWC, _add_variable_to_collections, _build_variable_getter,
    collect_named_outputs, get_variable_collections, model_variable,
)

__all__ = ["batch_norm"]


def assign_moving_average(variable, value, decay, training_tensor=None, name=None):
    """``variable -= (variable - value) * (1 - decay)`` (TF's moving_averages
    without zero-debiasing); with a bool ``training_tensor`` the change is
    zero where it is False. Returns the assign op's output."""
    with name_scope(name, "AssignMovingAvg", [variable, value]) as scope:
        var = convert_to_tensor(variable)
        decay = convert_to_tensor(1.0 - decay, name="decay")
        if decay.dtype is not var.dtype.base_dtype:
            decay = M.cast(decay, var.dtype.base_dtype)
        delta = (var - M.cast(value, var.dtype.base_dtype)) * decay
        if training_tensor is not None:
            delta = M.where_v2(training_tensor, delta, A.zeros_like(delta))
        return state_ops.assign_sub(variable, delta, name=scope)


def _select(tensor, a, b):
    return M.where_v2(tensor, a, b)


def _params(params_shape, dtype, center, scale, param_initializers, param_regularizers, variables_collections,
            trainable):
    """beta, gamma (None when not used), moving_mean, moving_variance as model variables."""
    param_initializers = param_initializers or {}
    param_regularizers = param_regularizers or {}
    beta = gamma = None
    if center:
        beta = model_variable("beta", shape=params_shape, dtype=dtype,
                              initializer=param_initializers.get("beta", init_ops.zeros_initializer()),
                              regularizer=param_regularizers.get("beta"),
                              collections=get_variable_collections(variables_collections, "beta"),
                              trainable=trainable)
    if scale:
        gamma = model_variable("gamma", shape=params_shape, dtype=dtype,
                               initializer=param_initializers.get("gamma", init_ops.ones_initializer()),
                               regularizer=param_regularizers.get("gamma"),
                               collections=get_variable_collections(variables_collections, "gamma"),
                               trainable=trainable)
    moving_mean = model_variable(
        "moving_mean", shape=params_shape, dtype=dtype,
        initializer=param_initializers.get("moving_mean", init_ops.zeros_initializer()), trainable=False,
        collections=get_variable_collections(variables_collections, "moving_mean"))
    moving_variance = model_variable(
        "moving_variance", shape=params_shape, dtype=dtype,
        initializer=param_initializers.get("moving_variance", init_ops.ones_initializer()), trainable=False,
        collections=get_variable_collections(variables_collections, "moving_variance"))
    return beta, gamma, moving_mean, moving_variance


def _updates(moving_mean, moving_variance, mean, variance, decay, training_tensor, updates_collections):
    """The update ops: returned for control dependencies (updates_collections None) or collected."""
    update_mean = assign_moving_average(moving_mean, mean, decay, training_tensor)
    update_variance = assign_moving_average(moving_variance, variance, decay, training_tensor)
    if updates_collections is not None:
        add_to_collections(updates_collections, update_mean)
        add_to_collections(updates_collections, update_variance)
        return []
    return [update_mean, update_variance]


def _fused_batch_norm(inputs, decay, center, scale, epsilon, activation_fn, param_initializers, param_regularizers,
                      updates_collections, is_training, reuse, variables_collections, outputs_collections,
                      trainable, data_format, scope):
    if data_format not in (DATA_FORMAT_NCHW, DATA_FORMAT_NHWC):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    with variable_scope(scope, "BatchNorm", [inputs], reuse=reuse) as sc:
        inputs = convert_to_tensor(inputs)
        original_shape = inputs.shape
        original_inputs = inputs
        rank = original_shape.ndims
        if rank is None:
            raise ValueError("Inputs %s has undefined rank" % inputs.name)
        if rank not in (2, 4):
            raise ValueError("Inputs %s has unsupported rank. Expected 2 or 4 but got %d" % (inputs.name, rank))
        channel_axis = 1 if data_format == DATA_FORMAT_NCHW else rank - 1
        channels = original_shape.as_tuple()[channel_axis]
        if channels is None:
            if rank == 2:
                raise ValueError("`C` dimension must be known but is None")
            raise ValueError("Inputs %s has undefined `C` dimension %s." % (inputs.name, [channels]))
        # nbflow's fused kernel is NHWC: a matrix becomes [N, 1, 1, C]; NCHW is transposed around it
        if rank == 2:
            inputs = A.reshape(inputs, [-1, 1, 1, channels])
        elif data_format == DATA_FORMAT_NCHW:
            inputs = A.transpose(inputs, [0, 2, 3, 1])
        dtype = dtypes.float64 if inputs.dtype is dtypes.float64 else dtypes.float32
        beta, gamma, moving_mean, moving_variance = _params(
            [channels], dtype, center, scale, param_initializers, param_regularizers, variables_collections,
            trainable)
        b = convert_to_tensor(beta) if beta is not None else A.zeros([channels], dtype=dtype)
        g = convert_to_tensor(gamma) if gamma is not None else A.ones([channels], dtype=dtype)
        value, tensor = constant_bool(is_training, "batch_norm")

        def train():
            return fused_batch_norm(inputs, g, b, epsilon=epsilon, data_format="NHWC")

        def infer():
            return fused_batch_norm(inputs, g, b, mean=convert_to_tensor(moving_mean),
                                    variance=convert_to_tensor(moving_variance), epsilon=epsilon,
                                    is_training=False, data_format="NHWC")

        if tensor is None:
            outputs, mean, variance = train() if value else infer()
        else:
            yt, mt, vt = train()
            yi, mi, vi = infer()
            outputs, mean, variance = _select(tensor, yt, yi), _select(tensor, mt, mi), _select(tensor, vt, vi)
        if value or tensor is not None:
            forced = _updates(moving_mean, moving_variance, mean, variance, decay, tensor, updates_collections)
            if forced:
                with control_dependencies(forced):
                    outputs = A.identity(outputs)
        if rank == 2:
            outputs = A.reshape(outputs, A.shape(original_inputs))
        elif data_format == DATA_FORMAT_NCHW:
            outputs = A.transpose(outputs, [0, 3, 1, 2])
        outputs.set_shape(original_shape)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


def _legacy_batch_norm(inputs, decay, center, scale, epsilon, param_initializers, variables_collections,
                       updates_collections, is_training, trainable, data_format):
    """The moments-based implementation (a custom updates_collections without fusing); as TF's,
    it gives beta and gamma no regularizers."""
    shape = inputs.shape
    rank = shape.ndims
    if rank is None:
        raise ValueError("Inputs %s has undefined rank." % inputs.name)
    if data_format == DATA_FORMAT_NCHW:
        moments_axes = [0] + list(range(2, rank))
        params_shape = shape.as_tuple()[1:2]
        broadcast = [1, params_shape[0]] + [1] * (rank - 2)
    else:
        moments_axes = list(range(rank - 1))
        params_shape = shape.as_tuple()[-1:]
        broadcast = None
    if None in params_shape:
        raise ValueError("Inputs %s has undefined channels dimension %s." % (inputs.name, list(params_shape)))
    beta, gamma, moving_mean, moving_variance = _params(
        list(params_shape), inputs.dtype.base_dtype, center, scale, param_initializers, None,
        variables_collections, trainable)
    value, tensor = constant_bool(is_training, "batch_norm")
    if value or tensor is not None:
        mean, variance = moments(inputs, moments_axes, keep_dims=broadcast is not None)
        if broadcast is not None:
            mean, variance = A.reshape(mean, [-1]), A.reshape(variance, [-1])
        forced = _updates(moving_mean, moving_variance, mean, variance, decay, tensor, updates_collections)
        if forced:
            with control_dependencies(forced):
                mean, variance = A.identity(mean), A.identity(variance)
        if tensor is not None:
            mean = _select(tensor, mean, convert_to_tensor(moving_mean))
            variance = _select(tensor, variance, convert_to_tensor(moving_variance))
    else:
        mean, variance = convert_to_tensor(moving_mean), convert_to_tensor(moving_variance)
    if broadcast is not None:
        mean, variance = A.reshape(mean, broadcast), A.reshape(variance, broadcast)
        beta = A.reshape(beta, broadcast) if beta is not None else None
        gamma = A.reshape(gamma, broadcast) if gamma is not None else None
    outputs = nn_batch_normalization(inputs, mean, variance, beta, gamma, epsilon)
    outputs.set_shape(shape)
    return outputs


@add_arg_scope
def batch_norm(inputs, decay=0.999, center=True, scale=False, epsilon=0.001, activation_fn=None,
               param_initializers=None, param_regularizers=None, updates_collections=GraphKeys.UPDATE_OPS,
               is_training=True, reuse=None, variables_collections=None, outputs_collections=None, trainable=True,
               batch_weights=None, fused=None, data_format=DATA_FORMAT_NHWC, zero_debias_moving_mean=False,
               scope=None, renorm=False, renorm_clipping=None, renorm_decay=0.99, adjustment=None):
    """Batch normalization (Ioffe and Szegedy, 2015), as ``tf.contrib.layers.batch_norm``.

    Normalizes over every axis but the channel axis (last for NHWC, 1 for
    NCHW) with the batch's statistics when ``is_training`` (default True), else
    with the moving averages. Usable as ``normalizer_fn`` of ``fully_connected``
    and ``conv2d``. Remember the update ops: run
    ``tf.get_collection(tf.GraphKeys.UPDATE_OPS)`` with the train op, or pass
    ``updates_collections=None``."""
    if batch_weights is not None:
        raise NotImplementedError("tf.contrib.layers.batch_norm(batch_weights=...) is not supported by nbflow")
    if zero_debias_moving_mean:
        raise NotImplementedError("tf.contrib.layers.batch_norm(zero_debias_moving_mean=True) is not supported by "
                                  "nbflow")
    if renorm:
        raise NotImplementedError("tf.contrib.layers.batch_norm(renorm=True) is not supported by nbflow")
    if adjustment is not None:
        raise NotImplementedError("tf.contrib.layers.batch_norm(adjustment=...) is not supported by nbflow")
    if fused is None:
        fused = True
    inputs = convert_to_tensor(inputs)
    rank = inputs.shape.ndims
    default_updates = isinstance(updates_collections, str) and updates_collections == GraphKeys.UPDATE_OPS
    if fused and rank in (2, 4) and (rank == 2 or not default_updates):
        return _fused_batch_norm(inputs, decay, center, scale, epsilon, activation_fn, param_initializers,
                                 param_regularizers, updates_collections, is_training, reuse,
                                 variables_collections, outputs_collections, trainable, data_format, scope)
    if data_format not in (DATA_FORMAT_NCHW, DATA_FORMAT_NHWC):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    with variable_scope(scope, "BatchNorm", [inputs], reuse=reuse, custom_getter=_build_variable_getter()) as sc:
        inputs = convert_to_tensor(inputs)
        if default_updates:
            param_initializers = param_initializers or {}
            param_regularizers = param_regularizers or {}
            layer = normalization_layers.BatchNormalization(
                axis=1 if data_format == DATA_FORMAT_NCHW else -1, momentum=decay, epsilon=epsilon, center=center,
                scale=scale, beta_initializer=param_initializers.get("beta", init_ops.zeros_initializer()),
                gamma_initializer=param_initializers.get("gamma", init_ops.ones_initializer()),
                moving_mean_initializer=param_initializers.get("moving_mean", init_ops.zeros_initializer()),
                moving_variance_initializer=param_initializers.get("moving_variance", init_ops.ones_initializer()),
                beta_regularizer=param_regularizers.get("beta"), gamma_regularizer=param_regularizers.get("gamma"),
                trainable=trainable, name=sc.name, _scope=sc, _reuse=reuse, fused=fused)
            outputs = layer.apply(inputs, training=is_training)
            for var, kind in ((layer.moving_mean, "moving_mean"), (layer.moving_variance, "moving_variance"),
                              (layer.beta, "beta"), (layer.gamma, "gamma")):
                if var is not None:
                    _add_variable_to_collections(var, variables_collections, kind)
        else:
            outputs = _legacy_batch_norm(inputs, decay, center, scale, epsilon, param_initializers,
                                         variables_collections, updates_collections, is_training, trainable,
                                         data_format)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return collect_named_outputs(outputs_collections, sc.name, outputs)
