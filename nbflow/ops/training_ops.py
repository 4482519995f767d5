"""TF's training ops: one stateful op per optimizer update (TF's module of the
same name).

ApplyGradientDescent, ApplyMomentum, ApplyAdam, ApplyRMSProp,
ApplyCenteredRMSProp, ApplyAdagrad and ApplyAdadelta (tf.train), and
ApplyKerasMomentum, ApplyAdagradV2, ApplyAdamWithAmsgrad, ApplyKerasRMSProp and
ApplyKerasCenteredRMSProp (tf.keras.optimizers) take their variables
first ("ref" inputs: the variable and its slots), then scalar
hyper-parameters and the gradient, in TF's order; the output is the updated
variable. Their kernels (CPU: nbflow/backends/cpu/training.py) rewrite the
variables' arrays in place, in one pass. The optimizers that build them are in
nbflow/train/optimizers.py and nbflow/keras/optimizers/.

ApplyKerasRMSProp and ApplyKerasCenteredRMSProp are nbflow's: TF's Keras
RMSprop without momentum updates with a few assign ops
(``var -= lr * g / (sqrt(ms) + epsilon)``, epsilon outside the root, unlike
ApplyRMSProp); here that update is one fused op as well.
"""
from nbflow.framework import dtypes
from nbflow.ops.base import Op

__all__ = []  # built through tf.train's optimizers


class _ApplyOp(Op):
    """Base of the ApplyX ops: inputs are ``refs`` (variables updated in place),
    then scalars and the gradient, in TF's order (``inputs``); the output is
    the updated variable."""

    stateful = True
    differentiable = False  # declares every ApplyX type not differentiable (see Op)
    #: TF's input names, in order.
    input_names = ()
    #: how many leading inputs are variables (the var and its slots).
    n_refs = 1
    #: names of the inputs that must be scalars.
    scalars = ()

    @classmethod
    def infer(cls, ctx):
        var_dtype = ctx.input_dtypes[0]
        for name, dt in zip(cls.input_names, ctx.input_dtypes):
            if dt is not var_dtype:
                raise TypeError("Input '%s' of '%s' Op has type %s that does not match type %s of argument 'var'."
                                % (name, cls.type, dt.name, var_dtype.name))
        if var_dtype not in (dtypes.float32, dtypes.float64):
            raise TypeError("%s (op '%s'): dtype %s is not supported by nbflow (float32 and float64 are)"
                            % (cls.type, ctx.name, var_dtype.name))
        var_shape = ctx.input_shapes[0]
        for name, shp in zip(cls.input_names, ctx.input_shapes):
            if name in cls.scalars:
                if shp.ndims is not None and shp.ndims != 0:
                    raise ctx.error("%s is not a scalar: %s" % (name, shp))
            elif name != "var" and not var_shape.is_compatible_with(shp):
                raise ctx.error("var and %s do not have the same shape%s %s" % (name, shp, var_shape))
        return [(var_dtype, var_shape)]


class ApplyGradientDescent(_ApplyOp):
    type = "ApplyGradientDescent"
    input_names = ("var", "alpha", "delta")
    scalars = ("alpha",)


class ApplyMomentum(_ApplyOp):
    """Attr ``use_nesterov``."""

    type = "ApplyMomentum"
    input_names = ("var", "accum", "lr", "grad", "momentum")
    n_refs = 2
    scalars = ("lr", "momentum")


class ApplyAdam(_ApplyOp):
    """Attr ``use_nesterov``."""

    type = "ApplyAdam"
    input_names = ("var", "m", "v", "beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon", "grad")
    n_refs = 3
    scalars = ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")


class ApplyRMSProp(_ApplyOp):
    type = "ApplyRMSProp"
    input_names = ("var", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad")
    n_refs = 3
    scalars = ("lr", "rho", "momentum", "epsilon")


class ApplyCenteredRMSProp(_ApplyOp):
    type = "ApplyCenteredRMSProp"
    input_names = ("var", "mg", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad")
    n_refs = 4
    scalars = ("lr", "rho", "momentum", "epsilon")


class ApplyAdagrad(_ApplyOp):
    """Attr ``update_slots`` (default True)."""

    type = "ApplyAdagrad"
    input_names = ("var", "accum", "lr", "grad")
    n_refs = 2
    scalars = ("lr",)


class ApplyAdadelta(_ApplyOp):
    type = "ApplyAdadelta"
    input_names = ("var", "accum", "accum_update", "lr", "rho", "epsilon", "grad")
    n_refs = 3
    scalars = ("lr", "rho", "epsilon")


class ApplyKerasMomentum(_ApplyOp):
    """Keras SGD with momentum (TF's ResourceApplyKerasMomentum): the accumulator
    holds the step, ``accum = accum * momentum - lr * grad; var += accum``.
    Attr ``use_nesterov``."""

    type = "ApplyKerasMomentum"
    input_names = ("var", "accum", "lr", "grad", "momentum")
    n_refs = 2
    scalars = ("lr", "momentum")


class ApplyAdagradV2(_ApplyOp):
    """``accum += grad^2; var -= lr * grad / (sqrt(accum) + epsilon)``. Attr
    ``update_slots`` (default True)."""

    type = "ApplyAdagradV2"
    input_names = ("var", "accum", "lr", "epsilon", "grad")
    n_refs = 2
    scalars = ("lr", "epsilon")


class ApplyAdamWithAmsgrad(_ApplyOp):
    """Adam keeping ``vhat = max(vhat, v)`` and dividing by ``sqrt(vhat) + epsilon``."""

    type = "ApplyAdamWithAmsgrad"
    input_names = ("var", "m", "v", "vhat", "beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon",
                   "grad")
    n_refs = 4
    scalars = ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")


class ApplyKerasRMSProp(_ApplyOp):
    """Keras RMSprop without momentum (nbflow's op): ``ms = rho * ms + (1 - rho) * grad^2;
    var -= lr * grad / (sqrt(ms) + epsilon)``."""

    type = "ApplyKerasRMSProp"
    input_names = ("var", "ms", "lr", "rho", "epsilon", "grad")
    n_refs = 2
    scalars = ("lr", "rho", "epsilon")


class ApplyKerasCenteredRMSProp(_ApplyOp):
    """Centered Keras RMSprop without momentum (nbflow's op): also
    ``mg = rho * mg + (1 - rho) * grad``, denominator ``sqrt(ms - mg^2) + epsilon``."""

    type = "ApplyKerasCenteredRMSProp"
    input_names = ("var", "mg", "ms", "lr", "rho", "epsilon", "grad")
    n_refs = 3
    scalars = ("lr", "rho", "epsilon")
