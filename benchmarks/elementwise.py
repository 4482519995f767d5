"""Element-wise chains on 10M float32 values (the graph optimizer's targets).

* ``elementwise/chain``: ``(relu(x*s + b)*y - z)**2`` -- three 10M inputs, one
  output, scalar ``s`` and ``b``.
* ``elementwise/wave``:  ``A*exp(-b*t)*cos(w*t)`` -- one input, one output.

Implementations: nbflow (Session.run with the arrays fed through
placeholders, result fetched), numpy (the expression as written, one
temporary per operation), a hand-written single-loop ``@njit`` kernel with
a preallocated output (``njit-loop``: the bandwidth reference a fused kernel
should reach), the same loop over ``prange`` (``njit-prange``: every core), PyTorch, and ``jax.jit`` of the same expression (XLA fuses it
into one loop too): the inputs are placed on the CPU device with
``jax.device_put`` and the function is compiled before timing; each step
calls it and waits with ``block_until_ready()`` (like nbflow, it returns a
fresh array each call). The rate is effective bandwidth: bytes of the
inputs read plus the output written, per second -- compare with the STREAM
numbers. Ratios are speed ratios (>1 = faster than the baseline).

Targets (issue 3): the fused chain at least 1.8x ``jax.jit``, the wave
faster than ``jax.jit``.
"""

import numpy as np
from numba import njit, prange

from benchmarks.harness import Case, Impl, Skip, Target, jax_or_skip, nbflow_session, torch_or_skip

S, B = 1.5, -0.25              # chain scalars
A, BETA, W = 2.0, 1e-7, 3e-6   # wave: amplitude, decay rate, angular frequency (t spans 0..n)


@njit(cache=True)
def chain_loop(x, y, z, s, b, out):
    zero = np.float32(0.0)
    for i in range(x.size):
        t = x[i] * s + b
        t = t if t > zero else zero
        u = t * y[i] - z[i]
        out[i] = u * u


@njit(cache=True)
def wave_loop(t, a, b, w, out):
    for i in range(t.size):
        out[i] = a * np.exp(-b * t[i]) * np.cos(w * t[i])


@njit(cache=True, parallel=True)
def chain_prange(x, y, z, s, b, out):
    zero = np.float32(0.0)
    for i in prange(x.size):
        t = x[i] * s + b
        t = t if t > zero else zero
        u = t * y[i] - z[i]
        out[i] = u * u


@njit(cache=True, parallel=True)
def wave_prange(t, a, b, w, out):
    for i in prange(t.size):
        out[i] = a * np.exp(-b * t[i]) * np.cos(w * t[i])


def _data(n):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    z = rng.standard_normal(n, dtype=np.float32)
    t = np.arange(n, dtype=np.float32)
    return x, y, z, t


