"""The parameter-server mode in real MPI jobs (``mpiexec -n 2..4 python -m mpi4py``), time-limited.

- examples/distributed_mnist.py --ps 2 --workers 2 reaches >= 95% held-out, and the chief's
  checkpoint restores into a 1-process run with the same accuracy;
- asynchronous SGD from two workers loses no update (each segment runs whole on the ps), the
  global step is shared, slots live on the ps, non-chief workers wait for the chief's init;
- an OpError raised on the ps reaches the worker with its class;
- a SIGKILLed worker or ps ends the job within 30 s; a wrong ``mpiexec -n`` is a clear error.
"""
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("mpi4py", reason="needs mpi4py: pip install nbflow[mpi]")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_distribute_mpi import EXAMPLE, FAULT_LIMIT, _launch, _run  # noqa: E402

PS_LIMIT = 150  # a 4-rank job with cold compiles on a loaded 2-core machine


def _accuracy(out, prefix="accuracy"):
    lines = [line for line in out.splitlines() if line.startswith(prefix + " ")]
    assert lines, out
    return float(lines[-1].split()[-1])


def test_ps_example_reaches_95_percent_and_its_checkpoint_restores(tmp_path):
    ckpt = tmp_path / "model"
    rc, out, _ = _launch(4, EXAMPLE, "--ps", "2", "--workers", "2", "--checkpoint", ckpt, timeout=PS_LIMIT)
    assert rc == 0, out
    acc = _accuracy(out)
    assert acc >= 0.95, out
    assert "worker 0:" in out and "worker 1:" in out
    rc1, out1, _ = _run([sys.executable, str(EXAMPLE), "--restore", str(ckpt)])
    assert rc1 == 0, out1
    assert _accuracy(out1, "restored accuracy") == acc


ASYNC = """
import json, os, sys, time
import numpy as np
import nbflow as tf
cluster = tf.train.ClusterSpec({"ps": ["ps0:2222", "ps1:2222"], "worker": ["w0:2222", "w1:2222"]})
job, task = tf.train.task_for_rank(cluster)
server = tf.train.Server(cluster, job_name=job, task_index=task)
if job == "ps":
    server.join()
    sys.stdout.write("ps %d served\\n" % task)  # one write: ranks share the output pipe
    sys.stdout.flush()
    sys.exit(0)
with tf.device(tf.train.replica_device_setter(cluster=cluster, worker_device="/job:worker/task:%d" % task)):
    a = tf.Variable(np.zeros(5, np.float32), name="a")
    b = tf.Variable(np.ones((2, 3), np.float64), name="b")
    never = tf.Variable(1.0, name="never_initialized", collections=[])
    step = tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float32, [5])
    loss = tf.reduce_sum(a * x) + tf.cast(tf.reduce_sum(b), tf.float32)
    opt = tf.train.MomentumOptimizer(0.0, 0.0)  # the slots are what is checked here
    sgd = tf.train.GradientDescentOptimizer(0.5)
    train = tf.group(sgd.minimize(loss, global_step=step), opt.minimize(loss))
with tf.device("/job:ps/task:1"):
    finished = tf.Variable(0, name="finished", collections=[])
    finish = finished.assign_add(1)
devices = {v.op.name: v.device for v in tf.global_variables() + [never]}
ready = [tf.is_variable_initialized(v) for v in tf.global_variables() + [finished]]
polling = os.path.join(os.environ["RESULT_DIR"], "worker-1-polls")
with tf.Session(server.target) as sess:
    if task == 0:
        deadline = time.time() + 60
        while not os.path.exists(polling) and time.time() < deadline:
            time.sleep(0.05)  # initialize only once worker 1 is waiting
        sess.run([tf.global_variables_initializer(), finished.initializer])
    else:
        first = all(sess.run(ready))
        open(polling, "w").close()
        assert not first, "worker 1 found the variables initialized before the chief ran"
        while not all(sess.run(ready)):
            time.sleep(0.05)
    for i in range(40):
        sess.run(train, {x: np.ones(5, np.float32)})
    try:
        sess.run(never)
        error = None
    except tf.errors.FailedPreconditionError as e:
        error = e.message
    sess.run(finish)
    while sess.run(finished) < 2:  # both workers are done: the values are final
        time.sleep(0.05)
    out = {"devices": devices, "a": sess.run(a).tolist(), "b": sess.run(b).tolist(), "step": int(sess.run(step)),
           "error": error}
with open(os.path.join(os.environ["RESULT_DIR"], "worker-%d.json" % task), "w") as f:
    json.dump(out, f)
"""


