"""nbflow.distribute in real MPI jobs: ``mpiexec -n 2|3 python -m mpi4py ...`` as
subprocesses with time limits (skipped without mpi4py or mpiexec).

- the collectives on 3 ranks (sum, average, buckets, broadcast from rank 1);
- 2 ranks of examples/distributed_mnist.py end with the weights one process
  gets on the combined batch (SGD);
- faults end the whole job within 30 s, never a hang: a rank that raises
  (``-m mpi4py``, and ``abort_on_exception`` without it) and a rank killed
  with SIGKILL (mpich's hydra tears the job down).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="needs mpi4py: pip install nbflow[mpi]")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "distributed_mnist.py"
LIMIT = 240  # seconds for a whole job (cold kernel compiles on a busy 2-core machine)
FAULT_LIMIT = 30  # from the fault to the end of the job


def _mpiexec():
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpiexec not found (pip install nbflow[mpi] installs mpich's)")
    return found


def _run(cmd, timeout=LIMIT, **extra_env):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1", PYTHONPATH=str(ROOT),
               PYTHONUNBUFFERED="1", **extra_env)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=str(ROOT), start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail("%s did not finish within %d s (a hang?):\n%s" % (" ".join(cmd), timeout, out[-3000:]))
    return proc.returncode, out, time.time()


def _launch(n, script, *args, dash_m=True, timeout=LIMIT, **extra_env):
    cmd = [_mpiexec(), "-n", str(n), sys.executable] + (["-m", "mpi4py"] if dash_m else []) + [str(script)]
    return _run(cmd + [str(a) for a in args], timeout, **extra_env)


COLLECTIVES = """
import json
import numpy as np
import nbflow as tf
import nbflow.distribute as nd
r, n = nd.rank(), nd.size()
a = tf.constant(np.arange(4, dtype=np.float32) * (r + 1))
b = tf.constant(np.full((2, 3), r, np.float64))
total = nd.allreduce(a, average=False)
mean = nd.allreduce(a)
(g1, _), (g2, _), (g3, _) = nd.allreduce_gradients([(a, None), (a * 2.0, None), (b, None)], bucket_bytes=16)
v = tf.Variable(np.full(3, 10.0 * r, np.float32))
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(nd.broadcast_variables([v], root=1))
    out = sess.run([total, mean, g1, g2, g3, v])
# one file per rank: lines that several ranks print at once may interleave
import os
with open(os.path.join(os.environ["RESULT_DIR"], "rank-%d.json" % r), "w") as f:
    json.dump({"rank": r, "size": n, "out": [o.tolist() for o in out]}, f)
"""


@pytest.mark.parametrize("message_bytes", ["16777216", "12"], ids=["one-message", "chunks-of-3-elements"])
def test_collectives_over_three_ranks(tmp_path, message_bytes):
    script = tmp_path / "collectives.py"
    script.write_text(COLLECTIVES)
    rc, out, _ = _launch(3, script, NBFLOW_MPI_MESSAGE_BYTES=message_bytes, RESULT_DIR=str(tmp_path))
    assert rc == 0, out
    results = sorted((json.loads(p.read_text()) for p in tmp_path.glob("rank-*.json")), key=lambda d: d["rank"])
    assert [d["rank"] for d in results] == [0, 1, 2] and results[0]["size"] == 3
    base = np.arange(4)
    for d in results:
        total, mean, g1, g2, g3, v = d["out"]
        np.testing.assert_allclose(total, base * 6)
        np.testing.assert_allclose(mean, base * 2)
        np.testing.assert_allclose(g1, base * 2)
        np.testing.assert_allclose(g2, base * 4)
        np.testing.assert_allclose(g3, np.ones((2, 3)))
        np.testing.assert_allclose(v, [10.0] * 3)  # rank 1's value


def test_two_ranks_give_the_weights_of_one_process_on_the_combined_batch(tmp_path):
    common = ["--mode", "allreduce", "--optimizer", "sgd", "--lr", "0.5", "--steps", "6", "--hidden", "16",
              "--log-every", "1"]
    rc, out, _ = _launch(2, EXAMPLE, *common, "--batch-size", "8", "--save-weights", tmp_path / "two.npz")
    assert rc == 0, out
    rc1, out1, _ = _run([sys.executable, str(EXAMPLE)] + common
                        + ["--batch-size", "16", "--save-weights", str(tmp_path / "one.npz")])
    assert rc1 == 0, out1
    two, one = np.load(tmp_path / "two.npz"), np.load(tmp_path / "one.npz")
    assert sorted(two.files) == sorted(one.files) == ["w0", "w1", "w2", "w3"]
    for k in one.files:
        np.testing.assert_allclose(two[k], one[k], rtol=1e-5, atol=1e-6, err_msg=k)
    start = np.load(tmp_path / "one.npz")["w0"]
    assert np.abs(start).sum() > 0


FAULT = """
import os, signal, sys, time
import numpy as np
import nbflow as tf
import nbflow.distribute as nd
if {abort_hook}:
    nd.abort_on_exception()
g = nd.allreduce(tf.placeholder(tf.float32, [1000], name="x"))
with tf.Session() as sess:
    for step in range(10 ** 7):
        sess.run(g, {{"x:0": np.ones(1000, np.float32)}})
        if step == 20 and nd.rank() == 1:
            print("FAULT_AT", time.time(), flush=True)
            {fault}
print("rank", nd.rank(), "finished: the job should have been ended", flush=True)
"""


def _fault_job(tmp_path, fault, dash_m=True, abort_hook=False):
    script = tmp_path / "fault.py"
    script.write_text(FAULT.format(fault=fault, abort_hook=abort_hook))
    rc, out, end = _launch(2, script, dash_m=dash_m)
    at = [float(line.split()[1]) for line in out.splitlines() if line.startswith("FAULT_AT")]
    assert at, "the fault was never reached:\n" + out
    assert rc != 0, out
    assert end - at[0] < FAULT_LIMIT, "the job took %.1f s to end after the fault" % (end - at[0])
    assert "should have been ended" not in out
    return out


def test_a_rank_that_raises_ends_the_job_with_its_traceback(tmp_path):
    out = _fault_job(tmp_path, 'raise RuntimeError("boom on rank 1")')
    assert "RuntimeError: boom on rank 1" in out and "MPI_Abort" in out


def test_abort_on_exception_ends_a_job_launched_without_dash_m_mpi4py(tmp_path):
    out = _fault_job(tmp_path, 'raise RuntimeError("boom on rank 1")', dash_m=False, abort_hook=True)
    assert "RuntimeError: boom on rank 1" in out and "rank 1 raised RuntimeError; aborting" in out


def test_a_rank_killed_with_sigkill_ends_the_job(tmp_path):
    out = _fault_job(tmp_path, "os.kill(os.getpid(), signal.SIGKILL)")
    assert "BAD TERMINATION" in out and "signal 9" in out
