#!/usr/bin/env python
"""Train a character-level LSTM language model with nbflow's TensorFlow 1.x API, and sample text from it.

    python examples/char_rnn.py                       # the bundled Devil's Dictionary, 2,000 steps
    python examples/char_rnn.py --iterations 5000     # longer: better text
    python examples/char_rnn.py --text book.txt       # any text file (.gz too)
    python examples/char_rnn.py --rnn static          # tf.nn.static_rnn (40 unrolled cells) instead
    python examples/char_rnn.py --fast                # a smoke run of a few seconds

The setup of the classic Keras / TensorFlow char-RNN examples: the text
(lowercased) is cut into 40-character windows every 3 characters; the model
reads a window as one-hot vectors and predicts the character that follows it:

    one_hot(window) -> BasicLSTMCell(128) over tf.nn.dynamic_rnn -> last output
    -> dense to the vocabulary -> softmax cross-entropy

trained with Adam (learning rate 0.01) on shuffled mini-batches of 128 windows
(2,000 steps by default: about 2.5 minutes on 2 cores, loss ~1.75 nats).
At the start it prints the text's unigram character entropy -- the loss of a
model that knows only how often each character occurs (in nats, like the
loss) -- and while training the running loss, which must fall well below it.
Every ``--sample-every`` iterations it generates text from a seed window at
temperatures 0.2, 0.5 and 1.0 (low: safe and repetitive, 1.0: the model's own
distribution); one batched run of the model per generated character, over the
last 40 characters.
"""
import os
import time

_PROCESS_START = time.time()  # before nbflow's import, so the total includes it

# One BLAS thread unless you say otherwise (set OPENBLAS_NUM_THREADS to override), as in
# examples/mnist.py: the products here are small ([128, 185] x [185, 512]), a second
# thread gains little, and on a shared machine OpenBLAS's spinning threads stall.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

import nbflow as tf  # noqa: E402
from nbflow.datasets import text as text_data  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--text", default=None,
                   help="train on this text file (UTF-8 or latin-1, may be .gz) instead of the bundled "
                        "Devil's Dictionary")
    p.add_argument("--iterations", type=int, default=None, help="training steps (default 2000; 40 with --fast)")
    p.add_argument("--batch-size", type=int, default=None, help="windows per step (default 128; 32 with --fast)")
    p.add_argument("--hidden", type=int, default=None, help="LSTM units (default 128; 32 with --fast)")
    p.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate")
    p.add_argument("--maxlen", type=int, default=40, help="characters per window (time steps)")
    p.add_argument("--step", type=int, default=3, help="a window starts every STEP characters")
    p.add_argument("--rnn", choices=["dynamic", "static"], default="dynamic",
                   help="tf.nn.dynamic_rnn (one While op) or tf.nn.static_rnn (the cell unrolled MAXLEN times)")
    p.add_argument("--sample-every", type=int, default=None,
                   help="generate text every N iterations, and after the last (default 400; 20 with --fast; "
                        "0: only after the last)")
    p.add_argument("--sample-length", type=int, default=None,
                   help="characters generated per temperature (default 300; 30 with --fast)")
    p.add_argument("--temperatures", type=float, nargs="+", default=[0.2, 0.5, 1.0],
                   help="sampling temperatures")
    p.add_argument("--log-every", type=int, default=None, help="print the running loss every N iterations "
                   "(default 50; 10 with --fast)")
    p.add_argument("--keep-case", action="store_true", help="do not lowercase the text")
    p.add_argument("--seed", type=int, default=0, help="seed for initialization, batches and sampling")
    p.add_argument("--fast", action="store_true",
                   help="a smoke run of a few seconds: 40 iterations, batch 32, 32 units, the first 20,000 "
                        "characters")
    args = p.parse_args(argv)
    fast = args.fast
    defaults = dict(iterations=(40, 2000), batch_size=(32, 128), hidden=(32, 128), sample_every=(20, 400),
                    sample_length=(30, 300), log_every=(10, 50))
    for name, (small, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, small if fast else full)
    if min(args.iterations, args.batch_size, args.hidden, args.maxlen, args.step, args.log_every) < 1:
        p.error("--iterations, --batch-size, --hidden, --maxlen, --step and --log-every must be positive")
    if args.sample_every < 0 or args.sample_length < 0:
        p.error("--sample-every and --sample-length must not be negative")
    if any(t <= 0 for t in args.temperatures):
        p.error("--temperatures must be positive")
    if args.text is not None and not os.path.isfile(args.text):
        p.error("--text: no such file: %s" % args.text)
    return args


