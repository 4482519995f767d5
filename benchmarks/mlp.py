"""MNIST-shaped MLP training step: 784-512-512-10, ReLU, softmax cross-entropy.

One iteration is one full training step (forward, backward, parameter
update) on a batch of 128 or 32, with SGD (lr 0.01) or Adam (lr 0.001,
beta1 0.9, beta2 0.999, epsilon 1e-8), in

* nbflow: the TF 1.x program -- placeholders ``x``/``y`` fed every step,
  ``tf.nn.relu``, ``tf.nn.sparse_softmax_cross_entropy_with_logits`` +
  ``tf.reduce_mean``, ``tf.train.*Optimizer(...).minimize(loss)``, and
  ``sess.run([train_op, loss], feed_dict=...)``;
* numpy: forward, backward and the update written by hand, buffers
  preallocated, matrix products through ``np.matmul(..., out=...)`` (BLAS);
* PyTorch: ``nn.Linear`` layers, ``F.cross_entropy``,
  ``optimizer.zero_grad(); loss.backward(); optimizer.step()``.

All three start from the same weights (Glorot-uniform, zero biases) and see
the same pre-generated batches in the same order, so their first losses must
agree -- the runner checks the first three steps' losses.
"""
import numpy as np

from benchmarks.harness import (
    Case, Impl, Target, nbflow_training_step, require, torch_or_skip, torch_training_step,
)

SIZES = (784, 512, 512, 10)
LR = {"sgd": 0.01, "adam": 0.001}
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
N_BATCHES = 8  # the data cycles through this many pre-generated batches
TARGET_VS_TORCH = 0.8


QUICK_SIZES = (784, 32, 32, 10)  # --quick: a smoke test, not a measurement


def init_params(sizes=SIZES, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params.append(rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32))
        params.append(np.zeros(fan_out, dtype=np.float32))
    return params


def make_batches(batch, sizes=SIZES, seed=1):
    rng = np.random.default_rng(seed)
    xs = [rng.random((batch, sizes[0]), dtype=np.float32) for _ in range(N_BATCHES)]
    ys = [rng.integers(0, sizes[-1], size=batch).astype(np.int64) for _ in range(N_BATCHES)]
    return xs, ys


# -- nbflow --------------------------------------------------------------------------

def nbflow_setup(batch, opt, sizes=SIZES, manual=False):
    """``manual``: SGD written as ``tf.gradients`` + ``tf.assign_sub`` instead of an optimizer
    (shows what the optimizer layer adds)."""
    def setup():
        import nbflow

        require(nbflow, "nn.relu", "nn.sparse_softmax_cross_entropy_with_logits")
        if not manual:
            require(nbflow, "train.GradientDescentOptimizer" if opt == "sgd" else "train.AdamOptimizer")
        params = init_params(sizes)
        xs, ys = make_batches(batch, sizes)

        def build(tf):
            x = tf.placeholder(tf.float32, [None, sizes[0]], name="x")
            y = tf.placeholder(tf.int64, [None], name="y")
            w = [tf.Variable(p, name="w%d" % i) for i, p in enumerate(params)]
            h = tf.nn.relu(tf.matmul(x, w[0]) + w[1])
            h = tf.nn.relu(tf.matmul(h, w[2]) + w[3])
            logits = tf.matmul(h, w[4]) + w[5]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            if manual:
                grads = tf.gradients(loss, w)
                train = tf.group(*[tf.assign_sub(v, LR["sgd"] * gv) for v, gv in zip(w, grads)])
                return x, y, loss, train, tf.global_variables_initializer()
            if opt == "sgd":
                optimizer = tf.train.GradientDescentOptimizer(LR["sgd"])
            else:
                optimizer = tf.train.AdamOptimizer(LR["adam"], beta1=BETA1, beta2=BETA2, epsilon=EPS)
            train = optimizer.minimize(loss)
            return x, y, loss, train, tf.global_variables_initializer()

        return nbflow_training_step(build, xs, ys)
    return setup


# -- numpy ---------------------------------------------------------------------------

