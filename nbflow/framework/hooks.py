"""Services that upper layers provide to the framework through hooks.

``Tensor.eval``, ``Operation.run`` and ``Variable.load`` run in the default
session, and ``Graph.as_graph_def`` builds a protobuf: the runtime and the
summary layer register those here when they are imported, so the framework
(and the ops) import nothing from above them.
"""
_hooks = {}


def register(name, fn):
    _hooks[name] = fn


def call(name, *args, **kwargs):
    fn = _hooks.get(name)
    if fn is None:
        raise RuntimeError("nbflow: no %r service is registered (import nbflow first)" % name)
    return fn(*args, **kwargs)


# names used
RUN_IN_DEFAULT_SESSION = "run_in_default_session"   # (fetch, feed_dict, graph, session)
DEFAULT_SESSION = "default_session"                 # () -> Session or None
GRAPH_DEF = "graph_def"                             # (graph, add_shapes) -> GraphDef
NODE_DEF = "node_def"                               # (op, add_shapes) -> NodeDef