# -- data -----------------------------------------------------------------------------

class CharData:
    """The text as character ids, and the start of every training window."""

    def __init__(self, text, maxlen, step):
        self.text = text
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.ids = np.array([self.index[c] for c in text], dtype=np.int32)
        self.maxlen = maxlen
        # window i is ids[s:s + maxlen], its target ids[s + maxlen], for s in range(0, n - maxlen, step)
        self.starts = np.arange(0, len(text) - maxlen, step)
        if len(self.starts) == 0:
            raise ValueError("the text has %d characters: it needs more than --maxlen (%d)" % (len(text), maxlen))
        self._offsets = np.arange(maxlen)

    @property
    def vocab_size(self):
        return len(self.chars)

    def unigram_entropy(self):
        """Entropy of the character frequencies, in nats."""
        counts = np.bincount(self.ids, minlength=self.vocab_size).astype(np.float64)
        p = counts[counts > 0] / counts.sum()
        return float(-(p * np.log(p)).sum())

    def batch(self, starts):
        """(windows [batch, maxlen] int32, next characters [batch] int32)."""
        windows = self.ids[starts[:, None] + self._offsets]
        return windows, self.ids[starts + self.maxlen]

    def encode(self, s):
        return np.array([self.index[c] for c in s], dtype=np.int32)

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


class Batches:
    """Shuffled mini-batches of windows, reshuffled every epoch."""

    def __init__(self, data, batch_size, rng):
        self.data, self.batch_size, self.rng = data, batch_size, rng
        self.order, self.pos = rng.permutation(len(data.starts)), 0

    def next(self):
        if self.pos + self.batch_size > len(self.order):
            self.order, self.pos = self.rng.permutation(len(self.data.starts)), 0
        picked = self.data.starts[self.order[self.pos:self.pos + self.batch_size]]
        self.pos += self.batch_size
        return self.data.batch(picked)


# -- the model ------------------------------------------------------------------------

def build_model(vocab_size, maxlen, hidden, lr, rnn):
    """The training graph; returns a dict of its tensors and ops."""
    windows = tf.placeholder(tf.int32, [None, maxlen], name="windows")
    targets = tf.placeholder(tf.int32, [None], name="next_char")
    inputs = tf.one_hot(windows, vocab_size, dtype=tf.float32)  # [batch, maxlen, vocab]
    cell = tf.nn.rnn_cell.BasicLSTMCell(hidden)
    if rnn == "dynamic":
        _, state = tf.nn.dynamic_rnn(cell, inputs, dtype=tf.float32)
    else:
        _, state = tf.nn.static_rnn(cell, tf.unstack(inputs, num=maxlen, axis=1), dtype=tf.float32)
    last = state.h  # the output at the last step, [batch, hidden]
    logits = tf.layers.dense(last, vocab_size, name="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits),
                          name="loss")
    train_op = tf.train.AdamOptimizer(lr).minimize(loss)
    return {"windows": windows, "targets": targets, "loss": loss, "train": train_op,
            "log_probs": tf.nn.log_softmax(logits)}


def sample_next(log_probs, temperature, rng):
    """One draw per row from softmax(log_probs / temperature)."""
    z = log_probs.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random((p.shape[0], 1))
    return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)


def generate(sess, model, data, seed_text, temperatures, length, rng):
    """Text following ``seed_text`` at each temperature: {temperature: generated string}.

    All temperatures run as one batch: one ``sess.run`` per generated character."""
    k = len(temperatures)
    windows = np.tile(data.encode(seed_text), (k, 1))
    generated = [[] for _ in range(k)]
    for _ in range(length):
        log_probs = sess.run(model["log_probs"], {model["windows"]: windows})
        nxt = np.array([sample_next(log_probs[i:i + 1], t, rng)[0] for i, t in enumerate(temperatures)],
                       dtype=np.int32)
        for i in range(k):
            generated[i].append(nxt[i])
        windows = np.concatenate([windows[:, 1:], nxt[:, None]], axis=1)
    return {t: data.decode(g) for t, g in zip(temperatures, generated)}