def test_async_updates_from_two_workers_all_land_on_the_ps(tmp_path):
    script = tmp_path / "async_ps.py"
    script.write_text(ASYNC)
    rc, out, _ = _launch(4, script, timeout=PS_LIMIT, RESULT_DIR=str(tmp_path))
    assert rc == 0, out
    assert "ps 0 served" in out and "ps 1 served" in out
    results = [json.loads((tmp_path / ("worker-%d.json" % i)).read_text()) for i in range(2)]
    for r in results:
        # 2 workers x 40 steps of a -= 0.5 * 1 and b -= 0.5 * 1: no update lost
        assert r["a"] == [-40.0] * 5, r
        assert r["b"] == [[-39.0] * 3] * 2, r
        assert r["step"] == 80, r
        assert "uninitialized value never_initialized" in r["error"] and "/job:ps/task:" in r["error"]
        d = r["devices"]
        # round-robin in creation order: a, b, never, global_step; the slots beside their variables
        assert [d[k] for k in ("a", "b", "never_initialized", "global_step")] == \
            ["/job:ps/task:0", "/job:ps/task:1", "/job:ps/task:0", "/job:ps/task:1"]
        assert d["a/Momentum"] == d["a"] and d["b/Momentum"] == d["b"]


KILL = """
import os, signal, sys, time
import numpy as np
import nbflow as tf
cluster = tf.train.ClusterSpec({{"ps": ["ps0:1"], "worker": ["w0:1", "w1:1"]}})
job, task = tf.train.task_for_rank(cluster)
server = tf.train.Server(cluster, job_name=job, task_index=task)
victim = {victim!r}
if job == "ps":
    if victim == "ps":
        time.sleep(3.0)  # the workers are training by then
        print("FAULT_AT", time.time(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    server.join()
    sys.exit(0)
with tf.device("/job:ps/task:0"):
    w = tf.Variable(np.zeros(100, np.float32), name="w")
with tf.device("/job:worker/task:%d" % task):
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(w * w))
with tf.Session(server.target) as sess:
    sess.run(w.initializer)
    for step in range(10 ** 7):
        sess.run(train)
        if step == 50 and victim == "worker" and task == 1:
            print("FAULT_AT", time.time(), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
print("worker", task, "finished: the job should have been ended", flush=True)
"""


@pytest.mark.parametrize("victim", ["worker", "ps"])
def test_a_killed_task_ends_the_job_within_30_s(tmp_path, victim):
    script = tmp_path / "kill.py"
    script.write_text(KILL.format(victim=victim))
    rc, out, end = _launch(3, script, timeout=PS_LIMIT)
    at = [float(line.split()[1]) for line in out.splitlines() if line.startswith("FAULT_AT")]
    assert at, "the fault was never reached:\n" + out
    assert rc != 0, out
    assert end - at[0] < FAULT_LIMIT, "the job took %.1f s to end after the fault" % (end - at[0])
    assert "should have been ended" not in out
    assert "BAD TERMINATION" in out and "signal 9" in out


def test_a_cluster_larger_than_the_mpi_job_is_a_clear_error(tmp_path):
    script = tmp_path / "size.py"
    script.write_text("import nbflow as tf\n"
                      "cluster = tf.train.ClusterSpec({'ps': ['a:1'], 'worker': ['b:1', 'c:1']})\n"
                      "tf.train.Server(cluster, *tf.train.task_for_rank(cluster))\n")
    rc, out, _ = _launch(2, script, timeout=PS_LIMIT)
    assert rc != 0
    assert "the cluster has 3 tasks (ps: 1, worker: 2) but this MPI job has 2 rank(s)" in out
    assert "mpiexec -n 3" in out


MONITORED = """
import json, os, sys
import numpy as np
import nbflow as tf
cluster = tf.train.ClusterSpec({"ps": ["ps0:1"], "worker": ["w0:1", "w1:1"]})
job, task = tf.train.task_for_rank(cluster)
server = tf.train.Server(cluster, job_name=job, task_index=task)
if job == "ps":
    server.join()
    sys.exit(0)
with tf.device(tf.train.replica_device_setter(cluster=cluster, worker_device="/job:worker/task:%d" % task)):
    step = tf.train.get_or_create_global_step()
    w = tf.Variable(np.zeros(4, np.float32), name="w")
    train = tf.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(tf.square(w - 3.0)), global_step=step)
runs = 0
with tf.train.MonitoredTrainingSession(master=server.target, is_chief=task == 0,
                                       checkpoint_dir=os.environ["CKPT_DIR"] if task == 0 else None,
                                       hooks=[tf.train.StopAtStepHook(last_step=60)]) as sess:
    while not sess.should_stop():
        sess.run(train)
        runs += 1
sys.stdout.write("worker %d runs %d\\n" % (task, runs))  # one write: ranks share the output pipe
sys.stdout.flush()
"""