def cases(quick):
    n = 100_000 if quick else 10_000_000
    data = {}

    def arrays():
        if not data:
            data["v"] = _data(n)
        return data["v"]

    # -- chain ---------------------------------------------------------------
    def nb_chain():
        x, y, z, _ = arrays()

        def build(tf):
            px = tf.placeholder(tf.float32, [None], name="x")
            py = tf.placeholder(tf.float32, [None], name="y")
            pz = tf.placeholder(tf.float32, [None], name="z")
            relu = getattr(tf.nn, "relu", None)
            if relu is None:
                raise Skip("tf.nn.relu not implemented yet")
            return px, py, pz, (relu(px * S + B) * py - pz) ** 2

        tf, g, sess, (px, py, pz, out) = nbflow_session(build)
        feed = {px: x, py: y, pz: z}
        run = sess.run

        def step():
            return run(out, feed_dict=feed)
        step.session, step.fetches, step.feeds = sess, out, feed  # for benchmarks.plan_profile
        return step, sess.close

    def np_chain():
        x, y, z, _ = arrays()
        s, b = np.float32(S), np.float32(B)

        def step():
            return (np.maximum(x * s + b, 0) * y - z) ** 2
        return step

    def loop_chain():
        x, y, z, _ = arrays()
        out = np.empty_like(x)
        s, b = np.float32(S), np.float32(B)

        def step():
            chain_loop(x, y, z, s, b, out)
            return out
        return step

    def torch_chain():
        torch = torch_or_skip()
        x, y, z, _ = (torch.from_numpy(a) for a in arrays())

        def step():
            return (torch.relu(x * S + B) * y - z) ** 2
        return step

    def jax_chain():
        jax = jax_or_skip()
        x, y, z = (jax.device_put(a) for a in arrays()[:3])
        s, b = np.float32(S), np.float32(B)
        f = jax.jit(lambda x, y, z: (jax.nn.relu(x * s + b) * y - z) ** 2)
        f(x, y, z).block_until_ready()  # compile outside the timed region

        def step():
            return f(x, y, z).block_until_ready()
        return step

    # -- wave ----------------------------------------------------------------
    def nb_wave():
        _, _, _, t = arrays()

        def build(tf):
            pt = tf.placeholder(tf.float32, [None], name="t")
            return pt, A * tf.exp(-BETA * pt) * tf.cos(W * pt)

        tf, g, sess, (pt, out) = nbflow_session(build)
        feed = {pt: t}
        run = sess.run

        def step():
            return run(out, feed_dict=feed)
        step.session, step.fetches, step.feeds = sess, out, feed  # for benchmarks.plan_profile
        return step, sess.close

    def np_wave():
        _, _, _, t = arrays()
        a, b, w = np.float32(A), np.float32(BETA), np.float32(W)

        def step():
            return a * np.exp(-b * t) * np.cos(w * t)
        return step

    def prange_chain():
        x, y, z, _ = arrays()
        out = np.empty_like(x)
        s, b = np.float32(S), np.float32(B)

        def step():
            chain_prange(x, y, z, s, b, out)
            return out
        return step

    def prange_wave():
        _, _, _, t = arrays()
        out = np.empty_like(t)
        a, b, w = np.float32(A), np.float32(BETA), np.float32(W)

        def step():
            wave_prange(t, a, b, w, out)
            return out
        return step

    def loop_wave():
        _, _, _, t = arrays()
        out = np.empty_like(t)
        a, b, w = np.float32(A), np.float32(BETA), np.float32(W)

        def step():
            wave_loop(t, a, b, w, out)
            return out
        return step

    def torch_wave():
        torch = torch_or_skip()
        t = torch.from_numpy(arrays()[3])

        def step():
            return A * torch.exp(-BETA * t) * torch.cos(W * t)
        return step

    def jax_wave():
        jax = jax_or_skip()
        import jax.numpy as jnp

        t = jax.device_put(arrays()[3])
        a, b, w = np.float32(A), np.float32(BETA), np.float32(W)
        f = jax.jit(lambda t: a * jnp.exp(-b * t) * jnp.cos(w * t))
        f(t).block_until_ready()  # compile outside the timed region

        def step():
            return f(t).block_until_ready()
        return step

    return [
        Case("elementwise/chain", "elementwise", "(relu(x*s+b)*y - z)**2 on %d float32" % n,
             [Impl("nbflow", nb_chain), Impl("numpy", np_chain), Impl("njit-loop", loop_chain),
              Impl("njit-prange", prange_chain), Impl("torch", torch_chain),
              Impl("jax", jax_chain, note="jax.jit, inputs on the device")],
             unit="GB/s", work=4 * 4 * n / 1e9, baselines=("numpy", "torch", "njit-loop", "njit-prange", "jax"),
             targets=[Target("nbflow", "fused chain vs jax.jit", versus="jax", min_ratio=1.8),
                      Target("nbflow", "fused chain within 1.1x of a prange loop (issue 16)", versus="njit-prange",
                             min_ratio=1 / 1.1)],
             reference="numpy", rtol=1e-5, atol=1e-5),
        Case("elementwise/wave", "elementwise", "A*exp(-b*t)*cos(w*t) on %d float32" % n,
             [Impl("nbflow", nb_wave), Impl("numpy", np_wave), Impl("njit-loop", loop_wave),
              Impl("njit-prange", prange_wave), Impl("torch", torch_wave),
              Impl("jax", jax_wave, note="jax.jit, input on the device")],
             unit="GB/s", work=2 * 4 * n / 1e9, baselines=("numpy", "torch", "njit-loop", "njit-prange", "jax"),
             targets=[Target("nbflow", "damped wave vs jax.jit", versus="jax", min_ratio=1.0),
                      Target("nbflow", "damped wave >= 2x a prange loop with numpy's exp/cos (issue 16)",
                             versus="njit-prange", min_ratio=2.0)],
             reference="numpy", rtol=1e-4, atol=1e-5),
    ]
