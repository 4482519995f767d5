"""Kernel micro-benchmarks: one op per case, nbflow vs numpy vs PyTorch.

nbflow runs each op through ``Session.run`` with its inputs fed through
placeholders and its result fetched, so every nbflow row includes one
Session.run call (a few microseconds, see ``overhead/*``) and, for ops whose
result is not a fresh array, the copy of the fetched value -- what a user
pays. numpy and PyTorch run the same op directly.

Families (rates: GB/s = bytes of inputs + outputs per second; matmul in GFLOP/s):

* unary:   exp, tanh, relu on 1M float32
* binary:  add of two 1M float32; (1024, 1024) * (1024,) (row broadcast)
* reduce:  reduce_sum of a (2048, 2048) float32 over axis 0, axis 1, all; of 16M float32
* matmul:  512x512 @ 512x512; 128x784 @ 784x512
* softmax: tf.nn.softmax on (128, 10) and (1024, 1000)
* xent:    tf.nn.sparse_softmax_cross_entropy_with_logits (per-example losses)
* optimizer: one Adam / SGD apply on a 784x512 variable with a fed gradient
"""
import numpy as np

from benchmarks.harness import Case, Impl, Skip, nbflow_session, require, torch_or_skip

F32 = np.float32


def _rng():
    return np.random.default_rng(42)


def nbflow_op(arrays, build, needs=()):
    """setup(): placeholders for ``arrays``, out = build(tf, *placeholders); step runs it."""
    def setup():
        import nbflow

        require(nbflow, *needs)
        ins = arrays()

        def graph(tf):
            phs = [tf.placeholder(tf.as_dtype(a.dtype), a.shape, name="in%d" % i) for i, a in enumerate(ins)]
            return phs, build(tf, *phs)

        tf, g, sess, (phs, out) = nbflow_session(graph)
        feed = dict(zip(phs, ins))
        run = sess.run

        def step():
            return run(out, feed_dict=feed)
        step.session, step.fetches, step.feeds = sess, out, feed  # for benchmarks.plan_profile
        return step, sess.close
    return setup


def numpy_op(arrays, fn):
    def setup():
        ins = arrays()

        def step():
            return fn(*ins)
        return step
    return setup


def torch_op(arrays, fn):
    def setup():
        torch = torch_or_skip()
        ins = [torch.from_numpy(a) for a in arrays()]

        def step():
            with torch.no_grad():
                return fn(torch, *ins)
        return step
    return setup


def _cached(make):
    store = []

    def get():
        if not store:
            store.append(make())
        return store[0]
    return get


def _case(name, desc, arrays, nb, np_fn, torch_fn, unit, work, needs=(), rtol=1e-5, atol=1e-6):
    return Case("kernels/" + name, "kernels", desc,
                [Impl("nbflow", nbflow_op(arrays, nb, needs)), Impl("numpy", numpy_op(arrays, np_fn)),
                 Impl("torch", torch_op(arrays, torch_fn))],
                unit=unit, work=work, baselines=("numpy", "torch"), reference="numpy", rtol=rtol, atol=atol)


def _np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _np_xent(labels, logits):
    m = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(axis=1)) + m[:, 0]
    return lse - logits[np.arange(len(labels)), labels]


# -- optimizer applies ----------------------------------------------------------------

ADAM_LR, B1, B2, EPS = 0.001, 0.9, 0.999, 1e-8
SGD_LR = 0.01


def _opt_data(shape):
    """Initial variable and gradient. |gradient| >= 0.005: TF's Adam applies epsilon after the bias
    correction and PyTorch's before it, which only shows where |g| is near epsilon."""
    rng = _rng()
    g = rng.standard_normal(shape, dtype=F32) * F32(0.01)
    g += np.copysign(F32(0.005), g)
    return rng.standard_normal(shape, dtype=F32) * F32(0.05), g


def nbflow_apply(shape, opt):
    def setup():
        import nbflow

        require(nbflow, "train.AdamOptimizer" if opt == "adam" else "train.GradientDescentOptimizer")
        w0, grad = _opt_data(shape)

        def graph(tf):
            var = tf.Variable(w0, name="w")
            g = tf.placeholder(tf.float32, shape, name="grad")
            o = tf.train.AdamOptimizer(ADAM_LR, B1, B2, EPS) if opt == "adam" \
                else tf.train.GradientDescentOptimizer(SGD_LR)
            return var, g, o.apply_gradients([(g, var)]), tf.global_variables_initializer()

        tf, gr, sess, (var, g, train, init) = nbflow_session(graph)
        sess.run(init)
        run = sess.run
        feed = {g: grad}
        state = [0]

        def step():
            run(train, feed_dict=feed)
            state[0] += 1
            # the variable's value after the first calls is compared across implementations
            return sess.run(var) if state[0] <= 2 else None
        step.session, step.fetches, step.feeds = sess, train, feed  # for benchmarks.plan_profile
        return step, sess.close
    return setup


