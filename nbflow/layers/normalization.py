"""``tf.layers.BatchNormalization`` and ``tf.layers.batch_normalization`` (TF 1.x).

Variables: ``gamma`` (when ``scale``), ``beta`` (when ``center``) and the
non-trainable ``moving_mean`` / ``moving_variance`` (in GLOBAL_VARIABLES
only, as TF 1.15's layer makes them).

Training normalizes with the batch's statistics and adds two update ops to
``tf.GraphKeys.UPDATE_OPS`` (and ``layer.updates``):
``moving -= (moving - batch) * (1 - momentum)``. Inference normalizes with
the moving statistics. ``training`` may be a Python bool or a scalar bool
Tensor: then both paths are built, element-wise selects pick one when the
graph runs, and the updates change nothing when it is False.

Like TF 1.15, 4-D float16/float32 input normalized over its channel axis
uses the fused kernel (``FusedBatchNormV3``; TF's ``fused=None`` default):
its moving variance is updated with the batch's *unbiased* variance (n / (n
- 1)) and epsilon is at least 1.001e-5. Other inputs (float64, other ranks
or axes, ``fused=False``) go through tf.nn.moments / batch_normalization,
whose moving variance uses the biased variance.
"""
from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.layers.base import Layer, constant_bool, get_initializer
from nbflow.ops import array_ops as A
from nbflow.ops import init_ops
from nbflow.ops import math_ops as M
from nbflow.ops import state_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.nn_impl import batch_normalization as nn_batch_normalization
from nbflow.ops.nn_impl import fused_batch_norm, moments

__all__ = ["BatchNormalization", "batch_normalization", "BatchNorm"]


