"""Character-level LSTM training step (the examples/char_rnn.py model): nbflow vs PyTorch.

The model, on one-hot inputs [batch 128, 40 steps, vocabulary 59]::

    LSTM, 128 units (TF's BasicLSTMCell: one [x, h] @ kernel product per step,
    gates i, j, f, o, forget bias 1.0) -> last output -> dense to 59 logits
    -> softmax cross-entropy (mean over the batch), Adam lr 0.01

One iteration is one full training step (forward over the 40 steps,
backpropagation through time, Adam update) in

* nbflow: the TF 1.x program -- ``tf.nn.rnn_cell.BasicLSTMCell`` over
  ``tf.nn.dynamic_rnn`` (implementation ``nbflow``) or over
  ``tf.nn.static_rnn`` (``nbflow-static``), both of which run the cell as one
  fused BlockLSTM op (nbflow/ops/rnn_fused.py); ``nbflow-unfused`` is the
  path before it, dynamic_rnn's While loop over the cell's ops
  (``unfused_rnn()``),
  ``tf.layers.dense``, ``tf.nn.sparse_softmax_cross_entropy_with_logits`` +
  ``tf.reduce_mean``, ``tf.train.AdamOptimizer(0.01).minimize(loss)``,
  ``sess.run([train_op, loss], feed_dict=...)``;
* PyTorch: ``nn.LSTM(59, 128, batch_first=True)`` + ``nn.Linear`` +
  ``F.cross_entropy`` + ``torch.optim.Adam``.

All start from the same weights (Glorot-uniform LSTM and dense kernels, zero
biases; PyTorch's gate blocks are reordered from TF's i, j, f, o to its
i, f, g, o, its ``bias_hh`` holds the constant forget bias 1.0 and is frozen,
so the trained bias is ``bias_ih`` alone, as TF's one bias) and see the same
pre-generated batches in the same order, so their first losses agree -- the
runner checks the first three steps' losses (TF's and PyTorch's Adam place
epsilon differently, hence rtol 1e-3).
"""
import numpy as np

from benchmarks.harness import (
    Case, Impl, Target, nbflow_training_step, require, torch_or_skip, torch_training_step,
)

LR = 0.01
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
FORGET_BIAS = 1.0
N_BATCHES = 8
TARGET_VS_TORCH = 1.3  # issue 16: the char-LSTM step >= 1.3x nn.LSTM

FULL = dict(batch=128, steps=40, vocab=59, hidden=128)
QUICK = dict(batch=4, steps=5, vocab=11, hidden=8)  # --quick: a smoke test, not a measurement


def _glorot(rng, shape):
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def init_params(cfg, seed=0):
    """TF layout: [LSTM kernel (vocab + hidden, 4 hidden), LSTM bias (4 hidden), dense kernel, dense bias]."""
    rng = np.random.default_rng(seed)
    v, h = cfg["vocab"], cfg["hidden"]
    return [_glorot(rng, (v + h, 4 * h)), np.zeros(4 * h, np.float32),
            _glorot(rng, (h, v)), np.zeros(v, np.float32)]


def make_batches(cfg, seed=1):
    """One-hot windows [batch, steps, vocab] float32 and next-character labels [batch] int64."""
    rng = np.random.default_rng(seed)
    b, t, v = cfg["batch"], cfg["steps"], cfg["vocab"]
    eye = np.eye(v, dtype=np.float32)
    xs = [eye[rng.integers(0, v, size=(b, t))] for _ in range(N_BATCHES)]
    ys = [rng.integers(0, v, size=b).astype(np.int64) for _ in range(N_BATCHES)]
    return xs, ys


# -- nbflow --------------------------------------------------------------------------

