"""``tf.contrib.layers`` layer functions (TF 1.15): ``fully_connected``,
``conv2d`` / ``convolution2d`` / ``convolution``, ``conv2d_transpose``,
``max_pool2d``, ``avg_pool2d``, ``flatten``, ``dropout``, ``one_hot_encoding``,
``linear``, ``relu``, ``relu6``, ``repeat``, ``stack`` (``batch_norm`` is in
normalization.py).

As in TF they are thin wrappers over ``tf.layers``: each opens a variable
scope (``scope`` or a default name made unique: ``fully_connected``,
``fully_connected_1``, ``Conv``, ``Conv_1``, ...) whose custom getter renames
the core layer's ``kernel`` / ``bias`` to contrib's ``weights`` / ``biases``
and makes every variable a *model variable* (``tf.GraphKeys.MODEL_VARIABLES``
as well as GLOBAL_VARIABLES). The ops go under the same name
(``fully_connected/MatMul``, ``fully_connected/Relu``); ``reuse=True`` with a
``scope`` shares the variables; ``variables_collections`` (a list, or a dict
by variable kind) adds the variables to more collections and
``outputs_collections`` the output tensor. A ``normalizer_fn`` (e.g.
``batch_norm``) replaces the bias and is applied before ``activation_fn``.

The layer functions, ``variable`` and ``model_variable`` take defaults from
``tf.contrib.framework.arg_scope`` (they are decorated with ``add_arg_scope``).

Differences from TF: tensors added to ``outputs_collections`` get no ``aliases``
attribute; channels-first data formats raise NotImplementedError (nbflow's
convolutions are NHWC).
"""
import functools

from nbflow.framework import dtypes
from nbflow.framework.graph import GraphKeys, add_to_collection, add_to_collections, device, get_collection
from nbflow.framework.graph import name_scope
from nbflow.layers import convolutional as conv_layers
from nbflow.layers import convolutional_transpose as conv_t_layers
from nbflow.layers import core as core_layers
from nbflow.layers import pooling as pooling_layers
from nbflow.ops import array_ops as A
from nbflow.ops import init_ops
from nbflow.ops import math_ops as M
from nbflow.ops import nn_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.variable_scope import get_variable, get_variable_scope, variable_scope
from nbflow.contrib.layers.initializers import xavier_initializer
from nbflow.contrib.framework.arg_scope import add_arg_scope

__all__ = ["fully_connected", "conv2d", "convolution2d", "convolution", "conv2d_transpose",
           "convolution2d_transpose", "max_pool2d", "avg_pool2d", "flatten", "dropout", "one_hot_encoding",
           "linear", "relu", "relu6", "repeat", "stack", "model_variable", "variable", "collect_named_outputs"]

DATA_FORMAT_NCHW = "NCHW"
DATA_FORMAT_NHWC = "NHWC"


# -- variables ------------------------------------------------------------------------------

@add_arg_scope
def variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=True, collections=None,
             caching_device=None, device=None, partitioner=None, custom_getter=None, use_resource=None,
             synchronization=None, aggregation=None):
    """``tf.contrib.framework.variable``: get_variable with explicit collections
    (default GLOBAL_VARIABLES) through ``custom_getter`` when given."""
    collections = list(collections if collections is not None else [GraphKeys.GLOBAL_VARIABLES])
    collections = list(dict.fromkeys(collections))  # no duplicates
    getter = get_variable
    if custom_getter is not None:
        getter = functools.partial(custom_getter, reuse=get_variable_scope().reuse)
    with _device(device):
        return getter(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                      trainable=trainable, collections=collections, caching_device=caching_device,
                      partitioner=partitioner, use_resource=use_resource, synchronization=synchronization,
                      aggregation=aggregation)


def _device(dev):
    return device(dev) if dev else _NullContext()


class _NullContext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@add_arg_scope
def model_variable(name, shape=None, dtype=dtypes.float32, initializer=None, regularizer=None, trainable=True,
                   collections=None, caching_device=None, device=None, partitioner=None, custom_getter=None,
                   use_resource=None, synchronization=None, aggregation=None):
    """``tf.contrib.framework.model_variable``: a variable also in MODEL_VARIABLES."""
    collections = list(collections or []) + [GraphKeys.GLOBAL_VARIABLES, GraphKeys.MODEL_VARIABLES]
    return variable(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                    trainable=trainable, collections=collections, caching_device=caching_device, device=device,
                    partitioner=partitioner, custom_getter=custom_getter, use_resource=use_resource,
                    synchronization=synchronization, aggregation=aggregation)