def print_samples(sess, model, data, args, rng, iteration):
    start = int(rng.integers(0, len(data.text) - args.maxlen))
    seed_text = data.text[start:start + args.maxlen]
    t0 = time.time()
    samples = generate(sess, model, data, seed_text, args.temperatures, args.sample_length, rng)
    print("--- samples after %d iterations, seed: %r" % (iteration, seed_text))
    for t, s in samples.items():
        print("[temperature %.1f] %s%s" % (t, seed_text, s))
    print("--- (%.1f s)" % (time.time() - t0), flush=True)
    return samples


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    if args.text:
        raw = text_data.load_text(args.text, lowercase=not args.keep_case)
        source = args.text
    else:
        raw = text_data.load_devils_dictionary(lowercase=not args.keep_case)
        source = "The Devil's Dictionary (bundled)"
    if args.fast:
        raw = raw[:20000]
    data = CharData(raw, args.maxlen, args.step)
    entropy = data.unigram_entropy()
    print("text: %s, %d characters, %d distinct; %d windows of %d (every %d)"
          % (source, len(raw), data.vocab_size, len(data.starts), args.maxlen, args.step))
    print("unigram character entropy: %.3f nats (the loss of a model that knows only character frequencies; "
          "uniform guessing: %.3f)" % (entropy, math.log(data.vocab_size)))

    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(args.seed)
        model = build_model(data.vocab_size, args.maxlen, args.hidden, args.lr, args.rnn)
        init = tf.global_variables_initializer()
    print("model: one-hot(%d) -> BasicLSTMCell(%d) over tf.nn.%s_rnn (%d steps) -> dense(%d); Adam lr %g, "
          "batch %d" % (data.vocab_size, args.hidden, args.rnn, args.maxlen, data.vocab_size, args.lr,
                        args.batch_size), flush=True)

    batches = Batches(data, args.batch_size, rng)
    losses, window = [], []
    samples = {}
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        fetches = [model["train"], model["loss"]]
        t_start = time.time()
        t_log, it_log = t_start, 0
        first_step_s = None
        for it in range(1, args.iterations + 1):
            x, y = batches.next()
            t = time.time()
            loss = float(sess.run(fetches, {model["windows"]: x, model["targets"]: y})[1])
            if first_step_s is None:
                first_step_s = time.time() - t
                t_log, it_log = time.time(), it
            losses.append(loss)
            window.append(loss)
            if it % args.log_every == 0 or it == args.iterations:
                now = time.time()
                per_step = (now - t_log) / max(it - it_log, 1)
                print("iteration %5d/%d  loss %.4f (mean of the last %d)  %.1f ms/step"
                      % (it, args.iterations, float(np.mean(window)), len(window), per_step * 1e3), flush=True)
                window, t_log, it_log = [], now, it
            if args.sample_every and it % args.sample_every == 0 and it != args.iterations:
                pause = time.time()
                print_samples(sess, model, data, args, rng, it)
                paused = time.time() - pause
                t_start += paused
                t_log += paused
        train_s = time.time() - t_start
        samples = print_samples(sess, model, data, args, rng, args.iterations)

    tail = losses[-min(len(losses), 50):]
    final = float(np.mean(tail))
    print("first loss %.4f, final loss %.4f (mean of the last %d iterations); unigram entropy %.3f nats"
          % (losses[0], final, len(tail), entropy))
    print("trained %d iterations in %.1f s (%.1f ms/step, the first step %.1f s incl. compiling); total run %.1f s"
          % (args.iterations, train_s, 1e3 * train_s / args.iterations, first_step_s,
             time.time() - _PROCESS_START))
    return {"losses": losses, "final_loss": final, "entropy": entropy, "samples": samples}


if __name__ == "__main__":
    main()
    sys.exit(0)
