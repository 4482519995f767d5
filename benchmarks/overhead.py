"""Session.run overhead: what one call on a tiny graph costs.

* ``overhead/feed``:   x = placeholder(float32, []); y = x * 2.0 + 1.0;
  ``sess.run(y, feed_dict={x: 3.0})`` (a Python float, as scripts write it).
* ``overhead/nofeed``: v = Variable(1.0); r = v + 1.0; ``sess.run(r)``.

The numpy and PyTorch rows compute the same scalar directly; they show the
floor a framework call is compared with, not a like-for-like workload.
"""
import numpy as np

from benchmarks.harness import Case, Impl, Target, nbflow_session, torch_or_skip

TARGET_US = 20.0


def _nbflow_feed():
    def build(tf):
        x = tf.placeholder(tf.float32, [], name="x")
        return x, x * 2.0 + 1.0

    tf, g, sess, (x, y) = nbflow_session(build)
    run = sess.run

    def step():
        return run(y, feed_dict={x: 3.0})
    step.session, step.fetches, step.feeds = sess, y, {x: 3.0}  # for benchmarks.plan_profile
    return step, sess.close


def _nbflow_nofeed():
    def build(tf):
        v = tf.Variable(1.0, name="v")
        return v, v + 1.0, tf.global_variables_initializer()

    tf, g, sess, (v, r, init) = nbflow_session(build)
    sess.run(init)
    run = sess.run

    def step():
        return run(r)
    step.session, step.fetches, step.feeds = sess, r, None
    return step, sess.close


def _numpy_feed():
    two, one = np.float32(2.0), np.float32(1.0)

    def step():
        return np.float32(3.0) * two + one
    return step


def _numpy_nofeed():
    v = np.array(1.0, dtype=np.float32)
    one = np.float32(1.0)

    def step():
        return v + one
    return step


def _torch_feed():
    torch = torch_or_skip()

    def step():
        with torch.no_grad():
            return (torch.tensor(3.0) * 2.0 + 1.0).item()
    return step


def _torch_nofeed():
    torch = torch_or_skip()
    v = torch.tensor(1.0)

    def step():
        with torch.no_grad():
            return (v + 1.0).item()
    return step


def cases(quick):
    return [
        Case("overhead/feed", "overhead", "Session.run of y = x*2+1 on a fed float32 scalar",
             [Impl("nbflow", _nbflow_feed), Impl("numpy", _numpy_feed), Impl("torch", _torch_feed)],
             unit="calls/s", targets=[Target("nbflow", "Session.run overhead with a feed", max_us=TARGET_US)]),
        Case("overhead/nofeed", "overhead", "Session.run of a variable read + add, no feed",
             [Impl("nbflow", _nbflow_nofeed), Impl("numpy", _numpy_nofeed), Impl("torch", _torch_nofeed)],
             unit="calls/s", targets=[Target("nbflow", "Session.run overhead without feeds", max_us=TARGET_US)]),
    ]
