"""CPU kernels of the training ops (nbflow/ops/training_ops.py).

Each ApplyX kernel updates the variable and its slots in place, in one pass
(kernels/cpu/optim.py), over flat views of their arrays; hyper-parameters
arrive as 0-d arrays. Shapes are checked once at plan time when all are
known, else on every run. Variables of PARALLEL_MIN_ELEMENTS or more are
updated by the kernels' parallel twins (kernels/cpu/optim_parallel.py).
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cpu import optim as K
from nbflow.kernels.cpu import optim_parallel as P
from nbflow.kernels.cpu.threads import threads_for
from nbflow.ops import training_ops as T

#: elements from which an update runs on all of Numba's threads. Measured (session 13,
#: TBB layer, 2 threads on 2 cores, float32, serial vs twin, the kernel alone on
#: cache-warm arrays): Adam 64K 8.8 vs 8.3 us, 128K 21 vs 14, 256K 45 vs 28, 1M
#: 224-264 vs 116-135; gradient descent 64K 3.1 vs 4.8 us, 128K 8.2 vs 6.2, 256K 20.5
#: vs 11.7. Inside a training step the split pays more (session 14): LeNet's 3136x128
#: gradient descent took 205 us on one thread of a 2-thread process (its arrays
#: cold, the other core's worker just back from the previous parallel kernel),
#: 48-56 us split. A twin costs 0.4-0.5 s to compile once per machine (gradient
#: descent 0.43 s, Adam 0.49 s), nothing measurable to load from the cache: 256K.
PARALLEL_MIN_ELEMENTS = 1 << 18
#: ... except Adam's, kept at 1M for the README's main command: the MNIST script's
#: 401K and 262K Adam updates would compile the 0.49 s twin before its first step
#: (issue 15's cold start: first step <= 4 s; it takes about 3.5 s).
PARALLEL_MIN_ELEMENTS_FOR = {"apply_adam": 1 << 20}


def _flat(a):
    return a.reshape(-1)


def _scalar(a):
    return a[()]


def _min_elements(name):
    """Update ``name``'s parallel threshold."""
    return PARALLEL_MIN_ELEMENTS_FOR.get(name, PARALLEL_MIN_ELEMENTS)


def _threads(size, name=None):
    """Threads for update ``name`` of ``size`` elements: 1 below its threshold."""
    return threads_for(size, _min_elements(name))


def _apply(ctx, name, update):
    """The kernel running ``update(kernel, nt, *inputs)`` (in place) and returning the variable.

    ``kernel`` is ``optim.<name>`` (called without ``nt``) on one thread and its
    parallel twin ``optim_parallel.<name>`` (``nt`` first) on ``nt > 1``.
    """
    serial, parallel = getattr(K, name), getattr(P, name)

    def serial_kernel(_, *args):
        serial(*args)

    min_elements = _min_elements(name)  # read once, when the plan binds the kernel

    def call(*args):
        nt = threads_for(args[0].size, min_elements)
        update(parallel if nt > 1 else serial_kernel, nt, *args)
    return checked_update(ctx, call)


def checked_update(ctx, update):
    """The kernel running ``update(*inputs)`` (in place) and returning the variable, after
    the shape checks: at plan time when every shape is known, else on every run (the GPU's
    updates use it too: backends/cuda/training.py)."""
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
    return _apply(ctx, "apply_gradient_descent", lambda kernel, nt, var, alpha, delta: kernel(
        nt, _flat(var), _scalar(alpha), _flat(delta)))


@register_kernel(T.ApplyMomentum)
def _apply_momentum(ctx):
    nesterov = bool(ctx.attrs.get("use_nesterov", False))
    return _apply(ctx, "apply_momentum", lambda kernel, nt, var, accum, lr, grad, momentum: kernel(
        nt, _flat(var), _flat(accum), _scalar(lr), _flat(grad), _scalar(momentum), nesterov))


