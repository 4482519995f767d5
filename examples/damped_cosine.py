#!/usr/bin/env python
"""The course's first example: a damped cosine and its derivative, as a graph.

    y(t)    = A * exp(-b t) * cos(w t)
    dy/dt   = -A * exp(-b t) * (b cos(w t) + w sin(w t))

We build y from tf ops on a placeholder t, evaluate it with Session.run, ask
tf.gradients for dy/dt and compare it with the analytic derivative above.

    python examples/damped_cosine.py            # 1,000 points
    python examples/damped_cosine.py --fast     # 50 points
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402

import nbflow as tf  # noqa: E402

A, B, W = 2.0, 0.5, 3.0  # amplitude, damping, angular frequency


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=None, help="number of sample points (default 1000; 50 with --fast)")
    p.add_argument("--fast", action="store_true", help="a quick run with few points")
    args = p.parse_args(argv)
    n = args.points or (50 if args.fast else 1000)

    # 1. Build the graph: nothing is computed yet.
    t = tf.placeholder(tf.float64, shape=[None], name="t")
    y = A * tf.exp(-B * t) * tf.cos(W * t)
    dy_dt, = tf.gradients(y, t)  # d(sum y)/dt = dy/dt element-wise, since y[i] depends only on t[i]

    # 2. Run it.
    t_values = np.linspace(0.0, 10.0, n)
    with tf.Session() as sess:
        y_val, dy_val = sess.run([y, dy_dt], feed_dict={t: t_values})

    # 3. Compare with numpy and with the analytic derivative.
    y_ref = A * np.exp(-B * t_values) * np.cos(W * t_values)
    dy_ref = -A * np.exp(-B * t_values) * (B * np.cos(W * t_values) + W * np.sin(W * t_values))
    for i in range(0, n, max(1, n // 5)):
        print("t=%6.3f  y=%+.6f  dy/dt=%+.6f  (analytic %+.6f)" % (t_values[i], y_val[i], dy_val[i], dy_ref[i]))
    err_y = float(np.max(np.abs(y_val - y_ref)))
    err_dy = float(np.max(np.abs(dy_val - dy_ref)))
    print("max abs error of y: %.3e" % err_y)
    print("max abs error of dy/dt: %.3e" % err_dy)
    return err_dy


if __name__ == "__main__":
    main()
