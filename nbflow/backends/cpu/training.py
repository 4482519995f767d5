"""CPU kernels of the training ops (nbflow/ops/training_ops.py).

Each ApplyX kernel updates the variable and its slots in place, in one pass
(kernels/cpu/optim.py), over flat views of their arrays; hyper-parameters
arrive as 0-d arrays. Shapes are checked once at plan time when all are
known, else on every run.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cpu import optim as K
from nbflow.ops import training_ops as T


def _flat(a):
    return a.reshape(-1)


def _scalar(a):
    return a[()]


def _apply(ctx, update):
    """The kernel running ``update(*inputs)`` (in place) and returning the variable."""
    cls = ctx.op_def
    scalar_pos = [i for i, n in enumerate(cls.input_names) if n in cls.scalars]
    tensor_pos = [i for i, n in enumerate(cls.input_names) if n not in cls.scalars]
    name = ctx.name
    names = cls.input_names

    def check(args):
        shape = args[0].shape
        for i in tensor_pos:
            if args[i].shape != shape:
                raise ctx.op_error(
                    errors.InvalidArgumentError, "var and %s do not have the same shape%s %s\n\t [[node %s]]"
                    % (names[i], list(args[i].shape), list(shape), name))
        for i in scalar_pos:
            if np.ndim(args[i]) != 0:
                raise ctx.op_error(
                    errors.InvalidArgumentError, "%s is not a scalar: %s\n\t [[node %s]]"
                    % (names[i], list(np.shape(args[i])), name))

    if all(s.is_fully_defined() for s in ctx.input_shapes):
        shapes = ctx.input_shapes
        static_ok = all(shapes[i].as_tuple() == shapes[0].as_tuple() for i in tensor_pos) \
            and all(shapes[i].ndims == 0 for i in scalar_pos)
        if not static_ok:
            raise ctx.op_error(errors.InvalidArgumentError, "%s: inputs of incompatible shapes %s\n\t [[node %s]]"
                               % (cls.type, [str(s) for s in shapes], name))

        def run(*args):
            update(*args)
            return args[0]
    else:
        def run(*args):
            check(args)
            update(*args)
            return args[0]
    return run


@register_kernel(T.ApplyGradientDescent)
def _apply_gradient_descent(ctx):
    kernel = K.apply_gradient_descent
    return _apply(ctx, lambda var, alpha, delta: kernel(_flat(var), _scalar(alpha), _flat(delta)))


@register_kernel(T.ApplyMomentum)
def _apply_momentum(ctx):
    kernel = K.apply_momentum
    nesterov = bool(ctx.attrs.get("use_nesterov", False))
    return _apply(ctx, lambda var, accum, lr, grad, momentum: kernel(
        _flat(var), _flat(accum), _scalar(lr), _flat(grad), _scalar(momentum), nesterov))


@register_kernel(T.ApplyAdam)
def _apply_adam(ctx):
    kernel = K.apply_adam
    nesterov = bool(ctx.attrs.get("use_nesterov", False))
    return _apply(ctx, lambda var, m, v, b1p, b2p, lr, b1, b2, eps, grad: kernel(
        _flat(var), _flat(m), _flat(v), _scalar(b1p), _scalar(b2p), _scalar(lr), _scalar(b1), _scalar(b2),
        _scalar(eps), _flat(grad), nesterov))


@register_kernel(T.ApplyRMSProp)
def _apply_rms_prop(ctx):
    kernel = K.apply_rms_prop
    return _apply(ctx, lambda var, ms, mom, lr, rho, momentum, eps, grad: kernel(
        _flat(var), _flat(ms), _flat(mom), _scalar(lr), _scalar(rho), _scalar(momentum), _scalar(eps),
        _flat(grad)))


@register_kernel(T.ApplyCenteredRMSProp)
def _apply_centered_rms_prop(ctx):
    kernel = K.apply_centered_rms_prop
    return _apply(ctx, lambda var, mg, ms, mom, lr, rho, momentum, eps, grad: kernel(
        _flat(var), _flat(mg), _flat(ms), _flat(mom), _scalar(lr), _scalar(rho), _scalar(momentum),
        _scalar(eps), _flat(grad)))


@register_kernel(T.ApplyAdagrad)
def _apply_adagrad(ctx):
    kernel = K.apply_adagrad
    update_slots = bool(ctx.attrs.get("update_slots", True))
    return _apply(ctx, lambda var, accum, lr, grad: kernel(_flat(var), _flat(accum), _scalar(lr), _flat(grad),
                                                           update_slots))


@register_kernel(T.ApplyAdadelta)
def _apply_adadelta(ctx):
    kernel = K.apply_adadelta
    return _apply(ctx, lambda var, accum, accum_update, lr, rho, eps, grad: kernel(
        _flat(var), _flat(accum), _flat(accum_update), _scalar(lr), _scalar(rho), _scalar(eps), _flat(grad)))


@register_kernel(T.ApplyAdagradV2)
def _apply_adagrad_v2(ctx):
    kernel = K.apply_adagrad_v2
    update_slots = bool(ctx.attrs.get("update_slots", True))
    return _apply(ctx, lambda var, accum, lr, eps, grad: kernel(
        _flat(var), _flat(accum), _scalar(lr), _scalar(eps), _flat(grad), update_slots))


@register_kernel(T.ApplyAdamWithAmsgrad)
def _apply_adam_with_amsgrad(ctx):
    kernel = K.apply_adam_with_amsgrad
    return _apply(ctx, lambda var, m, v, vhat, b1p, b2p, lr, b1, b2, eps, grad: kernel(
        _flat(var), _flat(m), _flat(v), _flat(vhat), _scalar(b1p), _scalar(b2p), _scalar(lr), _scalar(b1),
        _scalar(b2), _scalar(eps), _flat(grad)))


@register_kernel(T.ApplyKerasMomentum)
def _apply_keras_momentum(ctx):
    kernel = K.apply_keras_momentum
    nesterov = bool(ctx.attrs.get("use_nesterov", False))
    return _apply(ctx, lambda var, accum, lr, grad, momentum: kernel(
        _flat(var), _flat(accum), _scalar(lr), _flat(grad), _scalar(momentum), nesterov))


@register_kernel(T.ApplyKerasRMSProp)
def _apply_keras_rms_prop(ctx):
    kernel = K.apply_keras_rms_prop
    return _apply(ctx, lambda var, ms, lr, rho, eps, grad: kernel(
        _flat(var), _flat(ms), _flat(ms), _scalar(lr), _scalar(rho), _scalar(eps), _flat(grad), False))


@register_kernel(T.ApplyKerasCenteredRMSProp)
def _apply_keras_centered_rms_prop(ctx):
    kernel = K.apply_keras_rms_prop
    return _apply(ctx, lambda var, mg, ms, lr, rho, eps, grad: kernel(
        _flat(var), _flat(mg), _flat(ms), _scalar(lr), _scalar(rho), _scalar(eps), _flat(grad), True))
