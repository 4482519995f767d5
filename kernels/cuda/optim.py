"""Optimizer updates (TF's ApplyX training ops) as CUDA kernels, in place.

The formulas are those of the CPU kernels (kernels/cpu/optim.py, TF's): one
grid-stride loop over the flat variable, its slots and the gradient, updating
them in place. Arguments follow the op's inputs in TF's order; the scalar
hyper-parameters arrive as one-element device arrays (a constant, a fed value
or a variable such as Adam's ``beta1_power`` lives on the device: no copy to
the host to read it) and are read once per thread. Flags (``use_nesterov``,
``update_slots``) are integer arguments. Generated per dtype so constants
(``T(1)``) keep float32 arithmetic in float32.
"""
import numpy as np

from nbflow.kernels.cpu.codegen import load_generated

# kernel name -> (arguments in the op's input order, scalar arguments, flags, prologue, loop body)
UPDATES = {
    "ApplyGradientDescent": (("var", "alpha", "delta"), ("alpha",), (), "", """
var[i] -= alpha * delta[i]"""),
    "ApplyMomentum": (("var", "accum", "lr", "grad", "momentum"), ("lr", "momentum"), ("use_nesterov",), "", """
g = grad[i]
a = accum[i] * momentum + g
accum[i] = a
if use_nesterov:
    var[i] -= g * lr + a * momentum * lr
else:
    var[i] -= a * lr"""),
    "ApplyAdam": (("var", "m", "v", "beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon", "grad"),
                  ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon"), ("use_nesterov",), """
alpha = lr * math.sqrt(one - beta2_power) / (one - beta1_power)
omb1 = one - beta1
omb2 = one - beta2""", """
g = grad[i]
mi = m[i] + (g - m[i]) * omb1
vi = v[i] + (g * g - v[i]) * omb2
m[i] = mi
v[i] = vi
if use_nesterov:
    var[i] -= (g * omb1 + beta1 * mi) * alpha / (math.sqrt(vi) + epsilon)
else:
    var[i] -= mi * alpha / (math.sqrt(vi) + epsilon)"""),
    "ApplyAdamWithAmsgrad": (("var", "m", "v", "vhat", "beta1_power", "beta2_power", "lr", "beta1", "beta2",
                              "epsilon", "grad"), ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon"),
                             (), """
alpha = lr * math.sqrt(one - beta2_power) / (one - beta1_power)
omb1 = one - beta1
omb2 = one - beta2""", """
g = grad[i]
mi = m[i] + (g - m[i]) * omb1
vi = v[i] + (g * g - v[i]) * omb2
m[i] = mi
v[i] = vi
h = vhat[i]
if vi > h:
    h = vi
    vhat[i] = h
var[i] -= mi * alpha / (math.sqrt(h) + epsilon)"""),
    "ApplyRMSProp": (("var", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad"),
                     ("lr", "rho", "momentum", "epsilon"), (), "omr = one - rho", """
g = grad[i]
s = ms[i] + (g * g - ms[i]) * omr
ms[i] = s
u = mom[i] * momentum + g * lr / math.sqrt(s + epsilon)
mom[i] = u
var[i] -= u"""),
    "ApplyCenteredRMSProp": (("var", "mg", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad"),
                             ("lr", "rho", "momentum", "epsilon"), (), "omr = one - rho", """
g = grad[i]
s = ms[i] + (g * g - ms[i]) * omr
a = mg[i] + (g - mg[i]) * omr
ms[i] = s
mg[i] = a
u = mom[i] * momentum + g * lr / math.sqrt(s - a * a + epsilon)
mom[i] = u
var[i] -= u"""),
    "ApplyAdagrad": (("var", "accum", "lr", "grad"), ("lr",), ("update_slots",), "", """
g = grad[i]
if update_slots:
    accum[i] += g * g
var[i] -= g * lr / math.sqrt(accum[i])"""),
    "ApplyAdagradV2": (("var", "accum", "lr", "epsilon", "grad"), ("lr", "epsilon"), ("update_slots",), "", """
g = grad[i]
if update_slots:
    accum[i] += g * g
var[i] -= g * lr / (math.sqrt(accum[i]) + epsilon)"""),
    "ApplyAdadelta": (("var", "accum", "accum_update", "lr", "rho", "epsilon", "grad"), ("lr", "rho", "epsilon"),
                      (), "omr = one - rho", """
g = grad[i]
a = accum[i] * rho + g * g * omr
accum[i] = a
update = math.sqrt(accum_update[i] + epsilon) / math.sqrt(a + epsilon) * g
accum_update[i] = accum_update[i] * rho + update * update * omr
var[i] -= update * lr"""),
    "ApplyKerasMomentum": (("var", "accum", "lr", "grad", "momentum"), ("lr", "momentum"), ("use_nesterov",), "",
                           """
g = grad[i]
a = accum[i] * momentum - g * lr
accum[i] = a
if use_nesterov:
    var[i] += a * momentum - g * lr
else:
    var[i] += a"""),
    "ApplyKerasRMSProp": (("var", "ms", "lr", "rho", "epsilon", "grad"), ("lr", "rho", "epsilon"), (),
                          "omr = one - rho", """
g = grad[i]
s = rho * ms[i] + omr * (g * g)
ms[i] = s
var[i] -= lr * g / (math.sqrt(s) + epsilon)"""),
    "ApplyKerasCenteredRMSProp": (("var", "mg", "ms", "lr", "rho", "epsilon", "grad"), ("lr", "rho", "epsilon"), (),
                                  "omr = one - rho", """
g = grad[i]
s = rho * ms[i] + omr * (g * g)
ms[i] = s
a = rho * mg[i] + omr * g
mg[i] = a
s = s - a * a
var[i] -= lr * g / (math.sqrt(s) + epsilon)"""),
}

_kernels = {}


def generate_source(name, dtype):
    args, scalars, flags, prologue, body = UPDATES[name]
    params = [a + "_" if a in scalars else a for a in args] + list(flags) + ["n"]
    lines = ["import math", "import numpy as np", "from numba import cuda", "", "",
             "@cuda.jit", "def kernel(%s):" % ", ".join(params), "    one = np.%s(1)" % np.dtype(dtype).name]
    lines += ["    %s = %s_[0]" % (s, s) for s in scalars]
    lines += ["    " + ln for ln in prologue.strip().splitlines() if ln]
    lines += ["    i = cuda.grid(1)", "    step = cuda.gridsize(1)", "    while i < n:"]
    lines += ["        " + ln for ln in body.strip().splitlines()]
    lines.append("        i += step")
    return "\n".join(lines) + "\n"


def get_kernel(name, dtype):
    key = (name, np.dtype(dtype).str)
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = load_generated(generate_source(name, dtype), "cuda_opt").kernel
    return k
