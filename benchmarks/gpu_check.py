"""GPU benchmarks for a machine with an NVIDIA GPU (run by benchmarks/gpu_check.sh).

Prints one table, ratios within one run:
- fused element-wise chain over 100M float32 (the generated kernel on device
  arrays) against a device-to-device copy of the same bytes (bandwidth bound);
- the tiled matmul at 4096^2 against PyTorch CUDA (when installed);
- softmax over (4096, 1000) float32 (the row kernel) against PyTorch CUDA;
- an MLP training step (784-512-512-10, batch 128, Adam) through a Session on
  /gpu:0 -- variables, forward, backward, cross-entropy and the ApplyAdam
  updates all on the device (the plan's copies are counted: the two feeds and
  the loss) -- against /cpu:0 and PyTorch CUDA;
- a LeNet-style conv step (conv 5x5x32, pool, conv 5x5x64, pool, dense,
  batch 64, Adam) on /gpu:0 against /cpu:0.
``--tiny`` runs every piece at toy sizes (the script's own check; it also runs
under the CUDA simulator). Written without access to a GPU (issue #12): correct
by construction and checked under the simulator, its figures unmeasured.
"""
import argparse
import time

import numpy as np


REPEAT = [5]


def timed(fn, sync, repeat=None):
    repeat = min(repeat or REPEAT[0], REPEAT[0])
    fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def bench_kernels(rows, sync, tiny):
    from numba import cuda
    from nbflow.kernels.cuda import elementwise as ew, linalg, nn
    torch = _torch()
    n = 512 if tiny else 100_000_000
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
    rows.append(("fused chain %d f32 (3 ops)" % n, t_fused, "%.0f GB/s, %.0f%% of the copy" % (
        gbs(t_fused), 100 * t_copy / t_fused)))
    rows.append(("device-to-device copy %d f32" % n, t_copy, "%.0f GB/s" % gbs(t_copy)))
    del x, y

    m = 16 if tiny else 4096
    a = cuda.to_device(np.random.rand(m, m).astype(np.float32))
    b = cuda.to_device(np.random.rand(m, m).astype(np.float32))
    c = cuda.device_array((m, m), np.float32)
    kmm = linalg.get_kernel(np.float32)
    blocks, threads = linalg.grid(m, m)
    t_mm = timed(lambda: kmm[blocks, threads](a.reshape(m * m), b.reshape(m * m), c.reshape(m * m),
                                              m, m, m, m, 1, m, 1), sync, repeat=3)
    rows.append(("matmul %d^2 f32 (16x16 tiles)" % m, t_mm, "%.1f TFLOP/s" % (2 * m ** 3 / t_mm / 1e12)))
    if torch is not None:
        ta, tb = torch.rand(m, m, device="cuda"), torch.rand(m, m, device="cuda")
        t_t = timed(lambda: ta @ tb, torch.cuda.synchronize, repeat=3)
        rows.append(("  PyTorch CUDA matmul %d^2" % m, t_t, "%.1f TFLOP/s; tiled/torch %.1fx" % (
            2 * m ** 3 / t_t / 1e12, t_mm / t_t)))
    del a, b, c

    r, n_cls = (4, 40) if tiny else (4096, 1000)
    logits = cuda.to_device(np.random.randn(r, n_cls).astype(np.float32))
    out = cuda.device_array((r, n_cls), np.float32)
    ksm = nn.get_kernel("softmax", np.float32)
    t_sm = timed(lambda: ksm[nn.blocks_for(r), nn.THREADS](logits.reshape(r * n_cls), out.reshape(r * n_cls),
                                                           r, n_cls, 0), sync)
    rows.append(("softmax (%d, %d) f32" % (r, n_cls), t_sm, "%.0f GB/s" % (2 * 4 * r * n_cls / t_sm / 1e9)))
    if torch is not None:
        tl = torch.randn(r, n_cls, device="cuda")
        t_t = timed(lambda: torch.softmax(tl, dim=1), torch.cuda.synchronize)
        rows.append(("  PyTorch CUDA softmax", t_t, "ours/torch %.2fx" % (t_sm / t_t)))


def _train_step(tf, dev, build, feeds_np, sync, repeat):
    """(seconds per step, number of copies in the GPU plan) of one Adam training step."""
    g = tf.Graph()
    with g.as_default(), tf.device(dev):
        tf.set_random_seed(0)
        placeholders, loss = build(tf)
        step = tf.train.AdamOptimizer(1e-3).minimize(loss)
        init = tf.global_variables_initializer()
    feeds = dict(zip(placeholders, feeds_np))
    with tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        sess.run(init)
        t = timed(lambda: sess.run([loss, step], feeds), sync, repeat=repeat)
        text = tf.explain([loss, step], feeds, file=False)
    copies = sum("transfer " in ln for ln in text.split("Steps:")[1].splitlines())
    return t, copies


