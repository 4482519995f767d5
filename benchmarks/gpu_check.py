"""GPU benchmarks for a machine with an NVIDIA GPU (run by benchmarks/gpu_check.sh).

Prints one table:
- fused element-wise chain over 100M float32 (the generated kernel on device
  arrays) against a device-to-device copy of the same bytes (bandwidth bound);
- the tiled matmul at 4096^2 against PyTorch CUDA (when installed);
- an MLP training step (784-256-10, batch 128) through a Session on /gpu:0
  (variables and updates soft-placed on the host in this first step) vs /cpu:0.
Written without access to a GPU (issue #12): correct by construction, unmeasured.
"""
import time

import numpy as np


def timed(fn, sync, repeat=5):
    fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    import nbflow as tf
    from numba import cuda
    from nbflow.kernels.cuda import elementwise as ew, linalg
    if not tf.test.is_gpu_available():
        raise SystemExit("no GPU")
    sync = cuda.synchronize
    rows = []

    n = 100_000_000
    x = cuda.to_device(np.linspace(-3, 3, n, dtype=np.float32))
    y = cuda.device_array(n, np.float32)
    stmts = ["t0 = np.float32(x0 * np.float32(2) + np.float32(1))",
             "t1 = np.float32(t0 if t0 > np.float32(0) else np.float32(0))",
             "t2 = np.float32(t1 * math.tanh(x0))"]
    k, pats = ew.get_kernel(stmts, ["t2"], [np.float32], [(n,)], [np.float32], (n,))
    launch = ew.launcher(k, [(n,)], pats, (n,))
    t_fused = timed(lambda: launch((x,), (y,)), sync)
    t_copy = timed(lambda: y.copy_to_device(x), sync)
    gbs = lambda t: 2 * 4 * n / t / 1e9  # noqa: E731  (read + write)
    rows.append(("fused chain 100M f32 (3 ops)", t_fused, "%.0f GB/s" % gbs(t_fused)))
    rows.append(("device-to-device copy 100M f32", t_copy, "%.0f GB/s" % gbs(t_copy)))
    del x, y

    m = 4096
    a = cuda.to_device(np.random.rand(m, m).astype(np.float32))
    b = cuda.to_device(np.random.rand(m, m).astype(np.float32))
    c = cuda.device_array((m, m), np.float32)
    kmm = linalg.get_kernel(np.float32)
    blocks, threads = linalg.grid(m, m)
    t_mm = timed(lambda: kmm[blocks, threads](a.reshape(m * m), b.reshape(m * m), c.reshape(m * m),
                                              m, m, m, m, 1, m, 1), sync, repeat=3)
    rows.append(("matmul 4096^2 f32 (16x16 tiles)", t_mm, "%.1f TFLOP/s" % (2 * m ** 3 / t_mm / 1e12)))
    try:
        import torch
        if torch.cuda.is_available():
            ta, tb = torch.rand(m, m, device="cuda"), torch.rand(m, m, device="cuda")
            t_t = timed(lambda: ta @ tb, torch.cuda.synchronize, repeat=3)
            rows.append(("  PyTorch CUDA matmul 4096^2", t_t, "%.1f TFLOP/s" % (2 * m ** 3 / t_t / 1e12)))
    except ImportError:
        rows.append(("  PyTorch CUDA matmul", float("nan"), "torch not installed"))
    del a, b, c

    xs = np.random.rand(128, 784).astype(np.float32)
    ys = np.random.randint(0, 10, 128).astype(np.int32)
    for dev in ("/cpu:0", "/gpu:0"):
        g = tf.Graph()
        with g.as_default(), tf.device(dev):
            xp, yp = tf.placeholder(tf.float32, [128, 784]), tf.placeholder(tf.int32, [128])
            w1 = tf.Variable(tf.random_normal([784, 256], stddev=0.05))
            w2 = tf.Variable(tf.random_normal([256, 10], stddev=0.05))
            h = tf.nn.relu(tf.matmul(xp, w1))
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yp, logits=tf.matmul(h, w2)))
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
            with tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True)) as sess:
                sess.run(tf.global_variables_initializer())
                t = timed(lambda: sess.run(step, {xp: xs, yp: ys}), sync, repeat=20)
        rows.append(("MLP step 784-256-10 b128 on %s" % dev, t, "(soft placement)" if dev == "/gpu:0" else ""))

    print("%-40s %12s  %s" % ("benchmark", "time (ms)", ""))
    for name, t, note in rows:
        print("%-40s %12.3f  %s" % (name, t * 1e3, note))


if __name__ == "__main__":
    main()