@register_kernel(T.ApplyAdam)
def _apply_adam(ctx):
    nesterov = bool(ctx.attrs.get("use_nesterov", False))
    return _apply(ctx, "apply_adam", lambda kernel, nt, var, m, v, b1p, b2p, lr, b1, b2, eps, grad: kernel(
        nt, _flat(var), _flat(m), _flat(v), _scalar(b1p), _scalar(b2p), _scalar(lr), _scalar(b1), _scalar(b2),
        _scalar(eps), _flat(grad), nesterov))


@register_kernel(T.ApplyRMSProp)
def _apply_rms_prop(ctx):
    return _apply(ctx, "apply_rms_prop", lambda kernel, nt, var, ms, mom, lr, rho, momentum, eps, grad: kernel(
        nt, _flat(var), _flat(ms), _flat(mom), _scalar(lr), _scalar(rho), _scalar(momentum), _scalar(eps),
        _flat(grad)))


@register_kernel(T.ApplyCenteredRMSProp)
def _apply_centered_rms_prop(ctx):
    def update(kernel, nt, var, mg, ms, mom, lr, rho, momentum, eps, grad):
        kernel(nt, _flat(var), _flat(mg), _flat(ms), _flat(mom), _scalar(lr), _scalar(rho), _scalar(momentum),
               _scalar(eps), _flat(grad))
    return _apply(ctx, "apply_centered_rms_prop", update)


@register_kernel(T.ApplyAdagrad)
def _apply_adagrad(ctx):
    update_slots = bool(ctx.attrs.get("update_slots", True))
    return _apply(ctx, "apply_adagrad", lambda kernel, nt, var, accum, lr, grad: kernel(
        nt, _flat(var), _flat(accum), _scalar(lr), _flat(grad), update_slots))


@register_kernel(T.ApplyAdadelta)
def _apply_adadelta(ctx):
    return _apply(ctx, "apply_adadelta", lambda kernel, nt, var, accum, accum_update, lr, rho, eps, grad: kernel(
        nt, _flat(var), _flat(accum), _flat(accum_update), _scalar(lr), _scalar(rho), _scalar(eps), _flat(grad)))


@register_kernel(T.ApplyAdagradV2)
def _apply_adagrad_v2(ctx):
    update_slots = bool(ctx.attrs.get("update_slots", True))
    return _apply(ctx, "apply_adagrad_v2", lambda kernel, nt, var, accum, lr, eps, grad: kernel(
        nt, _flat(var), _flat(accum), _scalar(lr), _scalar(eps), _flat(grad), update_slots))


@register_kernel(T.ApplyAdamWithAmsgrad)
def _apply_adam_with_amsgrad(ctx):
    def update(kernel, nt, var, m, v, vhat, b1p, b2p, lr, b1, b2, eps, grad):
        kernel(nt, _flat(var), _flat(m), _flat(v), _flat(vhat), _scalar(b1p), _scalar(b2p), _scalar(lr),
               _scalar(b1), _scalar(b2), _scalar(eps), _flat(grad))
    return _apply(ctx, "apply_adam_with_amsgrad", update)


@register_kernel(T.ApplyKerasMomentum)
def _apply_keras_momentum(ctx):
    nesterov = bool(ctx.attrs.get("use_nesterov", False))
    return _apply(ctx, "apply_keras_momentum", lambda kernel, nt, var, accum, lr, grad, momentum: kernel(
        nt, _flat(var), _flat(accum), _scalar(lr), _flat(grad), _scalar(momentum), nesterov))


@register_kernel(T.ApplyKerasRMSProp)
def _apply_keras_rms_prop(ctx):
    return _apply(ctx, "apply_keras_rms_prop", lambda kernel, nt, var, ms, lr, rho, eps, grad: kernel(
        nt, _flat(var), _flat(ms), _flat(ms), _scalar(lr), _scalar(rho), _scalar(eps), _flat(grad), False))


@register_kernel(T.ApplyKerasCenteredRMSProp)
def _apply_keras_centered_rms_prop(ctx):
    return _apply(ctx, "apply_keras_rms_prop", lambda kernel, nt, var, mg, ms, lr, rho, eps, grad: kernel(
        nt, _flat(var), _flat(mg), _flat(ms), _scalar(lr), _scalar(rho), _scalar(eps), _flat(grad), True))