def bench_training(rows, sync, tiny):
    import nbflow as tf
    torch = _torch()
    b, d, h, k = (4, 8, 6, 3) if tiny else (128, 784, 512, 10)
    xs = np.random.rand(b, d).astype(np.float32)
    ys = np.random.randint(0, k, b).astype(np.int32)

    def mlp(tf):
        x, y = tf.placeholder(tf.float32, [b, d]), tf.placeholder(tf.int32, [b])
        w1 = tf.Variable(tf.random_normal([d, h], stddev=0.05))
        w2 = tf.Variable(tf.random_normal([h, h], stddev=0.05))
        w3 = tf.Variable(tf.random_normal([h, k], stddev=0.05))
        b1, b2 = tf.Variable(tf.zeros([h])), tf.Variable(tf.zeros([h]))
        hid = tf.nn.relu(tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2) + b2)
        return [x, y], tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                                    logits=tf.matmul(hid, w3)))
    for dev in ("/cpu:0", "/gpu:0"):
        t, copies = _train_step(tf, dev, mlp, [xs, ys], sync, 1 if tiny else 20)
        note = "%.0f steps/s" % (1 / t) + ("; %d copies per step (2 feeds, the loss)" % copies
                                           if dev == "/gpu:0" else "")
        rows.append(("MLP %d-%d-%d-%d b%d Adam on %s" % (d, h, h, k, b, dev), t, note))
    if torch is not None:
        net = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, h), torch.nn.ReLU(),
                                  torch.nn.Linear(h, k)).cuda()
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        tx, ty = torch.from_numpy(xs).cuda(), torch.from_numpy(ys).long().cuda()

        def step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(tx), ty).backward()
            opt.step()
        t = timed(step, torch.cuda.synchronize, repeat=20)
        rows.append(("  PyTorch CUDA MLP step", t, "%.0f steps/s" % (1 / t)))

    bs, side, ch1, ch2 = (1, 8, 2, 3) if tiny else (64, 28, 32, 64)
    imgs = np.random.rand(bs, side, side, 1).astype(np.float32)
    lab = np.random.randint(0, 10, bs).astype(np.int32)

    def lenet(tf):
        x, y = tf.placeholder(tf.float32, [bs, side, side, 1]), tf.placeholder(tf.int32, [bs])
        c1 = tf.Variable(tf.truncated_normal([5, 5, 1, ch1], stddev=0.1))
        c2 = tf.Variable(tf.truncated_normal([5, 5, ch1, ch2], stddev=0.1))
        p1 = tf.nn.max_pool(tf.nn.relu(tf.nn.conv2d(x, c1, [1, 1, 1, 1], "SAME")), [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        p2 = tf.nn.max_pool(tf.nn.relu(tf.nn.conv2d(p1, c2, [1, 1, 1, 1], "SAME")), [1, 2, 2, 1], [1, 2, 2, 1],
                            "SAME")
        flat = tf.reshape(p2, [bs, -1])
        w = tf.Variable(tf.truncated_normal([int(flat.shape[1]), 10], stddev=0.05))
        logits = tf.matmul(tf.nn.dropout(flat, rate=0.5), w)
        return [x, y], tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    for dev in ("/cpu:0", "/gpu:0"):
        t, copies = _train_step(tf, dev, lenet, [imgs, lab], sync, 1 if tiny else 10)
        rows.append(("LeNet-style b%d Adam on %s" % (bs, dev), t, "%.0f steps/s" % (1 / t) + (
            "; %d copies per step" % copies if dev == "/gpu:0" else "")))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="toy sizes (checks the script; runs under the simulator)")
    args = ap.parse_args(argv)
    if args.tiny:
        REPEAT[0] = 1
    import nbflow as tf
    from numba import cuda
    if not tf.test.is_gpu_available():
        raise SystemExit("no GPU")
    sync = cuda.synchronize
    rows = []
    bench_kernels(rows, sync, args.tiny)
    bench_training(rows, sync, args.tiny)
    from numba import config
    dev = "the CUDA simulator" if config.ENABLE_CUDASIM else cuda.get_current_device().name
    print("device: %s" % (dev.decode() if isinstance(dev, bytes) else dev))
    print("%-44s %12s  %s" % ("benchmark", "time (ms)", ""))
    for name, t, note in rows:
        print("%-44s %12.3f  %s" % (name, t * 1e3, note))


if __name__ == "__main__":
    main()