class NumpyMLP:
    """The training step written by hand with preallocated buffers."""

    def __init__(self, batch, opt, sizes=SIZES):
        self.params = init_params(sizes)
        self.grads = [np.empty_like(p) for p in self.params]
        self.opt = opt
        self.lr = np.float32(LR[opt])
        n1, n2, n3 = sizes[1:]
        f = np.float32
        self.z1, self.h1 = np.empty((batch, n1), f), np.empty((batch, n1), f)
        self.z2, self.h2 = np.empty((batch, n2), f), np.empty((batch, n2), f)
        self.logits = np.empty((batch, n3), f)
        self.mx = np.empty((batch, 1), f)
        self.se = np.empty((batch, 1), f)
        self.d2, self.d1 = np.empty((batch, n2), f), np.empty((batch, n1), f)
        self.mask2, self.mask1 = np.empty((batch, n2), bool), np.empty((batch, n1), bool)
        self.rows = np.arange(batch)
        self.inv_batch = np.float32(1.0 / batch)
        if opt == "adam":
            self.m = [np.zeros_like(p) for p in self.params]
            self.v = [np.zeros_like(p) for p in self.params]
            self.tmp = [np.empty_like(p) for p in self.params]
            self.t = 0

    def step(self, x, y):
        w1, b1, w2, b2, w3, b3 = self.params
        g = self.grads
        # forward
        np.matmul(x, w1, out=self.z1)
        self.z1 += b1
        np.maximum(self.z1, 0, out=self.h1)
        np.matmul(self.h1, w2, out=self.z2)
        self.z2 += b2
        np.maximum(self.z2, 0, out=self.h2)
        lg = self.logits
        np.matmul(self.h2, w3, out=lg)
        lg += b3
        # softmax cross-entropy (log-sum-exp); lg becomes the softmax probabilities
        np.max(lg, axis=1, keepdims=True, out=self.mx)
        lg -= self.mx
        picked = lg[self.rows, y]
        np.exp(lg, out=lg)
        np.sum(lg, axis=1, keepdims=True, out=self.se)
        loss = np.mean(np.log(self.se[:, 0]) - picked)
        lg /= self.se
        # backward: dlogits = (softmax - onehot) / batch, kept in lg
        lg[self.rows, y] -= 1
        lg *= self.inv_batch
        np.matmul(self.h2.T, lg, out=g[4])
        np.sum(lg, axis=0, out=g[5])
        np.matmul(lg, w3.T, out=self.d2)
        np.greater(self.z2, 0, out=self.mask2)
        self.d2 *= self.mask2
        np.matmul(self.h1.T, self.d2, out=g[2])
        np.sum(self.d2, axis=0, out=g[3])
        np.matmul(self.d2, w2.T, out=self.d1)
        np.greater(self.z1, 0, out=self.mask1)
        self.d1 *= self.mask1
        np.matmul(x.T, self.d1, out=g[0])
        np.sum(self.d1, axis=0, out=g[1])
        # update
        if self.opt == "sgd":
            for p, gr in zip(self.params, g):
                gr *= self.lr
                p -= gr
        else:
            self.t += 1
            t = self.t
            lr_t = np.float32(LR["adam"] * np.sqrt(1 - BETA2 ** t) / (1 - BETA1 ** t))
            b1c, b2c, eps = np.float32(BETA1), np.float32(BETA2), np.float32(EPS)
            for p, gr, m, v, tmp in zip(self.params, g, self.m, self.v, self.tmp):
                m *= b1c                       # m = b1*m + (1-b1)*g
                np.multiply(gr, 1 - b1c, out=tmp)
                m += tmp
                v *= b2c                       # v = b2*v + (1-b2)*g*g
                np.multiply(gr, gr, out=tmp)
                tmp *= 1 - b2c
                v += tmp
                np.sqrt(v, out=tmp)            # p -= lr_t * m / (sqrt(v) + eps)
                tmp += eps
                np.divide(m, tmp, out=tmp)
                tmp *= lr_t
                p -= tmp
        return float(loss)


def numpy_setup(batch, opt, sizes=SIZES):
    def setup():
        net = NumpyMLP(batch, opt, sizes)
        xs, ys = make_batches(batch, sizes)
        state = [0]

        def step():
            i = state[0]
            state[0] = (i + 1) % N_BATCHES
            return net.step(xs[i], ys[i])
        return step
    return setup


# -- PyTorch -------------------------------------------------------------------------

def torch_setup(batch, opt, sizes=SIZES):
    def setup():
        torch = torch_or_skip()
        import torch.nn.functional as F

        params = init_params(sizes)
        layers = []
        with torch.no_grad():
            for i in range(3):
                lin = torch.nn.Linear(sizes[i], sizes[i + 1])
                lin.weight.copy_(torch.from_numpy(params[2 * i].T.copy()))
                lin.bias.copy_(torch.from_numpy(params[2 * i + 1]))
                layers.append(lin)
        model = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1], torch.nn.ReLU(), layers[2])
        if opt == "sgd":
            optimizer = torch.optim.SGD(model.parameters(), lr=LR["sgd"])
        else:
            optimizer = torch.optim.Adam(model.parameters(), lr=LR["adam"], betas=(BETA1, BETA2), eps=EPS)
        xs, ys = make_batches(batch, sizes)
        xs = [torch.from_numpy(x) for x in xs]
        ys = [torch.from_numpy(y) for y in ys]
        return torch_training_step(lambda x, y: F.cross_entropy(model(x), y), optimizer, xs, ys)
    return setup


def cases(quick):
    sizes = QUICK_SIZES if quick else SIZES
    out = []
    for batch in (128, 32):
        for opt in ("sgd", "adam"):
            targets = []
            if batch == 128 and opt == "sgd":
                targets = [Target("nbflow", "MLP training steps/s vs PyTorch", versus="torch",
                                  min_ratio=TARGET_VS_TORCH)]
            out.append(Case(
                "mlp/b%d/%s" % (batch, opt), "mlp",
                "%s ReLU MLP, softmax cross-entropy, %s, batch %d: one training step"
                % ("-".join(map(str, sizes)), "SGD lr 0.01" if opt == "sgd" else "Adam lr 0.001", batch),
                [Impl("nbflow", nbflow_setup(batch, opt, sizes)), Impl("numpy", numpy_setup(batch, opt, sizes)),
                 Impl("torch", torch_setup(batch, opt, sizes))]
                + ([Impl("nbflow-manual", nbflow_setup(batch, opt, sizes, manual=True),
                         note="tf.gradients + tf.assign_sub instead of an optimizer")] if opt == "sgd" else []),
                unit="steps/s", work=1.0, baselines=("numpy", "torch"), targets=targets,
                # TF's Adam puts epsilon after the bias correction, PyTorch's before it: the losses
                # after an Adam step differ slightly more than float32 rounding.
                check_calls=3, rtol=2e-4 if opt == "sgd" else 1e-3, atol=1e-5, reference="numpy"))
    return out
