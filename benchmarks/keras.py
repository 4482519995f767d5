"""Keras ``fit`` for one epoch on the bundled MNIST digits, against plain loops.

One iteration is one epoch over the 8,000 bundled training digits (62 full
batches of 128; the last 64 digits are dropped so every implementation runs the
same 62 steps) of the 784-512-512-10 ReLU MLP with Adam (lr 0.001), from the
same initial weights:

* ``keras-fit``: ``model.fit(x, y, batch_size=128, epochs=1, shuffle=False,
  verbose=0)`` of a ``tf.keras.Sequential`` (its train step is one tf.function);
* ``keras-fit-data``: the same ``fit`` fed by a ``tf.data`` pipeline
  (``from_tensor_slices`` -> ``shuffle`` -> ``map`` (the /255 scaling) ->
  ``batch`` -> ``prefetch``) instead of numpy arrays;
* ``graph``: nbflow's TF 1.x step loop (benchmarks/mlp.py's graph, ``sess.run``
  of the train op per batch);
* ``torch``: a plain PyTorch training loop over the same batches.

Eager mode is switched on around the Keras implementations only.
"""
import numpy as np

from benchmarks.harness import Case, Impl, Skip, Target, nbflow_session, torch_or_skip
from benchmarks import mlp

BATCH = 128


def _digits(quick):
    from nbflow.datasets import mnist

    (x, y), _ = mnist.load_data()
    n = 1024 if quick else (len(x) // BATCH) * BATCH
    x = (x[:n].reshape(n, 784) / 255.0).astype(np.float32)
    return x, y[:n].astype(np.int64)


def _eager_flag():
    from nbflow.framework import context

    return context._EAGER


def _keras_model(tf):
    params = mlp.init_params()
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(512, activation="relu", input_shape=(784,)),
        tf.keras.layers.Dense(512, activation="relu"),
        tf.keras.layers.Dense(10),
    ])
    model.set_weights(params)
    model.compile(optimizer=tf.keras.optimizers.Adam(mlp.LR["adam"], epsilon=mlp.EPS),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _keras_fit(quick, use_data):
    def setup():
        import nbflow as tf

        if not hasattr(tf.keras, "Sequential"):
            raise Skip("nbflow lacks tf.keras.Sequential")
        flag = _eager_flag()
        flag[0] = True
        x, y = _digits(quick)
        model = _keras_model(tf)
        if use_data:
            raw = (x * 255.0).astype(np.float32)
            ds = tf.data.Dataset.from_tensor_slices((raw, y)).shuffle(len(x), seed=0) \
                .map(lambda a, b: (a / 255.0, b)).batch(BATCH, drop_remainder=True).prefetch(1)
        flag[0] = False

        def step():
            flag[0] = True
            try:
                if use_data:
                    model.fit(ds, epochs=1, verbose=0)
                else:
                    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
            finally:
                flag[0] = False
            return None
        return step
    return setup


def _graph_loop(quick):
    def setup():
        x, y = _digits(quick)
        params = mlp.init_params()

        def build(tf):
            xp = tf.placeholder(tf.float32, [None, 784], name="x")
            yp = tf.placeholder(tf.int64, [None], name="y")
            w = [tf.Variable(p, name="w%d" % i) for i, p in enumerate(params)]
            h = tf.nn.relu(tf.matmul(xp, w[0]) + w[1])
            h = tf.nn.relu(tf.matmul(h, w[2]) + w[3])
            logits = tf.matmul(h, w[4]) + w[5]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yp, logits=logits))
            train = tf.train.AdamOptimizer(mlp.LR["adam"], epsilon=mlp.EPS).minimize(loss)
            return xp, yp, loss, train, tf.global_variables_initializer()

        tf, g, sess, (xp, yp, loss, train, init) = nbflow_session(build)
        sess.run(init)
        run = sess.run
        batches = [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(x), BATCH)]

        def step():
            for bx, by in batches:
                run(train, {xp: bx, yp: by})
            return None
        return step, sess.close
    return setup


def _torch_loop(quick):
    def setup():
        torch = torch_or_skip()
        import torch.nn.functional as F

        x, y = _digits(quick)
        params = [torch.tensor(p, requires_grad=True) for p in mlp.init_params()]
        opt = torch.optim.Adam(params, lr=mlp.LR["adam"], eps=mlp.EPS)
        batches = [(torch.from_numpy(x[i:i + BATCH]), torch.from_numpy(y[i:i + BATCH]))
                   for i in range(0, len(x), BATCH)]

        def step():
            for bx, by in batches:
                opt.zero_grad()
                h = F.relu(bx @ params[0] + params[1])
                h = F.relu(h @ params[2] + params[3])
                loss = F.cross_entropy(h @ params[4] + params[5], by)
                loss.backward()
                opt.step()
            return None
        return step
    return setup


def cases(quick):
    return [
        Case("keras/fit-epoch", "keras", "one epoch of fit (MLP 784-512-512-10, Adam, batch 128) on the digits",
             [Impl("keras-fit", _keras_fit(quick, False)), Impl("keras-fit-data", _keras_fit(quick, True)),
              Impl("graph", _graph_loop(quick)), Impl("torch", _torch_loop(quick))],
             unit="epochs/s", baselines=("torch", "graph", "keras-fit"),
             targets=[Target("keras-fit", "fit epoch >= 1.0x PyTorch's loop", versus="torch", min_ratio=1.0),
                      Target("keras-fit", "fit within 1.15x of the graph-mode step loop", versus="graph",
                             min_ratio=1 / 1.15),
                      Target("keras-fit-data", "tf.data feeding adds <= 5% over numpy batches",
                             versus="keras-fit", min_ratio=1 / 1.05)]),
    ]
