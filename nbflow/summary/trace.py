"""``tf.summary.trace_on / trace_export / trace_off``: the graphs of the tf.functions
called in between, written to the default writer as TF 2 does.

While tracing is on, every call of a traced function (nbflow/eager/function.py's
``call_observers``) records its FuncGraph once. ``trace_export(name, step)``
writes one summary value tagged ``name``, TensorBoard's "graph_run_metadata_graph"
plugin, whose tensor is a serialized RunMetadata with one ``function_graphs``
entry per function (``pre_optimization_graph``: the FuncGraph as a GraphDef,
nbflow/summary/graph_def.py), then turns tracing off. The profiler is not
available (``profiler=True`` raises NotImplementedError).
"""
import logging

import numpy as np

from nbflow.framework import context
from nbflow.summary import summary_v2
from nbflow.summary.graph_def import graph_def

__all__ = ["trace_on", "trace_export", "trace_off"]

_log = logging.getLogger("nbflow")


class _Trace:
    def __init__(self):
        self.graphs = []
        self._seen = set()

    def __call__(self, concrete):
        if id(concrete.graph) not in self._seen:
            self._seen.add(id(concrete.graph))
            self.graphs.append(concrete.graph)


_current = [None]


def _observers():
    import importlib

    return importlib.import_module("nbflow.eager.function").call_observers


def trace_on(graph=True, profiler=False):
    """Start recording the graphs of the tf.functions called from here on."""
    if profiler:
        raise NotImplementedError("tf.summary.trace_on(profiler=True): nbflow has no profiler; "
                                  "use graph=True alone")
    if not context.executing_eagerly():
        _log.warning("tf.summary.trace_on must be called eagerly; ignored")
        return
    if _current[0] is not None:
        _log.warning("Trace already enabled")
        return
    if graph:
        _current[0] = _Trace()
        _observers().append(_current[0])


def trace_off():
    """Stop recording and forget what was recorded."""
    trace = _current[0]
    _current[0] = None
    if trace is not None and trace in _observers():
        _observers().remove(trace)


def trace_export(name, step=None, profiler_outdir=None):
    """Write the recorded graphs under tag ``name`` at ``step`` (default: the default step)
    to the default writer, then stop tracing."""
    from tensorboard.compat.proto import config_pb2, summary_pb2
    from tensorboard.plugins.graph import metadata as graph_metadata
    from nbflow.backends.summary_encoding import tensor_proto

    trace = _current[0]
    if trace is None:
        raise ValueError("Must enable trace before export through tf.summary.trace_on.")
    if step is None:
        step = summary_v2.get_step()
        if step is None:
            raise ValueError("No step set. Please specify one either through the `step` argument or "
                             "through tf.summary.experimental.set_step()")
    try:
        writer = summary_v2._state.writer
        if writer is None or isinstance(writer, summary_v2._NoopWriter):
            _log.warning("tf.summary.trace_export: no default summary writer; nothing written")
            return
        run_metadata = config_pb2.RunMetadata()
        for g in trace.graphs:
            run_metadata.function_graphs.add().pre_optimization_graph.CopyFrom(graph_def(g))
        s = summary_pb2.Summary()
        v = s.value.add(tag=summary_v2._tag(name))
        v.metadata.plugin_data.plugin_name = graph_metadata.PLUGIN_NAME_RUN_METADATA_WITH_GRAPH
        v.metadata.plugin_data.content = b"1"
        v.tensor.CopyFrom(tensor_proto(np.array(run_metadata.SerializeToString(), dtype=object)))
        writer._write_summary(s, int(np.asarray(step)))
    finally:
        trace_off()
