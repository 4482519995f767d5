"""``BatchNormalization`` (TF 2 Keras).

Weights: ``gamma`` (``scale``), ``beta`` (``center``), then the non-trainable
``moving_mean`` / ``moving_variance``. Training normalizes with the batch's
statistics and moves the averages: ``moving -= (moving - batch) * (1 - momentum)``
by AssignSub ops -- eagerly they run at once; in a ``tf.function`` they are
stateful ops the function runs every call; in a TF 1 graph they go to
``layer.updates`` and UPDATE_OPS (run them with the train op). Inference uses
the moving statistics; ``trainable = False`` forces inference, as TF 2.
``training`` may be a scalar bool Tensor: both paths are built and selects pick
one when the graph runs (the updates then change nothing when it is False).

4-D float16/float32 input over its last axis uses the fused kernel
(FusedBatchNormV3, Keras' ``fused=None`` default): the moving variance moves
toward the batch's *unbiased* variance and epsilon is at least 1.001e-5, as
TF's; other inputs (float64, other ranks or axes, ``fused=False``) go through
moments / batch_normalization with the biased variance.
"""
from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras import initializers, regularizers
from nbflow.keras.layers.base_layer import InputSpec, Layer
from nbflow.keras.layers.core import serialize_or_none
from nbflow.layers.base import constant_bool
from nbflow.layers.normalization import fused_nhwc_call
from nbflow.ops import array_ops as A
from nbflow.ops import math_ops as M
from nbflow.ops import state_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.nn_impl import batch_normalization as nn_batch_normalization
from nbflow.ops.nn_impl import moments

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Batch normalization (Ioffe and Szegedy, 2015); see the module docstring."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 fused=None, renorm=False, virtual_batch_size=None, adjustment=None, **kwargs):
        super().__init__(**kwargs)
        if renorm or virtual_batch_size is not None or adjustment is not None:
            raise NotImplementedError("BatchNormalization: renorm, virtual_batch_size and adjustment are not "
                                      "supported by nbflow")
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis', but received: %r"
                            % (axis,))
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = beta_constraint
        self.gamma_constraint = gamma_constraint
        self.fused = fused
        self.supports_masking = True

    @property
    def _param_dtype(self):
        dt = self._compute_dtype
        return dtypes.float32 if dt is dtypes.float16 else dt

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        if not input_shape.ndims:
            raise ValueError("Input has undefined rank.")
        ndims = input_shape.ndims
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        axes = [a + ndims if a < 0 else a for a in axes]
        for a in axes:
            if a < 0 or a >= ndims:
                raise ValueError("Invalid axis: %s" % (self.axis,))
        if len(axes) != len(set(axes)):
            raise ValueError("Duplicate axis: %s" % (self.axis,))
        self.axis = axes
        dims = input_shape.as_tuple()
        for a in axes:
            if dims[a] is None:
                raise ValueError("Input has undefined `axis` dimension. Received input with shape %s." % input_shape)
        dtype = self._compute_dtype
        if not dtype.is_floating:
            raise TypeError("BatchNormalization needs floating-point inputs, got %s" % dtype.name)
        can_fuse = ndims == 4 and axes == [3] and dtype in (dtypes.float16, dtypes.float32)
        if self.fused and not can_fuse:
            raise ValueError("BatchNormalization(fused=True) needs 4-D float16/float32 input normalized over its "
                             "last axis in nbflow")
        self._use_kernel = can_fuse if self.fused is None else bool(self.fused)
        param_shape = [dims[axes[0]]] if len(axes) == 1 else [dims[i] if i in axes else 1 for i in range(ndims)]
        self._ndims = ndims
        pdt = self._param_dtype
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight("gamma", shape=param_shape, dtype=pdt, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape=param_shape, dtype=pdt, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.moving_mean = self.add_weight("moving_mean", shape=param_shape, dtype=pdt,
                                           initializer=self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape=param_shape, dtype=pdt,
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=ndims, axes={a: dims[a] for a in axes})
        self.built = True

    def _assign_moving_average(self, variable, value, training_tensor):
        with name_scope("AssignMovingAvg") as scope:
            var = convert_to_tensor(variable)
            decay = M.cast(convert_to_tensor(1.0 - self.momentum), var.dtype)
            delta = (var - M.cast(value, var.dtype)) * decay
            if training_tensor is not None:
                delta = M.where_v2(training_tensor, delta, A.zeros_like(delta))
            return state_ops.assign_sub(variable, delta, name=scope or None)

    def _update(self, mean, variance, training_tensor):
        self.add_update(self._assign_moving_average(self.moving_mean, mean, training_tensor))
        self.add_update(self._assign_moving_average(self.moving_variance, variance, training_tensor))

    def call(self, inputs, training=None):
        if inputs.shape.ndims is not None and inputs.shape.ndims != self._ndims:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=%d, found ndim=%d. "
                             "Full shape received: %s" % (self.name, self._ndims, inputs.shape.ndims, inputs.shape))
        if not self.trainable:
            training = False  # TF 2: a frozen BatchNormalization runs in inference mode
        value, tensor = constant_bool(training, "BatchNormalization")
        if self._use_kernel:
            return self._fused_call(inputs, value, tensor)
        return self._moments_call(inputs, value, tensor)

    def _fused_call(self, inputs, value, tensor):
        output, mean, variance = fused_nhwc_call(self, inputs, value, tensor)
        if value or tensor is not None:
            self._update(mean, variance, tensor)
        return output

    def _moments_call(self, inputs, value, tensor):
        ndims, pdt = self._ndims, self._param_dtype
        reduction_axes = [i for i in range(ndims) if i not in self.axis]
        broadcast = len(self.axis) == 1 and self.axis[0] != ndims - 1
        bshape = [1] * ndims
        if broadcast:
            bshape[self.axis[0]] = self.moving_mean.shape.as_tuple()[0]

        def _b(v):
            return A.reshape(v, bshape) if v is not None and broadcast else v

        moving_mean = convert_to_tensor(self.moving_mean)
        moving_variance = convert_to_tensor(self.moving_variance)
        if not value and tensor is None:
            mean, variance = moving_mean, moving_variance
        else:
            mean, variance = moments(M.cast(inputs, pdt), reduction_axes, keep_dims=len(self.axis) > 1)
            if tensor is not None:
                mean = M.where_v2(tensor, mean, moving_mean)
                variance = M.where_v2(tensor, variance, moving_variance)
            self._update(mean, variance, tensor)
        cast = (lambda v: None if v is None else M.cast(convert_to_tensor(v), inputs.dtype))
        outputs = nn_batch_normalization(inputs, _b(cast(mean)), _b(cast(variance)), offset=_b(cast(self.beta)),
                                         scale=_b(cast(self.gamma)), variance_epsilon=self.epsilon)
        outputs.set_shape(inputs.shape)
        return outputs

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center, scale=self.scale,
            beta_initializer=serialize_or_none(self.beta_initializer, initializers),
            gamma_initializer=serialize_or_none(self.gamma_initializer, initializers),
            moving_mean_initializer=serialize_or_none(self.moving_mean_initializer, initializers),
            moving_variance_initializer=serialize_or_none(self.moving_variance_initializer, initializers),
            beta_regularizer=serialize_or_none(self.beta_regularizer, regularizers),
            gamma_regularizer=serialize_or_none(self.gamma_regularizer, regularizers),
            beta_constraint=self.beta_constraint, gamma_constraint=self.gamma_constraint, fused=self.fused)
        return config