def _model_variable_getter(getter, name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=True,
                           collections=None, caching_device=None, partitioner=None, rename=None, use_resource=None,
                           synchronization=None, aggregation=None, **_):
    """A custom getter making the core layers' variables model variables, renamed by ``rename``."""
    parts = name.split("/")
    if rename and parts[-1] in rename:
        parts[-1] = rename[parts[-1]]
        name = "/".join(parts)
    return model_variable(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                          collections=collections, trainable=trainable, caching_device=caching_device,
                          partitioner=partitioner, custom_getter=getter, use_resource=use_resource,
                          synchronization=synchronization, aggregation=aggregation)


def _build_variable_getter(rename=None):
    def layer_variable_getter(getter, *args, **kwargs):
        kwargs["rename"] = rename
        return _model_variable_getter(getter, *args, **kwargs)
    return layer_variable_getter


def get_variable_collections(variables_collections, name):
    if isinstance(variables_collections, dict):
        return variables_collections.get(name, None)
    return variables_collections


def _add_variable_to_collections(var, collections_set, collections_name):
    for collection in get_variable_collections(collections_set, collections_name) or []:
        if not any(v is var for v in get_collection(collection)):
            add_to_collection(collection, var)


def collect_named_outputs(collections, alias, outputs):
    """Adds ``outputs`` to ``collections`` (nothing when None); returns ``outputs``."""
    if collections:
        add_to_collections(collections, outputs)
    return outputs


def _check_num_outputs(num_outputs):
    if isinstance(num_outputs, bool) or not isinstance(num_outputs, int):
        raise ValueError("num_outputs type should be one of %s, got %s." % ([int], type(num_outputs)))


def _finish(outputs, normalizer_fn, normalizer_params, activation_fn, layer, variables_collections):
    _add_variable_to_collections(layer.kernel, variables_collections, "weights")
    if layer.bias is not None:
        _add_variable_to_collections(layer.bias, variables_collections, "biases")
    if normalizer_fn is not None:
        outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    if activation_fn is not None:
        outputs = activation_fn(outputs)
    return outputs


# -- fully connected ---------------------------------------------------------------------------

@add_arg_scope
def fully_connected(inputs, num_outputs, activation_fn=nn_ops.relu, normalizer_fn=None, normalizer_params=None,
                    weights_initializer=xavier_initializer(), weights_regularizer=None,
                    biases_initializer=init_ops.zeros_initializer(), biases_regularizer=None, reuse=None,
                    variables_collections=None, outputs_collections=None, trainable=True, scope=None):
    """``activation_fn(normalizer_fn(inputs @ weights) or inputs @ weights + biases)``.

    ``weights`` [in, num_outputs] (Xavier-uniform), ``biases`` [num_outputs]
    (zeros; none when ``biases_initializer`` is None or a ``normalizer_fn`` is
    given). Inputs of rank > 2 are multiplied along their last axis."""
    _check_num_outputs(num_outputs)
    getter = _build_variable_getter({"bias": "biases", "kernel": "weights"})
    with variable_scope(scope, "fully_connected", [inputs], reuse=reuse, custom_getter=getter) as sc:
        inputs = convert_to_tensor(inputs)
        layer = core_layers.Dense(
            units=num_outputs, activation=None, use_bias=bool(not normalizer_fn and biases_initializer),
            kernel_initializer=weights_initializer, bias_initializer=biases_initializer,
            kernel_regularizer=weights_regularizer, bias_regularizer=biases_regularizer, activity_regularizer=None,
            trainable=trainable, name=sc.name, dtype=inputs.dtype.base_dtype, _scope=sc, _reuse=reuse)
        outputs = layer.apply(inputs)
        outputs = _finish(outputs, normalizer_fn, normalizer_params, activation_fn, layer, variables_collections)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


linear = functools.partial(fully_connected, activation_fn=None)
relu = functools.partial(fully_connected, activation_fn=nn_ops.relu)
relu6 = functools.partial(fully_connected, activation_fn=nn_ops.relu6)


# -- convolutions ------------------------------------------------------------------------------

