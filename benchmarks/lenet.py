"""LeNet-like CNN training step on 28x28x1 images: nbflow vs PyTorch.

The model (NHWC in nbflow, NCHW in PyTorch)::

    conv 32 3x3 SAME + bias + ReLU -> 2x2 max pool (stride 2)
    conv 64 3x3 SAME + bias + ReLU -> 2x2 max pool (stride 2)
    flatten (7*7*64) -> dense 128 + ReLU -> dense 10
    softmax cross-entropy (mean over the batch), SGD lr 0.01, batch 64

One iteration is one full training step (forward, backward, update) in

* nbflow: the TF 1.x program -- ``tf.nn.conv2d``, ``tf.nn.bias_add``,
  ``tf.nn.relu``, ``tf.nn.max_pool``, ``tf.matmul``,
  ``tf.nn.sparse_softmax_cross_entropy_with_logits`` + ``tf.reduce_mean``,
  ``tf.train.GradientDescentOptimizer(...).minimize(loss)`` and
  ``sess.run([train_op, loss], feed_dict=...)``;
* PyTorch: ``nn.Conv2d``, ``F.max_pool2d``, ``nn.Linear``,
  ``F.cross_entropy``, ``optimizer.zero_grad(); loss.backward(); optimizer.step()``.

Both start from the same weights (Glorot-uniform, zero biases; PyTorch's
first dense layer gets its rows permuted so that its (C, H, W) flatten order
computes the same function as nbflow's (H, W, C) one) and see the same
pre-generated batches in the same order, so their first losses agree -- the
runner checks the first three steps' losses.
"""
import numpy as np

from benchmarks.harness import (
    Case, Impl, Target, nbflow_training_step, require, torch_or_skip, torch_training_step,
)

LR = 0.01
N_BATCHES = 8
TARGET_VS_TORCH = 1.0

#            batch, image, conv1, conv2, dense
FULL = dict(batch=64, image=28, c1=32, c2=64, hidden=128, classes=10)
QUICK = dict(batch=4, image=12, c1=4, c2=8, hidden=16, classes=10)  # --quick: a smoke test


def _glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def init_params(cfg, seed=0):
    """[conv1 (3,3,1,c1), b1, conv2 (3,3,c1,c2), b2, dense1 (flat, hidden), b3, dense2 (hidden, 10), b4]."""
    rng = np.random.default_rng(seed)
    c1, c2, hid, ncls = cfg["c1"], cfg["c2"], cfg["hidden"], cfg["classes"]
    flat = (cfg["image"] // 4) ** 2 * c2
    return [_glorot(rng, (3, 3, 1, c1), 9, 9 * c1), np.zeros(c1, np.float32),
            _glorot(rng, (3, 3, c1, c2), 9 * c1, 9 * c2), np.zeros(c2, np.float32),
            _glorot(rng, (flat, hid), flat, hid), np.zeros(hid, np.float32),
            _glorot(rng, (hid, ncls), hid, ncls), np.zeros(ncls, np.float32)]


def make_batches(cfg, seed=1):
    rng = np.random.default_rng(seed)
    b, s = cfg["batch"], cfg["image"]
    xs = [rng.random((b, s, s, 1), dtype=np.float32) for _ in range(N_BATCHES)]
    ys = [rng.integers(0, cfg["classes"], size=b).astype(np.int64) for _ in range(N_BATCHES)]
    return xs, ys


# -- nbflow --------------------------------------------------------------------------

def nbflow_setup(cfg):
    def setup():
        import nbflow

        require(nbflow, "nn.conv2d", "nn.max_pool", "nn.bias_add", "nn.relu",
                "nn.sparse_softmax_cross_entropy_with_logits", "train.GradientDescentOptimizer")
        params = init_params(cfg)
        xs, ys = make_batches(cfg)
        s = cfg["image"]

        def build(tf):
            x = tf.placeholder(tf.float32, [None, s, s, 1], name="x")
            y = tf.placeholder(tf.int64, [None], name="y")
            w = [tf.Variable(p, name="w%d" % i) for i, p in enumerate(params)]
            h = x
            for k in (0, 2):
                h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, w[k], strides=[1, 1, 1, 1], padding="SAME"), w[k + 1]))
                h = tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
            h = tf.reshape(h, [-1, params[4].shape[0]])
            h = tf.nn.relu(tf.matmul(h, w[4]) + w[5])
            logits = tf.matmul(h, w[6]) + w[7]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            train = tf.train.GradientDescentOptimizer(LR).minimize(loss)
            return x, y, loss, train, tf.global_variables_initializer()

        return nbflow_training_step(build, xs, ys)
    return setup


# -- PyTorch -------------------------------------------------------------------------

def torch_setup(cfg):
    def setup():
        torch = torch_or_skip()
        import torch.nn.functional as F

        params = init_params(cfg)
        c1, c2, hid, ncls = cfg["c1"], cfg["c2"], cfg["hidden"], cfg["classes"]
        side = cfg["image"] // 4
        conv1 = torch.nn.Conv2d(1, c1, 3, padding=1)
        conv2 = torch.nn.Conv2d(c1, c2, 3, padding=1)
        fc1 = torch.nn.Linear(side * side * c2, hid)
        fc2 = torch.nn.Linear(hid, ncls)
        # nbflow's dense1 rows are in (h, w, c) order; PyTorch flattens (c, h, w).
        w3 = params[4].reshape(side, side, c2, hid).transpose(2, 0, 1, 3).reshape(-1, hid)
        with torch.no_grad():
            conv1.weight.copy_(torch.from_numpy(params[0].transpose(3, 2, 0, 1).copy()))
            conv1.bias.copy_(torch.from_numpy(params[1]))
            conv2.weight.copy_(torch.from_numpy(params[2].transpose(3, 2, 0, 1).copy()))
            conv2.bias.copy_(torch.from_numpy(params[3]))
            fc1.weight.copy_(torch.from_numpy(w3.T.copy()))
            fc1.bias.copy_(torch.from_numpy(params[5]))
            fc2.weight.copy_(torch.from_numpy(params[6].T.copy()))
            fc2.bias.copy_(torch.from_numpy(params[7]))
        model = torch.nn.Sequential(conv1, torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                    conv2, torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                    torch.nn.Flatten(), fc1, torch.nn.ReLU(), fc2)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        xs, ys = make_batches(cfg)
        xs = [torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) for x in xs]  # NCHW
        ys = [torch.from_numpy(y) for y in ys]
        return torch_training_step(lambda x, y: F.cross_entropy(model(x), y), optimizer, xs, ys)
    return setup


def cases(quick):
    cfg = QUICK if quick else FULL
    return [Case(
        "lenet/b%d/sgd" % cfg["batch"], "lenet",
        "LeNet-like CNN on %dx%dx1: conv%d 3x3 SAME+ReLU, 2x2 max pool, conv%d 3x3 SAME+ReLU, 2x2 max pool, "
        "dense %d ReLU, dense %d; softmax cross-entropy, SGD lr %g, batch %d: one training step"
        % (cfg["image"], cfg["image"], cfg["c1"], cfg["c2"], cfg["hidden"], cfg["classes"], LR, cfg["batch"]),
        [Impl("nbflow", nbflow_setup(cfg)), Impl("torch", torch_setup(cfg))],
        unit="steps/s", work=1.0, baselines=("torch",),
        targets=[Target("nbflow", "LeNet training steps/s vs PyTorch", versus="torch", min_ratio=TARGET_VS_TORCH)],
        check_calls=3, rtol=2e-4, atol=1e-5, reference="torch")]