RESTORE = """
import os
import numpy as np
import nbflow as tf
step = tf.train.get_or_create_global_step()
w = tf.Variable(np.zeros(4, np.float32), name="w")
tf.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(tf.square(w - 3.0)), global_step=step)
with tf.Session() as sess:
    tf.train.Saver().restore(sess, tf.train.latest_checkpoint(os.environ["CKPT_DIR"]))
    print("RESTORED", int(sess.run(step)), float(sess.run(w)[0]), flush=True)
"""


def test_monitored_training_session_on_a_cluster_and_its_checkpoint_in_one_process(tmp_path):
    script = tmp_path / "monitored.py"
    script.write_text(MONITORED)
    rc, out, _ = _launch(3, script, timeout=PS_LIMIT, CKPT_DIR=str(tmp_path))
    assert rc == 0, out
    runs = {int(line.split()[1]): int(line.split()[3]) for line in out.splitlines() if line.startswith("worker ")}
    assert sorted(runs) == [0, 1] and runs[0] > 0 and runs[1] > 0, out
    assert 60 <= runs[0] + runs[1] <= 62, out  # each run one step; a worker may pass the mark once
    restore = tmp_path / "restore.py"
    restore.write_text(RESTORE)
    rc, out1, _ = _run([sys.executable, str(restore)], CKPT_DIR=str(tmp_path))
    assert rc == 0, out1
    line = [ln for ln in out1.splitlines() if ln.startswith("RESTORED")][0].split()
    assert int(line[1]) >= 60 and 0.5 < float(line[2]) < 4.5, out1  # Adam moved w from 0 toward 3


SYNC = """
import json, os, sys
import numpy as np
import nbflow as tf
cluster = tf.train.ClusterSpec({"ps": ["ps0:1"], "worker": ["w0:1", "w1:1"]})
job, task = tf.train.task_for_rank(cluster)
server = tf.train.Server(cluster, job_name=job, task_index=task)
if job == "ps":
    server.join()
    sys.exit(0)
with tf.device(tf.train.replica_device_setter(cluster=cluster, worker_device="/job:worker/task:%d" % task)):
    step = tf.train.get_or_create_global_step()
    w = tf.Variable(np.zeros(3, np.float32), name="w")
    x = tf.placeholder(tf.float32, [3])
    opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.5), replicas_to_aggregate=2,
                                         total_num_replicas=2)
    train = opt.minimize(tf.reduce_sum(w * x), global_step=step)
hooks = [opt.make_session_run_hook(task == 0), tf.train.StopAtStepHook(last_step=10)]
mine = np.full(3, 1.0 if task == 0 else 3.0, np.float32)  # the average gradient is 2
seen = []
with tf.train.MonitoredTrainingSession(master=server.target, is_chief=task == 0, hooks=hooks) as sess:
    while not sess.should_stop():
        sess.run(train, {x: mine})
        seen.append(sess.run(w).tolist())
sys.stdout.write("SYNC %d %s\\n" % (task, json.dumps(seen)))  # one write: ranks share the output pipe
sys.stdout.flush()
"""


def test_sync_replicas_applies_the_average_once_per_step(tmp_path):
    script = tmp_path / "sync.py"
    script.write_text(SYNC)
    rc, out, _ = _launch(3, script, timeout=PS_LIMIT)
    assert rc == 0, out
    seen = {int(ln.split()[1]): json.loads(ln.split(" ", 2)[2]) for ln in out.splitlines() if ln.startswith("SYNC")}
    assert sorted(seen) == [0, 1], out
    for task, values in seen.items():
        # after each synchronous step every worker sees w -= 0.5 * mean(1, 3): -1, -2, ..., -10
        assert values == [[-float(k)] * 3 for k in range(1, 11)], (task, values)