def numpy_apply(shape, opt):
    def setup():
        w, grad = _opt_data(shape)
        tmp = np.empty_like(w)
        m, v = np.zeros_like(w), np.zeros_like(w)
        state = [0]
        lr = F32(SGD_LR)

        def step():
            state[0] += 1
            t = state[0]
            if opt == "sgd":
                np.multiply(grad, lr, out=tmp)
                np.subtract(w, tmp, out=w)
            else:
                lr_t = F32(ADAM_LR * np.sqrt(1 - B2 ** t) / (1 - B1 ** t))
                np.multiply(m, F32(B1), out=m)          # m = b1*m + (1-b1)*g
                np.multiply(grad, F32(1 - B1), out=tmp)
                np.add(m, tmp, out=m)
                np.multiply(v, F32(B2), out=v)          # v = b2*v + (1-b2)*g*g
                np.multiply(grad, grad, out=tmp)
                np.multiply(tmp, F32(1 - B2), out=tmp)
                np.add(v, tmp, out=v)
                np.sqrt(v, out=tmp)                     # w -= lr_t * m / (sqrt(v) + eps)
                np.add(tmp, F32(EPS), out=tmp)
                np.divide(m, tmp, out=tmp)
                np.multiply(tmp, lr_t, out=tmp)
                np.subtract(w, tmp, out=w)
            return w.copy() if t <= 2 else None
        return step
    return setup


def torch_apply(shape, opt):
    def setup():
        torch = torch_or_skip()
        w0, grad = _opt_data(shape)
        p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
        p.grad = torch.from_numpy(grad)
        o = torch.optim.Adam([p], lr=ADAM_LR, betas=(B1, B2), eps=EPS) if opt == "adam" \
            else torch.optim.SGD([p], lr=SGD_LR)
        state = [0]

        def step():
            o.step()
            state[0] += 1
            return p.detach().numpy().copy() if state[0] <= 2 else None
        return step
    return setup


