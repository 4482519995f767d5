"""Parallel twins of the optimizer update kernels (kernels/cpu/optim.py).

An update touches every element once and no element depends on another, so
a twin splits the flat arrays into ``nt`` contiguous blocks (whole 64-element
runs, so every block but the last vectorizes as the serial loop does) and
runs the serial kernel on each block in a ``prange``: the arithmetic, and so
the result, is the serial kernel's to the bit. Each twin is its own
``parallel=True`` function because a prange body cannot take the kernel as
an argument without giving up ``cache=True``. The backend
(nbflow/backends/cpu/training.py) picks a twin from PARALLEL_MIN_ELEMENTS.
"""
from numba import prange

from nbflow.kernels.cpu import optim as K
from nbflow.kernels.jit import njit

_RUN = 64


@njit(cache=True)
def block(n, nt, t):
    """[lo, hi) of block ``t`` of ``nt`` over ``n`` elements, on whole runs."""
    runs = (n + _RUN - 1) // _RUN
    return min(n, runs * t // nt * _RUN), min(n, runs * (t + 1) // nt * _RUN)


@njit(cache=True, parallel=True)
def apply_gradient_descent(nt, var, lr, grad):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_gradient_descent(var[lo:hi], lr, grad[lo:hi])


@njit(cache=True, parallel=True)
def apply_momentum(nt, var, accum, lr, grad, momentum, use_nesterov):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_momentum(var[lo:hi], accum[lo:hi], lr, grad[lo:hi], momentum, use_nesterov)


@njit(cache=True, parallel=True)
def apply_adam(nt, var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, use_nesterov):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_adam(var[lo:hi], m[lo:hi], v[lo:hi], beta1_power, beta2_power, lr, beta1, beta2, epsilon,
                     grad[lo:hi], use_nesterov)


@njit(cache=True, parallel=True)
def apply_rms_prop(nt, var, ms, mom, lr, rho, momentum, epsilon, grad):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_rms_prop(var[lo:hi], ms[lo:hi], mom[lo:hi], lr, rho, momentum, epsilon, grad[lo:hi])


@njit(cache=True, parallel=True)
def apply_centered_rms_prop(nt, var, mg, ms, mom, lr, rho, momentum, epsilon, grad):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_centered_rms_prop(var[lo:hi], mg[lo:hi], ms[lo:hi], mom[lo:hi], lr, rho, momentum, epsilon,
                                  grad[lo:hi])


@njit(cache=True, parallel=True)
def apply_adagrad(nt, var, accum, lr, grad, update_slots):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_adagrad(var[lo:hi], accum[lo:hi], lr, grad[lo:hi], update_slots)


@njit(cache=True, parallel=True)
def apply_adadelta(nt, var, accum, accum_update, lr, rho, epsilon, grad):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_adadelta(var[lo:hi], accum[lo:hi], accum_update[lo:hi], lr, rho, epsilon, grad[lo:hi])


@njit(cache=True, parallel=True)
def apply_adagrad_v2(nt, var, accum, lr, epsilon, grad, update_slots):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_adagrad_v2(var[lo:hi], accum[lo:hi], lr, epsilon, grad[lo:hi], update_slots)


@njit(cache=True, parallel=True)
def apply_keras_momentum(nt, var, accum, lr, grad, momentum, use_nesterov):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_keras_momentum(var[lo:hi], accum[lo:hi], lr, grad[lo:hi], momentum, use_nesterov)


@njit(cache=True, parallel=True)
def apply_adam_with_amsgrad(nt, var, m, v, vhat, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_adam_with_amsgrad(var[lo:hi], m[lo:hi], v[lo:hi], vhat[lo:hi], beta1_power, beta2_power, lr,
                                  beta1, beta2, epsilon, grad[lo:hi])


@njit(cache=True, parallel=True)
def apply_keras_rms_prop(nt, var, mg, ms, lr, rho, epsilon, grad, centered):
    for t in prange(nt):
        lo, hi = block(var.shape[0], nt, t)
        K.apply_keras_rms_prop(var[lo:hi], mg[lo:hi], ms[lo:hi], lr, rho, epsilon, grad[lo:hi], centered)