@add_arg_scope
def convolution(inputs, num_outputs, kernel_size, stride=1, padding="SAME", data_format=None, rate=1,
                activation_fn=nn_ops.relu, normalizer_fn=None, normalizer_params=None,
                weights_initializer=xavier_initializer(), weights_regularizer=None,
                biases_initializer=init_ops.zeros_initializer(), biases_regularizer=None, reuse=None,
                variables_collections=None, outputs_collections=None, trainable=True, scope=None, conv_dims=None):
    """An N-D convolution layer (nbflow: 2-D, NHWC) with contrib's variables
    ``<scope>/weights`` [kh, kw, in, num_outputs] and ``<scope>/biases``; default scope ``Conv``."""
    if data_format not in [None, "NWC", "NCW", "NHWC", "NCHW", "NDHWC", "NCDHW"]:
        raise ValueError("Invalid data_format: %r" % (data_format,))
    _check_num_outputs(num_outputs)
    getter = _build_variable_getter({"bias": "biases", "kernel": "weights"})
    with variable_scope(scope, "Conv", [inputs], reuse=reuse, custom_getter=getter) as sc:
        inputs = convert_to_tensor(inputs)
        input_rank = inputs.shape.ndims
        if conv_dims is not None and input_rank is not None and conv_dims + 2 != input_rank:
            raise ValueError("Convolution expects input with rank %d, got %d" % (conv_dims + 2, input_rank))
        if input_rank in (3, 5):
            raise NotImplementedError("tf.contrib.layers.convolution with %d-D input (Conv%dD) is not supported by "
                                      "nbflow; only 2-D convolutions (rank-4 NHWC input)" % (input_rank,
                                                                                               input_rank - 2))
        if input_rank != 4:
            raise ValueError("Convolution not supported for input with rank %s" % (input_rank,))
        df = "channels_first" if data_format and data_format.startswith("NC") else "channels_last"
        layer = conv_layers.Convolution2D(
            filters=num_outputs, kernel_size=kernel_size, strides=stride, padding=padding, data_format=df,
            dilation_rate=rate, activation=None, use_bias=bool(not normalizer_fn and biases_initializer),
            kernel_initializer=weights_initializer, bias_initializer=biases_initializer,
            kernel_regularizer=weights_regularizer, bias_regularizer=biases_regularizer, activity_regularizer=None,
            trainable=trainable, name=sc.name, dtype=inputs.dtype.base_dtype, _scope=sc, _reuse=reuse)
        outputs = layer.apply(inputs)
        outputs = _finish(outputs, normalizer_fn, normalizer_params, activation_fn, layer, variables_collections)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


@add_arg_scope
def convolution2d(inputs, num_outputs, kernel_size, stride=1, padding="SAME", data_format=None, rate=1,
                  activation_fn=nn_ops.relu, normalizer_fn=None, normalizer_params=None,
                  weights_initializer=xavier_initializer(), weights_regularizer=None,
                  biases_initializer=init_ops.zeros_initializer(), biases_regularizer=None, reuse=None,
                  variables_collections=None, outputs_collections=None, trainable=True, scope=None):
    """``tf.contrib.layers.conv2d``: :func:`convolution` on rank-4 input."""
    return convolution(inputs, num_outputs, kernel_size, stride, padding, data_format, rate, activation_fn,
                       normalizer_fn, normalizer_params, weights_initializer, weights_regularizer,
                       biases_initializer, biases_regularizer, reuse, variables_collections, outputs_collections,
                       trainable, scope, conv_dims=2)


conv2d = convolution2d


@add_arg_scope
def convolution2d_transpose(inputs, num_outputs, kernel_size, stride=1, padding="SAME",
                            data_format=DATA_FORMAT_NHWC, activation_fn=nn_ops.relu, normalizer_fn=None,
                            normalizer_params=None, weights_initializer=xavier_initializer(),
                            weights_regularizer=None, biases_initializer=init_ops.zeros_initializer(),
                            biases_regularizer=None, reuse=None, variables_collections=None,
                            outputs_collections=None, trainable=True, scope=None):
    """``tf.contrib.layers.conv2d_transpose``: a transposed convolution with
    ``<scope>/weights`` [kh, kw, num_outputs, in] and ``<scope>/biases``;
    default scope ``Conv2d_transpose``."""
    _check_num_outputs(num_outputs)
    getter = _build_variable_getter({"bias": "biases", "kernel": "weights"})
    with variable_scope(scope, "Conv2d_transpose", [inputs], reuse=reuse, custom_getter=getter) as sc:
        if data_format not in (DATA_FORMAT_NCHW, DATA_FORMAT_NHWC):
            raise ValueError("data_format has to be either NCHW or NHWC.")
        inputs = convert_to_tensor(inputs)
        df = "channels_first" if data_format and data_format.startswith("NC") else "channels_last"
        layer = conv_t_layers.Convolution2DTranspose(
            filters=num_outputs, kernel_size=kernel_size, strides=stride, padding=padding, data_format=df,
            activation=None, use_bias=bool(not normalizer_fn and biases_initializer),
            kernel_initializer=weights_initializer, bias_initializer=biases_initializer,
            kernel_regularizer=weights_regularizer, bias_regularizer=biases_regularizer, activity_regularizer=None,
            trainable=trainable, name=sc.name, dtype=inputs.dtype.base_dtype, _scope=sc, _reuse=reuse)
        outputs = layer.apply(inputs)
        outputs = _finish(outputs, normalizer_fn, normalizer_params, activation_fn, layer, variables_collections)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


conv2d_transpose = convolution2d_transpose


# -- pooling, flatten, dropout -------------------------------------------------------------------