def nbflow_setup(cfg, rnn="dynamic", fused=True):
    """``fused=False``: the cell step by step (dynamic_rnn's While loop of the cell's
    ops, or static_rnn's unrolled copies), the path before BlockLSTM."""
    def setup():
        import contextlib

        import nbflow

        require(nbflow, "nn.rnn_cell.BasicLSTMCell", "nn.%s_rnn" % rnn, "layers.dense",
                "nn.sparse_softmax_cross_entropy_with_logits", "train.AdamOptimizer")
        params = init_params(cfg)
        xs, ys = make_batches(cfg)
        t, v, h = cfg["steps"], cfg["vocab"], cfg["hidden"]

        def build(tf):
            x = tf.placeholder(tf.float32, [None, t, v], name="x")
            y = tf.placeholder(tf.int64, [None], name="y")
            cell = tf.nn.rnn_cell.BasicLSTMCell(h, forget_bias=FORGET_BIAS)
            if fused:
                path = contextlib.nullcontext()
            else:
                from nbflow.ops.rnn_fused import unfused_rnn
                path = unfused_rnn()
            with path, tf.variable_scope("rnn", initializer=tf.constant_initializer(params[0])):
                if rnn == "dynamic":
                    _, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32, scope="rnn")
                else:
                    _, state = tf.nn.static_rnn(cell, tf.unstack(x, num=t, axis=1), dtype=tf.float32,
                                                scope="rnn")
            logits = tf.layers.dense(state.h, v, kernel_initializer=tf.constant_initializer(params[2]),
                                     name="logits")
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            train = tf.train.AdamOptimizer(LR, beta1=BETA1, beta2=BETA2, epsilon=EPS).minimize(loss)
            return x, y, loss, train, tf.global_variables_initializer()

        return nbflow_training_step(build, xs, ys)
    return setup


# -- PyTorch -------------------------------------------------------------------------

def _tf_to_torch_gates(w, h):
    """Rows of a [4h, ...] block (or a [4h] vector) from TF's gate order i, j, f, o to PyTorch's i, f, g, o."""
    i, j, f, o = (w[k * h:(k + 1) * h] for k in range(4))
    return np.concatenate([i, f, j, o])


def torch_setup(cfg):
    def setup():
        torch = torch_or_skip()
        import torch.nn.functional as F

        kernel, bias, dense_w, dense_b = init_params(cfg)
        v, h = cfg["vocab"], cfg["hidden"]
        lstm = torch.nn.LSTM(v, h, batch_first=True)
        dense = torch.nn.Linear(h, v)
        forget = np.zeros(4 * h, np.float32)
        forget[h:2 * h] = FORGET_BIAS  # PyTorch's f block
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(torch.from_numpy(_tf_to_torch_gates(kernel[:v].T, h).copy()))
            lstm.weight_hh_l0.copy_(torch.from_numpy(_tf_to_torch_gates(kernel[v:].T, h).copy()))
            lstm.bias_ih_l0.copy_(torch.from_numpy(_tf_to_torch_gates(bias, h)))
            lstm.bias_hh_l0.copy_(torch.from_numpy(forget))
            dense.weight.copy_(torch.from_numpy(dense_w.T.copy()))
            dense.bias.copy_(torch.from_numpy(dense_b))
        lstm.bias_hh_l0.requires_grad_(False)  # the constant forget bias, as TF's BasicLSTMCell adds it
        params = [p for p in list(lstm.parameters()) + list(dense.parameters()) if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=LR, betas=(BETA1, BETA2), eps=EPS)
        xs, ys = make_batches(cfg)
        xs = [torch.from_numpy(x) for x in xs]
        ys = [torch.from_numpy(y) for y in ys]
        def loss_fn(x, y):
            _, (h_n, _) = lstm(x)
            return F.cross_entropy(dense(h_n[0]), y)
        return torch_training_step(loss_fn, optimizer, xs, ys)
    return setup


def cases(quick):
    cfg = QUICK if quick else FULL
    return [Case(
        "lstm/b%d/t%d" % (cfg["batch"], cfg["steps"]), "lstm",
        "char-LSTM: one-hot [%d, %d, %d] -> LSTM %d -> dense %d, softmax cross-entropy, Adam lr %g: one "
        "training step" % (cfg["batch"], cfg["steps"], cfg["vocab"], cfg["hidden"], cfg["vocab"], LR),
        [Impl("nbflow", nbflow_setup(cfg, "dynamic"), note="BasicLSTMCell over tf.nn.dynamic_rnn (one BlockLSTM)"),
         Impl("nbflow-static", nbflow_setup(cfg, "static"), note="BasicLSTMCell over tf.nn.static_rnn (one BlockLSTM)"),
         Impl("nbflow-unfused", nbflow_setup(cfg, "dynamic", fused=False),
              note="dynamic_rnn's While loop over the cell's ops (unfused_rnn(): the path before BlockLSTM)"),
         Impl("torch", torch_setup(cfg), note="nn.LSTM + nn.Linear")],
        unit="steps/s", work=1.0, baselines=("torch",),
        targets=[Target("nbflow", "char-LSTM training steps/s vs PyTorch", versus="torch",
                        min_ratio=TARGET_VS_TORCH)],
        check_calls=3, rtol=1e-3, atol=1e-5, reference="torch")]