VALUES = """
import json, os
import numpy as np
import nbflow as tf
cluster = tf.train.ClusterSpec({"ps": ["a:1"], "worker": ["b:1"]})
job, task = tf.train.task_for_rank(cluster)
server = tf.train.Server(cluster, job, task)
if job == "ps":
    server.join()
else:
    with tf.device("/job:ps/task:0"):
        w = tf.Variable(np.zeros(3, np.float32), name="w")
        greeting = tf.constant("hello")
        x = tf.placeholder(tf.float32, [None])
        total = tf.reduce_sum(x) + tf.reduce_sum(w)
        count = tf.size(x)
    with tf.Session(server.target) as sess:
        w.load(np.array([1, 2, 3], np.float32), sess)  # a fed value crosses to the ps
        out = {"w": sess.run(w).tolist(), "greeting": sess.run(greeting).decode(),
               "totals": [[float(v) for v in sess.run([total, count], {x: np.ones(n, np.float32)})] for n in (2, 5)],
               "devices": sess.list_devices()}
    with open(os.path.join(os.environ["RESULT_DIR"], "values.json"), "w") as f:
        json.dump(out, f)
"""


def test_values_of_every_kind_cross_to_and_from_the_ps(tmp_path):
    script = tmp_path / "values.py"
    script.write_text(VALUES)
    rc, out, _ = _launch(2, script, timeout=PS_LIMIT, RESULT_DIR=str(tmp_path))
    assert rc == 0, out
    r = json.loads((tmp_path / "values.json").read_text())
    assert r["w"] == [1.0, 2.0, 3.0]
    assert r["greeting"] == "hello"  # a string travels in the header
    assert r["totals"] == [[8.0, 2.0], [11.0, 5.0]]  # a fed shape known only at run time, twice
    assert r["devices"] == ["/job:worker/replica:0/task:0/device:CPU:0", "/job:ps/replica:0/task:0/device:CPU:0"]


def test_ps_example_in_sync_mode_runs_the_workers_in_lockstep():
    rc, out, _ = _launch(3, EXAMPLE, "--ps", "1", "--workers", "2", "--sync", "--steps", "30", "--log-every", "10",
                         timeout=PS_LIMIT)
    assert rc == 0, out
    assert "worker 0: 30 steps" in out and "worker 1: 30 steps" in out, out
    assert "global step   30:" in out  # one global step per synchronous step of both workers
    assert _accuracy(out) > 0.5


REQUESTS = """
import json, os, sys
import numpy as np
import nbflow as tf
tf.set_random_seed(1)
local = os.environ.get("LOCAL") == "1"
if not local:
    cluster = tf.train.ClusterSpec({"ps": ["ps0:1", "ps1:1"], "worker": ["w0:1"]})
    job, task = tf.train.task_for_rank(cluster)
    server = tf.train.Server(cluster, job_name=job, task_index=task)
    if job == "ps":
        server.join()
        sys.exit(0)
    setter = tf.train.replica_device_setter(cluster=cluster, worker_device="/job:worker/task:0")
with tf.device(None if local else setter):
    step = tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float32, [8, 4])
    w0 = tf.get_variable("w0", [4, 6])
    b0 = tf.get_variable("b0", [6], initializer=tf.zeros_initializer())
    w1 = tf.get_variable("w1", [6, 1])
    loss = tf.reduce_sum(tf.square(tf.matmul(tf.nn.relu(tf.matmul(x, w0) + b0), w1)))
    train = tf.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
feed = {x: np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4)}
with tf.Session("" if local else server.target) as sess:
    sess.run(tf.global_variables_initializer())
    for _ in range(3):
        sess.run(train, feed)
    if not local:
        text = tf.explain(train, feed, session=sess, file=False)
        print("REQUESTS", sum(1 for ln in text.splitlines() if "(_PsSegment)" in ln), flush=True)
    print("VALUES", json.dumps([sess.run(v).tolist() for v in tf.global_variables()]), flush=True)
"""


def test_an_adam_step_on_two_ps_tasks_takes_four_requests_and_matches_one_process(tmp_path):
    # reads from each task, then ps 1's updates, then ps 0's updates with the global step's
    # increment and Adam's beta powers (their host-side Mul and the group NoOp moved onto ps 0)
    script = tmp_path / "requests.py"
    script.write_text(REQUESTS)
    rc, out, _ = _launch(3, script, timeout=PS_LIMIT)
    assert rc == 0, out
    assert "REQUESTS 4" in out, out
    rc1, out1, _ = _run([sys.executable, str(script)], LOCAL="1")
    assert rc1 == 0, out1

    def values(text):
        return [ln for ln in text.splitlines() if ln.startswith("VALUES ")][-1]
    assert values(out) == values(out1)  # bit for bit, as one process
