"""Optimizer update kernels (TF's training ops), updating in place.

Each kernel takes the flat (1-D, C-contiguous) variable and slot arrays and
rewrites them in one pass; the hyper-parameters are scalars of the
variable's dtype (numpy scalars, so float32 stays float32 and one compiled
kernel per dtype serves every value). The formulas are those of TensorFlow's
ApplyX kernels:

* ApplyGradientDescent  var -= lr * grad
* ApplyMomentum         accum = accum * momentum + grad
                        var -= lr * accum              (or, Nesterov:
                        var -= lr * grad + lr * momentum * accum)
* ApplyAdam             alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
                        m += (grad - m) * (1 - beta1)
                        v += (grad^2 - v) * (1 - beta2)
                        var -= alpha * m / (sqrt(v) + epsilon)
* ApplyRMSProp          ms += (grad^2 - ms) * (1 - rho)
                        mom = mom * momentum + lr * grad / sqrt(ms + epsilon)
                        var -= mom
* ApplyCenteredRMSProp  as RMSProp with mg += (grad - mg) * (1 - rho) and
                        the denominator sqrt(ms - mg^2 + epsilon)
* ApplyAdagrad          accum += grad^2; var -= lr * grad / sqrt(accum)
* ApplyAdamWithAmsgrad  as ApplyAdam, with vhat = max(vhat, v) in place of v
                        in the denominator
* ApplyAdagradV2        accum += grad^2; var -= lr * grad / (sqrt(accum) + epsilon)
* ApplyKerasMomentum    accum = accum * momentum - lr * grad
                        var += accum                   (or, Nesterov:
                        var += accum * momentum - lr * grad)
* ApplyKerasRMSProp     ms = rho * ms + (1 - rho) * grad^2
                        (centered: mg = rho * mg + (1 - rho) * grad and
                        ms - mg^2 under the root)
                        var -= lr * grad / (sqrt(ms) + epsilon)
* ApplyAdadelta         accum = rho * accum + (1 - rho) * grad^2
                        update = sqrt(accum_update + eps) / sqrt(accum + eps) * grad
                        accum_update = rho * accum_update + (1 - rho) * update^2
                        var -= lr * update
"""
import numpy as np

from nbflow.kernels.jit import njit


@njit(cache=True)
def apply_gradient_descent(var, lr, grad):
    for i in range(var.shape[0]):
        var[i] -= lr * grad[i]


@njit(cache=True)
def apply_momentum(var, accum, lr, grad, momentum, use_nesterov):
    for i in range(var.shape[0]):
        g = grad[i]
        a = accum[i] * momentum + g
        accum[i] = a
        if use_nesterov:
            var[i] -= g * lr + a * momentum * lr
        else:
            var[i] -= a * lr


@njit(cache=True, error_model="numpy")  # no ZeroDivisionError branch: the loop vectorizes
def apply_adam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, use_nesterov):
    one = var.dtype.type(1)
    alpha = lr * np.sqrt(one - beta2_power) / (one - beta1_power)
    one_minus_beta1 = one - beta1
    one_minus_beta2 = one - beta2
    for i in range(var.shape[0]):
        g = grad[i]
        mi = m[i] + (g - m[i]) * one_minus_beta1
        vi = v[i] + (g * g - v[i]) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        if use_nesterov:
            var[i] -= (g * one_minus_beta1 + beta1 * mi) * alpha / (np.sqrt(vi) + epsilon)
        else:
            var[i] -= mi * alpha / (np.sqrt(vi) + epsilon)


@njit(cache=True, error_model="numpy")
def apply_rms_prop(var, ms, mom, lr, rho, momentum, epsilon, grad):
    one_minus_rho = var.dtype.type(1) - rho
    for i in range(var.shape[0]):
        g = grad[i]
        s = ms[i] + (g * g - ms[i]) * one_minus_rho
        ms[i] = s
        u = mom[i] * momentum + g * lr / np.sqrt(s + epsilon)
        mom[i] = u
        var[i] -= u


@njit(cache=True, error_model="numpy")
def apply_centered_rms_prop(var, mg, ms, mom, lr, rho, momentum, epsilon, grad):
    one_minus_rho = var.dtype.type(1) - rho
    for i in range(var.shape[0]):
        g = grad[i]
        s = ms[i] + (g * g - ms[i]) * one_minus_rho
        a = mg[i] + (g - mg[i]) * one_minus_rho
        ms[i] = s
        mg[i] = a
        u = mom[i] * momentum + g * lr / np.sqrt(s - a * a + epsilon)
        mom[i] = u
        var[i] -= u


@njit(cache=True, error_model="numpy")
def apply_adagrad(var, accum, lr, grad, update_slots):
    for i in range(var.shape[0]):
        g = grad[i]
        if update_slots:
            accum[i] += g * g
        var[i] -= g * lr / np.sqrt(accum[i])


@njit(cache=True, error_model="numpy")
def apply_adadelta(var, accum, accum_update, lr, rho, epsilon, grad):
    one_minus_rho = var.dtype.type(1) - rho
    for i in range(var.shape[0]):
        g = grad[i]
        a = accum[i] * rho + g * g * one_minus_rho
        accum[i] = a
        update = np.sqrt(accum_update[i] + epsilon) / np.sqrt(a + epsilon) * g
        accum_update[i] = accum_update[i] * rho + update * update * one_minus_rho
        var[i] -= update * lr


@njit(cache=True, error_model="numpy")
def apply_adagrad_v2(var, accum, lr, epsilon, grad, update_slots):
    for i in range(var.shape[0]):
        g = grad[i]
        if update_slots:
            accum[i] += g * g
        var[i] -= g * lr / (np.sqrt(accum[i]) + epsilon)


@njit(cache=True)
def apply_keras_momentum(var, accum, lr, grad, momentum, use_nesterov):
    for i in range(var.shape[0]):
        g = grad[i]
        a = accum[i] * momentum - g * lr
        accum[i] = a
        if use_nesterov:
            var[i] += a * momentum - g * lr
        else:
            var[i] += a


@njit(cache=True, error_model="numpy")
def apply_adam_with_amsgrad(var, m, v, vhat, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad):
    one = var.dtype.type(1)
    alpha = lr * np.sqrt(one - beta2_power) / (one - beta1_power)
    one_minus_beta1 = one - beta1
    one_minus_beta2 = one - beta2
    for i in range(var.shape[0]):
        g = grad[i]
        mi = m[i] + (g - m[i]) * one_minus_beta1
        vi = v[i] + (g * g - v[i]) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        h = vhat[i]
        if vi > h:
            h = vi
            vhat[i] = h
        var[i] -= mi * alpha / (np.sqrt(h) + epsilon)


@njit(cache=True, error_model="numpy")
def apply_keras_rms_prop(var, mg, ms, lr, rho, epsilon, grad, centered):
    """``mg`` is read and written only when ``centered`` (callers pass ``ms`` otherwise)."""
    one_minus_rho = var.dtype.type(1) - rho
    for i in range(var.shape[0]):
        g = grad[i]
        s = rho * ms[i] + one_minus_rho * (g * g)
        ms[i] = s
        if centered:
            a = rho * mg[i] + one_minus_rho * g
            mg[i] = a
            s = s - a * a
        var[i] -= lr * g / (np.sqrt(s) + epsilon)
