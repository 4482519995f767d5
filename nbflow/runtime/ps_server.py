"""A ps task's request loop: ``tf.train.Server.join()`` on ``/job:ps/task:k``.

The ps holds one ResourceManager: the variables placed on it (and their
optimizer slots, since the ApplyX ops run here too). Workers send requests
(backends/cpu/mpi.py's PsSegment kernel; protocol in backends/mpi_comm.py):

- ``("register", None, segment)``: the pickled description of a segment
  (compiler/remote.py); the ps rebuilds its ops in a graph of their own and
  replies with the segment's id. Equal segments (every worker builds the same
  graph) share one id and one compiled plan.
- ``("run", id, arrays)`` then the input arrays: the segment runs in a Session
  over the shared ResourceManager; the reply is the output arrays, or the
  OpError (class and message) raised there.
- ``("done", None, None)``: a worker process exited. The loop returns when
  every client task has said so.

Requests are served one at a time, in arrival order: each segment runs whole
(atomically) and the workers' updates interleave between segments, which is
TF 1's asynchronous training.
"""
import pickle
import sys

import numpy as np

from nbflow.backends import mpi_comm
from nbflow.framework import errors
from nbflow.framework.graph import Graph
from nbflow.ops.constant_op import placeholder
from nbflow.runtime import cluster_target
from nbflow.runtime.session import Session
from nbflow.state.resources import ResourceManager


class PsState:
    """The variables of this ps task and the segments registered with it."""

    def __init__(self):
        self.resources = ResourceManager()
        self.by_bytes = {}  # segment description -> id
        self.segments = []  # id -> (session, fetches, feed tensors)

    def register(self, segment):
        seg_id = self.by_bytes.get(segment)
        if seg_id is None:
            seg_id = self.by_bytes[segment] = len(self.segments)
            self.segments.append(self._build(pickle.loads(segment)))
        return seg_id

    def _build(self, desc):
        graph = Graph()
        with graph.as_default():
            feeds = [placeholder(dt, shape=shape, name="ps_input_%d" % k) for k, (dt, shape) in enumerate(desc["inputs"])]
            ops = []
            for op_def, name, attrs, refs, ctrl, specs in desc["ops"]:
                inputs = [feeds[r[1]] if r[0] == "in" else ops[r[1]].outputs[r[2]] for r in refs]
                ops.append(graph.create_op(op_def, inputs, attrs, specs, name, [ops[j] for j in ctrl]))
        fetches = [ops[j].outputs[i] for j, i in desc["outputs"]] + [ops[j] for j in desc["targets"]]
        session = Session(graph=graph)
        session.runtime.resources = self.resources  # every segment shares the task's variables
        return session, fetches, feeds, len(desc["outputs"])

    def run(self, seg_id, values):
        session, fetches, feeds, n_out = self.segments[seg_id]
        out = session.run(fetches, feed_dict=dict(zip(feeds, values)))[:n_out]
        return [_array(v) for v in out]


def _array(v):
    a = np.asarray(v)
    return a if a.dtype.kind in "biufc" else np.asarray(v, dtype=object)


def serve(task):
    """Serve the client tasks until each has said "done"."""
    MPI = mpi_comm.mpi()
    comm = task.comm
    state = PsState()
    waiting = set(cluster_target.client_ranks(task))
    status = MPI.Status()
    while waiting:
        mpi_comm.wait_for_message(comm, MPI.ANY_SOURCE, mpi_comm.TAG_REQUEST, status)
        source = status.Get_source()
        kind, seg_id, payload = comm.recv(source=source, tag=mpi_comm.TAG_REQUEST)
        if kind == "done":
            waiting.discard(source)
            continue
        values = mpi_comm.recv_arrays(comm, source, mpi_comm.TAG_DATA, payload) if kind == "run" else None
        try:
            if kind == "register":
                reply, arrays = ("id", state.register(payload)), ()
            elif kind == "run":
                arrays = state.run(seg_id, values)
                reply = ("values", mpi_comm.describe_arrays(arrays))
            else:
                raise errors.InternalError(None, None, "unknown ps request %r" % (kind,))
        except errors.OpError as e:
            reply, arrays = ("error", type(e).__name__, "/job:ps/task:%d: %s" % (task.index, e.message)), ()
        except Exception as e:  # a bug or a bad segment: reported to the worker, the ps keeps serving
            print("nbflow ps task %d: %s: %s" % (task.index, type(e).__name__, e), file=sys.stderr)
            reply, arrays = ("error", "InternalError", "/job:ps/task:%d: %s: %s"
                             % (task.index, type(e).__name__, e)), ()
        comm.send(reply, dest=source, tag=mpi_comm.TAG_REPLY)
        mpi_comm.send_arrays(comm, source, mpi_comm.TAG_REPLY_DATA, arrays)
