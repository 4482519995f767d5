"""tf.train.ClusterSpec, Server, replica_device_setter and session targets in one process
(the MPI jobs are in tests/test_ps_mpi.py)."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.runtime import cluster_target
from nbflow.train.device_setter import GreedyLoadBalancingStrategy, byte_size_load_fn

SPEC = {"worker": ["w0:2222", "w1:2222", "w2:2222"], "ps": ["p0:2222", "p1:2222"]}


# -- ClusterSpec ----------------------------------------------------------------------------

def test_cluster_spec_api():
    c = tf.train.ClusterSpec(SPEC)
    assert c.jobs == ["ps", "worker"]
    assert c.num_tasks("worker") == 3 and c.num_tasks("ps") == 2
    assert c.task_indices("ps") == [0, 1]
    assert c.task_address("worker", 2) == "w2:2222"
    assert c.job_tasks("ps") == ["p0:2222", "p1:2222"]
    assert c.as_dict() == SPEC
    assert tf.train.ClusterSpec(c) == c and c != tf.train.ClusterSpec({"ps": ["p0:2222"]})
    assert bool(c) and not tf.train.ClusterSpec({})
    with pytest.raises(ValueError, match="No such job in cluster: 'chief'"):
        c.num_tasks("chief")
    with pytest.raises(ValueError, match="No task with index 5 in job 'ps'"):
        c.task_address("ps", 5)
    with pytest.raises(NotImplementedError, match="ClusterDef"):
        c.as_cluster_def()


def test_cluster_spec_sparse_jobs_and_bad_input():
    c = tf.train.ClusterSpec({"worker": {1: "w1:1", 3: "w3:1"}})
    assert c.task_indices("worker") == [1, 3] and c.num_tasks("worker") == 2
    assert c.job_tasks("worker") == [None, "w1:1", None, "w3:1"]
    assert c.as_dict() == {"worker": {1: "w1:1", 3: "w3:1"}}
    assert [c.rank_of("worker", 1), c.rank_of("worker", 3)] == [0, 1]
    with pytest.raises(TypeError, match="must be a dictionary"):
        tf.train.ClusterSpec(["w0:1"])
    with pytest.raises(TypeError, match="must be a list or a dictionary"):
        tf.train.ClusterSpec({"worker": "w0:1"})
    with pytest.raises(TypeError, match="must be bytes or unicode"):
        tf.train.ClusterSpec({"worker": [1234]})


def test_task_to_rank_mapping_is_jobs_by_name_then_tasks_by_index():
    c = tf.train.ClusterSpec(SPEC)
    assert c.num_ranks == 5
    assert [c.task_of_rank(r) for r in range(5)] == [("ps", 0), ("ps", 1), ("worker", 0), ("worker", 1),
                                                     ("worker", 2)]
    assert c.rank_of("worker", 0) == 2
    assert [tf.train.task_for_rank(c, r) for r in (0, 4)] == [("ps", 0), ("worker", 2)]
    with pytest.raises(ValueError, match="rank 5 is not a task of this cluster"):
        c.task_of_rank(5)
    # the override: workers first
    w = tf.train.ClusterSpec(SPEC, job_order=["worker", "ps"])
    assert w.task_of_rank(0) == ("worker", 0) and w.rank_of("ps", 1) == 4
    with pytest.raises(ValueError, match="must list every job"):
        tf.train.ClusterSpec(SPEC, job_order=["worker"])


# -- Server and session targets (one MPI rank) ------------------------------------------------

@pytest.fixture
def no_local_task():
    saved = dict(cluster_target._state)
    yield
    cluster_target._state.clear()
    cluster_target._state.update(saved)


def test_a_grpc_target_without_a_server_says_how_to_launch(no_local_task):
    cluster_target._state["task"] = None
    with pytest.raises(tf.errors.UnavailableError, match="mpiexec -n <number of tasks> python -m mpi4py"):
        tf.Session("grpc://worker7.example.com:2222")


def test_server_of_a_one_task_cluster_runs_a_session_on_its_target(no_local_task):
    pytest.importorskip("mpi4py")
    server = tf.train.Server(tf.train.ClusterSpec({"worker": ["localhost:2222"]}), job_name="worker",
                             task_index=0)
    assert server.target == "grpc://localhost:2222"
    server.start()
    with tf.Graph().as_default():
        v = tf.Variable(3.0)
        with tf.device("/job:worker/task:0"):
            out = v * 2.0
        with tf.Session(server.target) as sess:
            assert sess.list_devices()[0] == "/job:worker/replica:0/task:0/device:CPU:0"
            sess.run(v.initializer)
            assert sess.run(out) == 6.0
        with tf.device("/job:worker/task:1"):
            other = v + 1.0
        with tf.Session(server.target) as sess:
            sess.run(v.initializer)
            with pytest.raises(tf.errors.InvalidArgumentError, match="this process is /job:worker/task:0"):
                sess.run(other)
    with pytest.raises(tf.errors.UnavailableError, match="is not this process's task"):
        tf.Session("grpc://elsewhere:1")
    with pytest.raises(tf.errors.UnimplementedError, match="only the tasks of job 'ps' serve"):
        server.join()


def test_server_checks_the_cluster_against_the_mpi_job(no_local_task):
    pytest.importorskip("mpi4py")
    with pytest.raises(ValueError, match=r"has 2 tasks \(worker: 2\) but this MPI job has 1 rank"):
        tf.train.Server({"worker": ["a:1", "b:1"]}, job_name="worker", task_index=0)
    with pytest.raises(ValueError, match="job_name must be given"):
        tf.train.Server(SPEC)
    with pytest.raises(ValueError, match="job_name 'chief' is not a job"):
        tf.train.Server({"worker": ["a:1"]}, job_name="chief")
    with pytest.raises(ValueError, match="protocol"):
        tf.train.Server({"worker": ["a:1"]}, protocol="grpc+verbs")


def test_a_local_session_refuses_ps_devices_with_a_pointer_to_the_docs():
    with tf.Graph().as_default():
        with tf.device("/job:ps/task:0"):
            v = tf.Variable(1.0)
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="DISTRIBUTED.md"):
                sess.run(v.initializer)


# -- replica_device_setter --------------------------------------------------------------------

def test_replica_device_setter_round_robin_and_worker_device():
    with tf.Graph().as_default():
        with tf.device(tf.train.replica_device_setter(ps_tasks=2, worker_device="/job:worker/task:1")):
            vs = [tf.Variable(float(i), name="v%d" % i) for i in range(3)]
            y = vs[0] * 2.0
            with tf.device("/cpu:0"):  # inner fields win (merge_devices)
                z = y + 1.0
        assert [v.device for v in vs] == ["/job:ps/task:0", "/job:ps/task:1", "/job:ps/task:0"]
        assert y.device == "/job:worker/task:1"
        assert z.device == "/job:worker/task:1/device:CPU:0"
        assert vs[0].initializer.device == "/job:worker/task:1"  # Assign: placed with its ref at run time


def test_replica_device_setter_from_a_cluster_and_its_none_cases():
    assert tf.train.replica_device_setter() is None
    assert tf.train.replica_device_setter(cluster={"worker": ["a:1"]}) is None
    with tf.Graph().as_default():
        with tf.device(tf.train.replica_device_setter(cluster=SPEC)):
            vs = [tf.Variable(1.0) for _ in range(3)]
            c = tf.constant(1.0)
    assert [v.device for v in vs] == ["/job:ps/task:0", "/job:ps/task:1", "/job:ps/task:0"]
    assert c.device == "/job:worker"
    with pytest.raises(TypeError, match="ps_strategy must be callable"):
        tf.train.replica_device_setter(ps_tasks=2, ps_strategy=3)


def test_replica_device_setter_ps_ops_and_custom_ps_device():
    with tf.Graph().as_default():
        with tf.device(tf.train.replica_device_setter(ps_tasks=3, ps_device="/job:params", ps_ops=["Const"])):
            a = tf.constant(1.0)
            b = tf.constant(2.0)
            v = tf.Variable(1.0)
    assert (a.device, b.device) == ("/job:params/task:0", "/job:params/task:1")
    assert v.device == "/job:worker"


def test_greedy_load_balancing_by_bytes():
    with tf.Graph().as_default():
        strategy = GreedyLoadBalancingStrategy(2, byte_size_load_fn)
        with tf.device(tf.train.replica_device_setter(ps_tasks=2, ps_strategy=strategy)):
            big = tf.Variable(np.zeros((100, 100), np.float32))   # 40000 bytes -> task 0
            small = tf.Variable(np.zeros(10, np.float64))         # 80 -> task 1
            small2 = tf.Variable(np.zeros(10, np.float32))        # 40 -> task 1 (80 < 40000)
    assert [v.device for v in (big, small, small2)] == ["/job:ps/task:0", "/job:ps/task:1", "/job:ps/task:1"]
    assert byte_size_load_fn(big.op) == 40000
    with pytest.raises(ValueError, match="num_tasks"):
        GreedyLoadBalancingStrategy(0)


def test_optimizer_slots_live_beside_their_variable():
    with tf.Graph().as_default():
        with tf.device(tf.train.replica_device_setter(ps_tasks=2)):
            w = tf.Variable(np.ones(3, np.float32), name="w")
            b = tf.Variable(np.ones(3, np.float32), name="b")
            loss = tf.reduce_sum(w * b)
            tf.train.AdamOptimizer(0.1).minimize(loss)
        devices = {v.op.name: v.device for v in tf.global_variables()}
    assert devices["w/Adam"] == devices["w/Adam_1"] == devices["w"] == "/job:ps/task:0"
    assert devices["b/Adam"] == devices["b/Adam_1"] == devices["b"] == "/job:ps/task:1"
    assert devices["beta1_power"] == devices["beta2_power"] == devices["b"]  # colocated with the first var


# -- SyncReplicasOptimizer (the MPI job: tests/test_ps_mpi.py) ----------------------------------

def test_sync_replicas_in_one_process_and_its_limits(no_local_task):
    cluster_target._state["task"] = None
    with tf.Graph().as_default():
        step = tf.train.get_or_create_global_step()
        w = tf.Variable(np.ones(2, np.float32))
        opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.5), replicas_to_aggregate=1)
        train = opt.minimize(tf.reduce_sum(w), global_step=step)
        hook = opt.make_session_run_hook(is_chief=True)
        with tf.train.MonitoredTrainingSession(hooks=[hook, tf.train.StopAtStepHook(last_step=2)]) as sess:
            while not sess.should_stop():
                sess.run(train)
            np.testing.assert_allclose(sess.run(w), [0.0, 0.0])
        with pytest.raises(NotImplementedError, match="no token queue"):
            opt.get_init_tokens_op()
        with pytest.raises(ValueError, match="is_chief=False"):
            opt.make_session_run_hook(is_chief=False).begin()
    with tf.Graph().as_default():
        step = tf.train.get_or_create_global_step()
        w = tf.Variable(1.0)
        backup = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.5), replicas_to_aggregate=2,
                                                total_num_replicas=3)
        with pytest.raises(NotImplementedError, match="backup workers are not supported"):
            backup.minimize(w * 2.0, global_step=step)
        with pytest.raises(ValueError, match="Global step is required"):
            tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.5), 1).minimize(w * 2.0)
