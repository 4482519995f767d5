"""Eager execution (TF 2 style) against PyTorch's eager mode.

* ``eager/dispatch``: ``a + b`` on two 3x4 float32 eager tensors, one op per
  call -- the per-op cost of eager dispatch.
* ``eager/tape``: forward and backward of ``reduce_sum(x*y + z)`` on 3x4 under
  a GradientTape (PyTorch: autograd, ``loss.backward()``).
* ``eager/mlp/b128/adam``: the MLP training step of benchmarks/mlp.py
  (784-512-512-10, Adam) written eagerly: a GradientTape, ``tape.gradient``,
  ``optimizer.apply_gradients`` -- no tf.function. The graph-mode Session step
  (``graph``) runs in the same case, and ``function`` is the same eager step
  under ``@tf.function`` (its first call is the trace + compile).

The runner runs every implementation in one process and interleaves them, and
the rest of nbflow's benchmarks are graph mode, so each nbflow step switches
eager mode on and off around its work (two list assignments).
"""
import numpy as np

from benchmarks.harness import Case, Impl, Skip, Target, torch_or_skip, torch_training_step
from benchmarks import mlp

TORCH_DISPATCH_US = 3.0


def _eager_flag():
    from nbflow.framework import context

    return context._EAGER


def _nbflow_dispatch():
    import nbflow as tf

    flag = _eager_flag()
    flag[0] = True
    rng = np.random.default_rng(0)
    a = tf.constant(rng.random((3, 4), dtype=np.float32))
    b = tf.constant(rng.random((3, 4), dtype=np.float32))
    flag[0] = False

    def step():
        flag[0] = True
        c = a + b
        flag[0] = False
        return c.numpy()
    return step


def _torch_dispatch():
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.random((3, 4), dtype=np.float32))
    b = torch.from_numpy(rng.random((3, 4), dtype=np.float32))

    def step():
        return (a + b).numpy()
    return step


def _numpy_dispatch():
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 4), dtype=np.float32), rng.random((3, 4), dtype=np.float32)

    def step():
        return a + b
    return step


def _tape_values():
    rng = np.random.default_rng(1)
    return [rng.random((3, 4), dtype=np.float32) for _ in range(3)]


def _nbflow_tape():
    import nbflow as tf

    flag = _eager_flag()
    flag[0] = True
    x0, y0, z0 = _tape_values()
    x, y, z = tf.constant(x0), tf.constant(y0), tf.constant(z0)
    flag[0] = False

    def step():
        flag[0] = True
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(x * y + z)
        g = tape.gradient(loss, x)
        flag[0] = False
        return g.numpy()
    return step


def _torch_tape():
    torch = torch_or_skip()
    x0, y0, z0 = _tape_values()
    y, z = torch.from_numpy(y0), torch.from_numpy(z0)

    def step():
        x = torch.from_numpy(x0).requires_grad_()
        loss = (x * y + z).sum()
        loss.backward()
        return x.grad.numpy()
    return step


# -- the MLP step, eagerly ------------------------------------------------------------------

def _nbflow_mlp(batch, use_function):
    def setup():
        import nbflow as tf

        if use_function and not hasattr(tf, "function"):
            raise Skip("nbflow lacks tf.function")
        flag = _eager_flag()
        flag[0] = True
        params = [tf.Variable(p, name="w%d" % i) for i, p in enumerate(mlp.init_params())]
        xs, ys = mlp.make_batches(batch)
        xs, ys = [tf.constant(x) for x in xs], [tf.constant(y) for y in ys]
        opt = tf.train.AdamOptimizer(mlp.LR["adam"], beta1=mlp.BETA1, beta2=mlp.BETA2, epsilon=mlp.EPS)

        def train_step(x, y):
            with tf.GradientTape() as tape:
                h = tf.nn.relu(tf.matmul(x, params[0]) + params[1])
                h = tf.nn.relu(tf.matmul(h, params[2]) + params[3])
                logits = tf.matmul(h, params[4]) + params[5]
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            grads = tape.gradient(loss, params)
            opt.apply_gradients(zip(grads, params))
            return loss

        if use_function:
            train_step = tf.function(train_step)
        flag[0] = False
        state = [0]

        def step():
            i = state[0]
            state[0] = (i + 1) % mlp.N_BATCHES
            flag[0] = True
            loss = train_step(xs[i], ys[i])
            flag[0] = False
            return float(loss)
        return step
    return setup


def _torch_mlp(batch):
    def setup():
        torch = torch_or_skip()
        import torch.nn.functional as F

        params = [torch.tensor(p, requires_grad=True) for p in mlp.init_params()]
        xs, ys = mlp.make_batches(batch)
        xs, ys = [torch.from_numpy(x) for x in xs], [torch.from_numpy(y) for y in ys]
        opt = torch.optim.Adam(params, lr=mlp.LR["adam"], betas=(mlp.BETA1, mlp.BETA2), eps=mlp.EPS)

        def loss_fn(x, y):
            h = F.relu(x @ params[0] + params[1])
            h = F.relu(h @ params[2] + params[3])
            return F.cross_entropy(h @ params[4] + params[5], y)
        return torch_training_step(loss_fn, opt, xs, ys)
    return setup


def cases(quick):
    batch = 128
    return [
        Case("eager/dispatch", "eager", "eager a + b on 3x4 float32, one op per call",
             [Impl("nbflow", _nbflow_dispatch), Impl("torch", _torch_dispatch), Impl("numpy", _numpy_dispatch)],
             unit="calls/s", targets=[Target("nbflow", "eager op dispatch at most PyTorch's", versus="torch",
                                             min_ratio=1.0)]),
        Case("eager/tape", "eager", "forward + backward of reduce_sum(x*y+z) on 3x4 under a tape",
             [Impl("nbflow", _nbflow_tape), Impl("torch", _torch_tape)], unit="calls/s",
             targets=[Target("nbflow", "tape faster than PyTorch autograd", versus="torch", min_ratio=1.0)]),
        Case("eager/mlp/b%d/adam" % batch, "eager", "MLP 784-512-512-10 Adam step, eager (tape) vs tf.function",
             [Impl("nbflow", _nbflow_mlp(batch, False)), Impl("function", _nbflow_mlp(batch, True)),
              Impl("graph", mlp.nbflow_setup(batch, "adam")), Impl("torch", _torch_mlp(batch))],
             check_calls=3, rtol=1e-3, atol=1e-4, baselines=("torch", "graph"),
             targets=[Target("nbflow", "eager step >= PyTorch eager", versus="torch", min_ratio=1.0),
                      Target("function", "tf.function step within 1.1x of Session.run", versus="graph",
                             min_ratio=1 / 1.1)]),
    ]