def _pool2d(layer_cls, default_name, inputs, kernel_size, stride, padding, data_format, outputs_collections,
            scope):
    if data_format not in (DATA_FORMAT_NCHW, DATA_FORMAT_NHWC):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    with name_scope(scope, default_name, [inputs]) as sc:
        inputs = convert_to_tensor(inputs)
        df = "channels_first" if data_format and data_format.startswith("NC") else "channels_last"
        layer = layer_cls(pool_size=kernel_size, strides=stride, padding=padding, data_format=df, _scope=sc)
        outputs = layer.apply(inputs)
        return collect_named_outputs(outputs_collections, sc, outputs)


@add_arg_scope
def max_pool2d(inputs, kernel_size, stride=2, padding="VALID", data_format=DATA_FORMAT_NHWC,
               outputs_collections=None, scope=None):
    """2-D max pooling over ``kernel_size`` windows moved by ``stride`` (default 2, 'VALID')."""
    return _pool2d(pooling_layers.MaxPooling2D, "MaxPool2D", inputs, kernel_size, stride, padding, data_format,
                   outputs_collections, scope)


@add_arg_scope
def avg_pool2d(inputs, kernel_size, stride=2, padding="VALID", data_format=DATA_FORMAT_NHWC,
               outputs_collections=None, scope=None):
    """2-D average pooling over ``kernel_size`` windows moved by ``stride`` (default 2, 'VALID')."""
    return _pool2d(pooling_layers.AveragePooling2D, "AvgPool2D", inputs, kernel_size, stride, padding,
                   data_format, outputs_collections, scope)


@add_arg_scope
def flatten(inputs, outputs_collections=None, scope=None):
    """[batch, ...] -> [batch, k], in the ``Flatten`` name scope."""
    with name_scope(scope, "Flatten", [inputs]) as sc:
        inputs = convert_to_tensor(inputs)
        outputs = core_layers.flatten(inputs)
        return collect_named_outputs(outputs_collections, sc, outputs)


@add_arg_scope
def dropout(inputs, keep_prob=0.5, noise_shape=None, is_training=True, outputs_collections=None, scope=None,
            seed=None):
    """Dropout with keep probability ``keep_prob`` (a float or a scalar Tensor);
    the identity unless ``is_training`` (a Python bool or a bool Tensor, default True)."""
    with variable_scope(scope, "Dropout", [inputs], custom_getter=_model_variable_getter) as sc:
        inputs = convert_to_tensor(inputs)
        layer = core_layers.Dropout(rate=1 - keep_prob, noise_shape=noise_shape, seed=seed, name=sc.name, _scope=sc)
        outputs = layer.apply(inputs, training=is_training)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


@add_arg_scope
def one_hot_encoding(labels, num_classes, on_value=1.0, off_value=0.0, outputs_collections=None, scope=None):
    """float one-hot rows of integer ``labels`` (in the ``OneHotEncoding`` name scope)."""
    with name_scope(scope, "OneHotEncoding", [labels]) as sc:
        labels = convert_to_tensor(labels)
        if labels.dtype is dtypes.int32:
            labels = M.to_int64(labels)
        outputs = A.one_hot(labels, num_classes, on_value=on_value, off_value=off_value)
        return collect_named_outputs(outputs_collections, sc, outputs)


# -- repeat, stack ---------------------------------------------------------------------------------

def repeat(inputs, repetitions, layer, *args, **kwargs):
    """Applies ``layer`` ``repetitions`` times, in scopes ``<scope>/<scope>_1``, ``_2``, ..."""
    scope = kwargs.pop("scope", None)
    with variable_scope(scope, "Repeat", [inputs]):
        inputs = convert_to_tensor(inputs)
        if scope is None:
            scope = getattr(layer, "__name__", None) or getattr(getattr(layer, "func", None), "__name__", "repeat")
        outputs = inputs
        for i in range(repetitions):
            kwargs["scope"] = scope + "_" + str(i + 1)
            outputs = layer(outputs, *args, **kwargs)
        return outputs


def stack(inputs, layer, stack_args, **kwargs):
    """Applies ``layer`` once per entry of ``stack_args`` (a tuple is unpacked as
    positional arguments), in scopes ``<scope>/<scope>_1``, ``_2``, ..."""
    scope = kwargs.pop("scope", None)
    if not isinstance(stack_args, (list, tuple)):
        raise ValueError("stack_args need to be a list or tuple")
    with variable_scope(scope, "Stack", [inputs]):
        inputs = convert_to_tensor(inputs)
        if scope is None:
            scope = getattr(layer, "__name__", None) or getattr(getattr(layer, "func", None), "__name__", "stack")
        outputs = inputs
        for i in range(len(stack_args)):
            kwargs["scope"] = scope + "_" + str(i + 1)
            layer_args = stack_args[i]
            if not isinstance(layer_args, (list, tuple)):
                layer_args = [layer_args]
            outputs = layer(outputs, *layer_args, **kwargs)
        return outputs
