"""Plan building: what a new fetch set costs, and a tutorial loop that pays it at every step.

The Session caches one compiled Plan per (fetches, feed shapes, changes to
existing ops) (runtime/session.py); building one runs the compiler's pass
pipeline (compiler/pipeline.py). A program that adds ops inside its training
loop -- as TF1 tutorials do, e.g. ``sess.run(tf.random_uniform(...))`` for each
step's noise -- builds a plan for each new fetch set (the new op); until
nbflow keyed plans by graph version, it rebuilt the training plan every time.

* ``planning/gan-loop``: a GAN (generator 64-128-784, discriminator
  784-128-1, an Adam optimizer each, batch 64) trained for 200 iterations (20
  and smaller layers with --quick). Each iteration adds a RandomUniform for its
  noise (7 ops), runs it, then runs both training ops and both losses. One
  benchmark iteration is the whole program: graph, Session, initialisation and
  the loop. PyTorch runs the same loop eagerly (it has no plans).
* ``planning/new-fetch``: the plan of a new fetch set on a ~100-op graph (a
  784-128-64-10 MLP's forward pass, loss, SGD update and accuracy): one iteration is one
  ``Session.plan_for``, what a plan-cache miss costs before the plan runs.

    python -m benchmarks.planning [--quick] [--iterations N]

runs the loop once more, instrumented, and prints where its time went: the
plans built, planning time per new plan (by fetch set) and its share of the loop.

Only a measurement: it reaches into ``Session._make_plan`` to time plan builds.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

from benchmarks.harness import Case, Impl, Skip, torch_or_skip  # noqa: E402


def gan_dims(quick):
    if quick:
        return dict(iterations=20, batch=16, noise=16, hidden=32, image=784)
    return dict(iterations=200, batch=64, noise=64, hidden=128, image=784)


def _real_batches(d, n=8):
    rng = np.random.RandomState(0)
    return [rng.rand(d["batch"], d["image"]).astype(np.float32) for _ in range(n)]


def gan_loop(tf, d, batches, on_session=None):
    """The tutorial program: build the GAN, then train it, adding the noise ops
    inside the loop. Returns the last (generator loss, discriminator loss)."""
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(0)

        def glorot(shape):
            return tf.Variable(tf.random_normal(shape, stddev=1.0 / np.sqrt(shape[0] / 2.0)))

        w = {"g1": glorot([d["noise"], d["hidden"]]), "g2": glorot([d["hidden"], d["image"]]),
             "d1": glorot([d["image"], d["hidden"]]), "d2": glorot([d["hidden"], 1])}
        b = {"g1": tf.Variable(tf.zeros([d["hidden"]])), "g2": tf.Variable(tf.zeros([d["image"]])),
             "d1": tf.Variable(tf.zeros([d["hidden"]])), "d2": tf.Variable(tf.zeros([1]))}

        def layer(x, k, act):
            return act(tf.add(tf.matmul(x, w[k]), b[k]))

        z_in = tf.placeholder("float", [None, d["noise"]])
        real = tf.placeholder("float", [None, d["image"]])
        fake = layer(layer(z_in, "g1", tf.nn.relu), "g2", tf.nn.sigmoid)
        d_real = layer(layer(real, "d1", tf.nn.relu), "d2", tf.nn.sigmoid)
        d_fake = layer(layer(fake, "d1", tf.nn.relu), "d2", tf.nn.sigmoid)
        g_loss = -tf.reduce_mean(tf.log(d_fake))
        d_loss = -tf.reduce_mean(tf.log(d_real) + tf.log(1.0 - d_fake))
        train_g = tf.train.AdamOptimizer(2e-4).minimize(g_loss, var_list=[w["g1"], w["g2"], b["g1"], b["g2"]])
        train_d = tf.train.AdamOptimizer(2e-4).minimize(d_loss, var_list=[w["d1"], w["d2"], b["d1"], b["d2"]])
        init = tf.global_variables_initializer()
        with tf.Session(graph=g) as sess:
            if on_session is not None:
                on_session(sess)
            sess.run(init)
            for i in range(d["iterations"]):
                noise = tf.random_uniform([d["batch"], d["noise"]], -1.0, 1.0)  # new ops every iteration
                z = sess.run(noise)
                _, _, gl, dl = sess.run([train_g, train_d, g_loss, d_loss],
                                        feed_dict={real: batches[i % len(batches)], z_in: z})
    return gl, dl


def _nbflow_gan(quick):
    def setup():
        import nbflow as tf

        d = gan_dims(quick)
        batches = _real_batches(d)

        def step():
            gan_loop(tf, d, batches)  # None: the losses are not comparable with PyTorch's (other random init)
        return step
    return setup


def _torch_gan(quick):
    def setup():
        torch = torch_or_skip()
        d = gan_dims(quick)
        batches = [torch.from_numpy(x) for x in _real_batches(d)]

        def step():
            torch.manual_seed(0)
            nn = torch.nn
            gen = nn.Sequential(nn.Linear(d["noise"], d["hidden"]), nn.ReLU(), nn.Linear(d["hidden"], d["image"]),
                                nn.Sigmoid())
            disc = nn.Sequential(nn.Linear(d["image"], d["hidden"]), nn.ReLU(), nn.Linear(d["hidden"], 1),
                                 nn.Sigmoid())
            opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4)
            opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4)
            for i in range(d["iterations"]):
                z = torch.rand(d["batch"], d["noise"]) * 2 - 1
                fake = gen(z)
                # as the TF program: both losses from the same forward pass, both updates from it
                g_loss = -torch.log(disc(fake)).mean()
                d_loss = -(torch.log(disc(batches[i % len(batches)])) + torch.log(1 - disc(fake))).mean()
                opt_g.zero_grad()
                opt_d.zero_grad()
                g_grads = torch.autograd.grad(g_loss, list(gen.parameters()), retain_graph=True)
                d_grads = torch.autograd.grad(d_loss, list(disc.parameters()))
                for p, gr in zip(gen.parameters(), g_grads):
                    p.grad = gr
                for p, gr in zip(disc.parameters(), d_grads):
                    p.grad = gr
                opt_g.step()
                opt_d.step()
        return step
    return setup


def mlp_graph(tf):
    """A ~100-op graph: a 784-128-64-10 MLP, softmax cross-entropy, an SGD update
    and the accuracy. Returns (x, y, fetches)."""
    x = tf.placeholder("float", [None, 784], name="x")
    y = tf.placeholder("float", [None, 10], name="y")
    h = tf.layers.dense(x, 128, activation=tf.nn.relu, name="hidden1")
    h = tf.layers.dense(h, 64, activation=tf.nn.relu, name="hidden2")
    logits = tf.layers.dense(h, 10, name="logits")
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    correct = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1)), "float"))
    return x, y, [train, loss, correct]


def _nbflow_new_fetch():
    import nbflow as tf

    g = tf.Graph()
    with g.as_default():
        x, y, fetches = mlp_graph(tf)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=g)
    sess.run(init)
    rng = np.random.RandomState(0)
    feed = {x: rng.rand(32, 784).astype(np.float32), y: np.eye(10, dtype=np.float32)[rng.randint(0, 10, 32)]}
    sess.run(fetches, feed)  # kernels loaded: the step times planning alone
    plan_for = sess.plan_for

    def step():
        plan_for(fetches, feed)  # a new Plan every call, as a cache miss builds
    step.session, step.fetches, step.feeds = sess, fetches, feed
    return step, sess.close


def _torch_new_fetch():
    torch_or_skip()
    raise Skip("PyTorch executes eagerly: it builds no plans")


def cases(quick):
    d = gan_dims(quick)
    return [
        Case("planning/gan-loop", "planning",
             "GAN program, %d iterations adding noise ops per iteration (graph, session, loop)" % d["iterations"],
             [Impl("nbflow", _nbflow_gan(quick)), Impl("torch", _torch_gan(quick))], unit="programs/s"),
        Case("planning/new-fetch", "planning", "plan of a new fetch set on a ~100-op MLP training graph",
             [Impl("nbflow", _nbflow_new_fetch), Impl("torch", _torch_new_fetch)], unit="plans/s"),
    ]


# -- the instrumented report ------------------------------------------------------------

def _instrumented_loop(tf, d):
    """Run the GAN program once, timing every plan build; returns (total s, [(label, n_ops, s)])."""
    builds = []

    def on_session(sess):
        make = sess._make_plan

        def timed(elements, feed_tensors, feed_values):
            t0 = time.perf_counter()
            plan = make(elements, feed_tensors, feed_values)
            dt = time.perf_counter() - t0
            label = "train" if feed_tensors else "noise" if any(hasattr(e, "op") for e in elements) else "init"
            builds.append((label, len(plan.ops), dt))
            return plan
        sess._make_plan = timed

    batches = _real_batches(d)
    t0 = time.perf_counter()
    gan_loop(tf, d, batches, on_session)
    return time.perf_counter() - t0, builds


def report(d, file=None):
    import nbflow as tf

    file = file or sys.stdout
    gan_loop(tf, dict(d, iterations=2), _real_batches(d))  # load the kernels first
    total, builds = _instrumented_loop(tf, d)
    planning = sum(dt for _, _, dt in builds)
    runs = 1 + 2 * d["iterations"]
    print("planning/gan-loop: %d iterations, %d Session.run calls, total %.3f s (graph, session, loop)"
          % (d["iterations"], runs, total), file=file)
    print("  new plans built: %d (%.0f%% of the runs)" % (len(builds), 100.0 * len(builds) / runs), file=file)
    print("  planning: %.3f s in all, %.1f%% of the program; %.2f ms per new plan" % (
        planning, 100 * planning / total, 1e3 * planning / max(len(builds), 1)), file=file)
    for label in ("train", "noise", "init"):
        sel = [(n, dt) for lab, n, dt in builds if lab == label]
        if sel:
            print("    %-5s fetch set: %3d plans of %3d ops, %.2f ms each (median), %.3f s in all" % (
                label, len(sel), sel[-1][0], 1e3 * statistics.median(dt for _, dt in sel),
                sum(dt for _, dt in sel)), file=file)
    step, close = _nbflow_new_fetch()
    times = []
    for _ in range(30 if d["iterations"] < 200 else 100):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    n_graph = len(step.session.graph.get_operations())
    n_plan = len(step.session.plan_for(step.fetches, step.feeds).ops)
    close()
    print("planning/new-fetch: a new fetch set on a %d-op graph (%d ops in its plan): %.2f ms per plan "
          "(median of %d, min %.2f ms)" % (n_graph, n_plan, 1e3 * statistics.median(times), len(times),
                                          1e3 * min(times)), file=file)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.planning", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 iterations, smaller layers")
    ap.add_argument("--iterations", type=int, default=None, help="loop iterations (default 200; 20 with --quick)")
    args = ap.parse_args(argv)
    d = gan_dims(args.quick)
    if args.iterations:
        d["iterations"] = args.iterations
    report(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