def cases(quick):
    n = 10_000 if quick else 1_000_000
    side = 64 if quick else 1024
    rside = 64 if quick else 2048
    mm = 32 if quick else 512
    rng = _rng()

    vec = _cached(lambda: (rng.standard_normal(n, dtype=F32),))
    vec2 = _cached(lambda: (rng.standard_normal(n, dtype=F32), rng.standard_normal(n, dtype=F32)))
    rowb = _cached(lambda: (rng.standard_normal((side, side), dtype=F32), rng.standard_normal(side, dtype=F32)))
    mat = _cached(lambda: (rng.standard_normal((rside, rside), dtype=F32),))
    big = 1 << (14 if quick else 24)
    bigvec = _cached(lambda: (rng.standard_normal(big, dtype=F32),))
    sq = _cached(lambda: (rng.standard_normal((mm, mm), dtype=F32), rng.standard_normal((mm, mm), dtype=F32)))
    mlp = _cached(lambda: (rng.random((128, 784), dtype=F32), rng.standard_normal((784, 512), dtype=F32)))

    out = [
        _case("unary/exp", "exp of %d float32" % n, vec, lambda tf, x: tf.exp(x), np.exp,
              lambda t, x: t.exp(x), "GB/s", 8 * n / 1e9, rtol=1e-6),
        _case("unary/tanh", "tanh of %d float32" % n, vec, lambda tf, x: tf.tanh(x), np.tanh,
              lambda t, x: t.tanh(x), "GB/s", 8 * n / 1e9, rtol=1e-6),
        _case("unary/relu", "tf.nn.relu of %d float32" % n, vec, lambda tf, x: tf.nn.relu(x),
              lambda x: np.maximum(x, 0), lambda t, x: t.relu(x), "GB/s", 8 * n / 1e9, needs=("nn.relu",)),
        _case("binary/add", "add of two %d float32" % n, vec2, lambda tf, x, y: x + y, np.add,
              lambda t, x, y: x + y, "GB/s", 12 * n / 1e9),
        _case("binary/mul_row_bcast", "(%d, %d) * (%d,) float32" % (side, side, side), rowb,
              lambda tf, x, y: x * y, np.multiply, lambda t, x, y: x * y, "GB/s", 8 * side * side / 1e9),
        _case("reduce/sum_axis0", "reduce_sum over axis 0 of (%d, %d) float32" % (rside, rside), mat,
              lambda tf, x: tf.reduce_sum(x, axis=0), lambda x: x.sum(axis=0), lambda t, x: x.sum(dim=0),
              "GB/s", 4 * rside * rside / 1e9, rtol=1e-4, atol=1e-3),
        _case("reduce/sum_axis1", "reduce_sum over axis 1 of (%d, %d) float32" % (rside, rside), mat,
              lambda tf, x: tf.reduce_sum(x, axis=1), lambda x: x.sum(axis=1), lambda t, x: x.sum(dim=1),
              "GB/s", 4 * rside * rside / 1e9, rtol=1e-4, atol=1e-3),
        _case("reduce/sum_all", "reduce_sum of all of (%d, %d) float32" % (rside, rside), mat,
              lambda tf, x: tf.reduce_sum(x), lambda x: x.sum(), lambda t, x: x.sum(),
              "GB/s", 4 * rside * rside / 1e9, rtol=1e-4, atol=1e-2),
        _case("reduce/sum_16M", "reduce_sum of all of %d float32 (issue 16's full reduction)" % big, bigvec,
              lambda tf, x: tf.reduce_sum(x), lambda x: x.sum(), lambda t, x: x.sum(),
              "GB/s", 4 * big / 1e9, rtol=1e-4, atol=1e-1),
        _case("matmul/%dx%dx%d" % (mm, mm, mm), "matmul (%d, %d) @ (%d, %d) float32" % (mm, mm, mm, mm), sq,
              lambda tf, a, b: tf.matmul(a, b), np.matmul, lambda t, a, b: a @ b, "GFLOP/s",
              2 * mm ** 3 / 1e9, rtol=1e-4, atol=1e-3),
        _case("matmul/128x784x512", "matmul (128, 784) @ (784, 512) float32", mlp,
              lambda tf, a, b: tf.matmul(a, b), np.matmul, lambda t, a, b: a @ b, "GFLOP/s",
              2 * 128 * 784 * 512 / 1e9, rtol=1e-4, atol=1e-3),
    ]
    for rows, cols in ((128, 10), (1024, 1000)):
        if quick:
            rows, cols = min(rows, 64), min(cols, 100)
        logits = _cached(lambda r=rows, c=cols: (rng.standard_normal((r, c), dtype=F32) * F32(3),))
        lab = _cached(lambda r=rows, c=cols: (rng.integers(0, c, size=r).astype(np.int64),
                                              rng.standard_normal((r, c), dtype=F32) * F32(3)))
        out.append(_case("softmax/%dx%d" % (rows, cols), "tf.nn.softmax of (%d, %d) float32" % (rows, cols),
                         logits, lambda tf, x: tf.nn.softmax(x), _np_softmax, lambda t, x: t.softmax(x, dim=1),
                         "GB/s", 8 * rows * cols / 1e9, needs=("nn.softmax",), rtol=1e-5, atol=1e-7))
        out.append(_case(
            "xent/%dx%d" % (rows, cols),
            "tf.nn.sparse_softmax_cross_entropy_with_logits, (%d, %d) float32 logits" % (rows, cols), lab,
            lambda tf, y, x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x), _np_xent,
            lambda t, y, x: t.nn.functional.cross_entropy(x, y, reduction="none"),
            "GB/s", (4 * rows * cols + 12 * rows) / 1e9, needs=("nn.sparse_softmax_cross_entropy_with_logits",),
            rtol=1e-5, atol=1e-5))
    shape = (64, 32) if quick else (784, 512)
    size = shape[0] * shape[1]
    for opt, arrays_moved in (("adam", 7), ("sgd", 3)):
        out.append(Case(
            "kernels/optimizer/%s_%dx%d" % (opt, shape[0], shape[1]), "kernels",
            "%s apply of a fed gradient to a (%d, %d) float32 variable" % (opt, shape[0], shape[1]),
            [Impl("nbflow", nbflow_apply(shape, opt)), Impl("numpy", numpy_apply(shape, opt)),
             Impl("torch", torch_apply(shape, opt))],
            unit="GB/s", work=arrays_moved * 4 * size / 1e9, baselines=("numpy", "torch"), reference="numpy",
            check_calls=2, rtol=1e-4, atol=1e-6))
    return out