class BatchNormalization(Layer):
    """Batch normalization layer (Ioffe and Szegedy, 2015), TF 1.x ``tf.layers`` flavour.

    ``renorm``, ``virtual_batch_size`` and ``adjustment`` are not supported
    (NotImplementedError)."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer=init_ops.zeros_initializer(), gamma_initializer=init_ops.ones_initializer(),
                 moving_mean_initializer=init_ops.zeros_initializer(),
                 moving_variance_initializer=init_ops.ones_initializer(), beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, renorm=False,
                 renorm_clipping=None, renorm_momentum=0.99, fused=None, trainable=True, virtual_batch_size=None,
                 adjustment=None, name=None, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        if renorm:
            raise NotImplementedError("BatchNormalization(renorm=True) (batch renormalization) is not supported by "
                                      "nbflow")
        if virtual_batch_size is not None:
            raise NotImplementedError("BatchNormalization(virtual_batch_size=...) is not supported by nbflow")
        if adjustment is not None:
            raise NotImplementedError("BatchNormalization(adjustment=...) is not supported by nbflow")
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError("axis must be int or list, type given: %s" % type(axis))
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.beta_initializer = get_initializer(beta_initializer)
        self.gamma_initializer = get_initializer(gamma_initializer)
        self.moving_mean_initializer = get_initializer(moving_mean_initializer)
        self.moving_variance_initializer = get_initializer(moving_variance_initializer)
        self.beta_regularizer = beta_regularizer
        self.gamma_regularizer = gamma_regularizer
        self.beta_constraint = beta_constraint
        self.gamma_constraint = gamma_constraint
        self.renorm = False
        self.virtual_batch_size = None
        self.adjustment = None
        self.fused = True if fused is None else bool(fused)

    @property
    def _param_dtype(self):
        if self.dtype is dtypes.float16:
            return dtypes.float32
        return self.dtype or dtypes.float32

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        if not input_shape.ndims:
            raise ValueError("Input has undefined rank: %s" % input_shape)
        ndims = input_shape.ndims
        if isinstance(self.axis, int):
            self.axis = [self.axis]
        self.axis = [a + ndims if a < 0 else a for a in self.axis]
        for a in self.axis:
            if a < 0 or a >= ndims:
                raise ValueError("Invalid axis: %d" % a)
        if len(self.axis) != len(set(self.axis)):
            raise ValueError("Duplicate axis: %s" % self.axis)
        dtype = self.dtype or dtypes.float32
        if not dtype.is_floating:
            raise TypeError("BatchNormalization needs floating-point inputs, got %s" % dtype.name)
        # TF 1.15: fused for rank-4 input over axis 1 or 3 with a float16/float32 compute dtype.
        self._tf_fused = (self.fused and ndims == 4 and len(self.axis) == 1 and self.axis[0] in (1, 3)
                          and dtype in (dtypes.float16, dtypes.float32))
        self.fused = self._tf_fused
        # nbflow's FusedBatchNormV3 takes NHWC; NCHW runs unfused with TF's fused semantics.
        self._use_kernel = self._tf_fused and self.axis[0] == 3
        dims = input_shape.as_tuple()
        axis_to_dim = {a: dims[a] for a in self.axis}
        for a, d in axis_to_dim.items():
            if d is None:
                raise ValueError("Input has undefined `axis` dimension. Input shape: %s" % input_shape)
        if len(self.axis) == 1:
            param_shape = [axis_to_dim[self.axis[0]]]
        else:
            param_shape = [axis_to_dim.get(i, 1) for i in range(ndims)]
        self._ndims = ndims
        pdt = self._param_dtype
        if self.scale:
            self.gamma = self.add_weight("gamma", shape=param_shape, dtype=pdt, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                         trainable=True)
        else:
            self.gamma = None
        if self.center:
            self.beta = self.add_weight("beta", shape=param_shape, dtype=pdt, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                        trainable=True)
        else:
            self.beta = None
        self.moving_mean = self.add_weight("moving_mean", shape=param_shape, dtype=pdt,
                                           initializer=self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape=param_shape, dtype=pdt,
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.built = True

    # -- updates ------------------------------------------------------------------------
    def _assign_moving_average(self, variable, value, training_tensor):
        with name_scope("AssignMovingAvg") as scope:
            var = convert_to_tensor(variable)
            decay = M.cast(convert_to_tensor(1.0 - self.momentum, name="decay"), var.dtype)
            update_delta = (var - M.cast(value, var.dtype)) * decay
            if training_tensor is not None:
                # not training: subtract nothing (TF uses momentum 1.0 there)
                update_delta = M.where_v2(training_tensor, update_delta, A.zeros_like(update_delta))
            return state_ops.assign_sub(variable, update_delta, name=scope)

    def _add_updates(self, mean, variance, training_tensor):
        self.add_update(self._assign_moving_average(self.moving_mean, mean, training_tensor))
        self.add_update(self._assign_moving_average(self.moving_variance, variance, training_tensor))

    # -- call -----------------------------------------------------------------------------
    def call(self, inputs, training=False):
        if inputs.shape.ndims is not None and inputs.shape.ndims != self._ndims:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=%d, found ndim=%d. "
                             "Full shape received: %s" % (self.name, self._ndims, inputs.shape.ndims, inputs.shape))
        value, tensor = constant_bool(training, "BatchNormalization")
        if self._use_kernel:
            return self._fused_call(inputs, value, tensor)
        return self._moments_call(inputs, value, tensor)

    def _fused_call(self, inputs, value, tensor):
        output, mean, variance = fused_nhwc_call(self, inputs, value, tensor)
        if value or tensor is not None:
            self._add_updates(mean, variance, tensor)
        return output

    def _moments_call(self, inputs, value, tensor):
        ndims = self._ndims
        pdt = self._param_dtype
        reduction_axes = [i for i in range(ndims) if i not in self.axis]
        broadcast_shape = [1] * ndims
        broadcast_shape[self.axis[0]] = self.moving_mean.shape.as_tuple()[0] if len(self.axis) == 1 else None

        def _broadcast(v):
            if v is not None and len(self.axis) == 1 and v.shape.ndims != ndims \
                    and reduction_axes != list(range(ndims - 1)):
                return A.reshape(v, broadcast_shape)
            return v

        scale = convert_to_tensor(self.gamma) if self.gamma is not None else None
        offset = convert_to_tensor(self.beta) if self.beta is not None else None
        moving_mean = convert_to_tensor(self.moving_mean)
        moving_variance = convert_to_tensor(self.moving_variance)
        epsilon = self.epsilon
        if not value and tensor is None:
            mean, variance = moving_mean, moving_variance
        else:
            keep_dims = len(self.axis) > 1
            mean, variance = moments(M.cast(inputs, pdt), reduction_axes, keep_dims=keep_dims)
            update_variance = variance
            if self._tf_fused:
                # TF's fused kernel (NCHW here) updates with the unbiased variance and clamps epsilon.
                epsilon = max(float(epsilon), 1.001e-5)
                n = M.cast(M.floordiv(A.size(inputs), A.size(variance)), pdt)
                update_variance = variance * (n / M.maximum(n - 1, M.cast(1, pdt)))
            if tensor is not None:
                mean = M.where_v2(tensor, mean, moving_mean)
                variance = M.where_v2(tensor, variance, moving_variance)
                if update_variance is not variance:
                    update_variance = M.where_v2(tensor, update_variance, moving_variance)
            self._add_updates(mean, update_variance, tensor)
        mean = M.cast(mean, inputs.dtype)
        variance = M.cast(variance, inputs.dtype)
        if offset is not None:
            offset = M.cast(offset, inputs.dtype)
        if scale is not None:
            scale = M.cast(scale, inputs.dtype)
        outputs = nn_batch_normalization(inputs, _broadcast(mean), _broadcast(variance), offset=_broadcast(offset),
                                         scale=_broadcast(scale), variance_epsilon=epsilon)
        outputs.set_shape(inputs.shape)
        return outputs

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)


BatchNorm = BatchNormalization


def batch_normalization(inputs, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                        beta_initializer=init_ops.zeros_initializer(), gamma_initializer=init_ops.ones_initializer(),
                        moving_mean_initializer=init_ops.zeros_initializer(),
                        moving_variance_initializer=init_ops.ones_initializer(), beta_regularizer=None,
                        gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, training=False,
                        trainable=True, name=None, reuse=None, renorm=False, renorm_clipping=None,
                        renorm_momentum=0.99, fused=None, virtual_batch_size=None, adjustment=None):
    """Functional interface of :class:`BatchNormalization` (``tf.layers.batch_normalization``).

    Remember the moving averages: run ``tf.get_collection(tf.GraphKeys.UPDATE_OPS)``
    with the train op (e.g. under ``tf.control_dependencies``)."""
    layer = BatchNormalization(
        axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
        beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
        moving_mean_initializer=moving_mean_initializer, moving_variance_initializer=moving_variance_initializer,
        beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
        gamma_constraint=gamma_constraint, renorm=renorm, renorm_clipping=renorm_clipping,
        renorm_momentum=renorm_momentum, fused=fused, trainable=trainable, virtual_batch_size=virtual_batch_size,
        adjustment=adjustment, name=name, _reuse=reuse, _scope=name)
    return layer.apply(inputs, training=training)


def fused_nhwc_call(layer, inputs, value, tensor):
    """The fused kernel's batch normalization of NHWC ``inputs`` for a layer with
    ``gamma``/``beta`` (or None), ``moving_mean``/``moving_variance``, ``epsilon`` and
    ``_param_dtype`` (tf.layers' and tf.keras' BatchNormalization): (output, the
    batch's mean and variance). ``value``: training as a Python bool, or ``tensor``: a
    bool tensor choosing between the training and the inference result."""
    c = layer.moving_mean.shape.as_tuple()[0]
    gamma = convert_to_tensor(layer.gamma) if layer.gamma is not None else A.ones([c], dtype=layer._param_dtype)
    beta = convert_to_tensor(layer.beta) if layer.beta is not None else A.zeros([c], dtype=layer._param_dtype)

    def train():
        return fused_batch_norm(inputs, gamma, beta, epsilon=layer.epsilon, data_format="NHWC")

    def infer():
        return fused_batch_norm(inputs, gamma, beta, mean=convert_to_tensor(layer.moving_mean),
                                variance=convert_to_tensor(layer.moving_variance), epsilon=layer.epsilon,
                                is_training=False, data_format="NHWC")

    if tensor is None:
        output, mean, variance = train() if value else infer()
    else:
        (yt, mt, vt), (yi, mi, vi) = train(), infer()
        output, mean, variance = M.where_v2(tensor, yt, yi), M.where_v2(tensor, mt, mi), M.where_v2(tensor, vt, vi)
    output.set_shape(inputs.shape)
    return output, mean, variance
