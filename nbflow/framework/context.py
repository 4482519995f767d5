"""Which mode ops run in: graph building (TF 1.x, the default) or eager.

``executing_eagerly()`` is true when eager execution is enabled and no graph
is being built: inside ``with tf.Graph().as_default():`` and while
``tf.function`` traces its Python function into a graph, ops add nodes even
in an eager program, as in TF.

Eager mode also has its own name scopes, which TF 2 never uniquifies
(``tf.name_scope("a")`` twice gives "a/" twice), and its own random seed.
"""
import contextlib
import threading


#: the graphs made default with ``Graph.as_default()`` (innermost last); graph.py's stack
_default_graph_stack = []
#: [enabled]: a list so the hot path reads one module global
_EAGER = [False]
#: TF 2's "tensor equality": ``==`` on eager tensors is element-wise (enable_v2_behavior)
_TENSOR_EQUALITY = [False]


class _EagerState(threading.local):
    def __init__(self):
        self.name_stack = ""
        self.device_stack = []
        #: the global seed set with tf.random.set_seed in eager mode (None: unseeded)
        self.seed = None


_state = _EagerState()


def executing_eagerly():
    return _EAGER[0] and not _default_graph_stack


def eager_enabled():
    """Eager execution is the program's mode (even while a graph is being built)."""
    return _EAGER[0]


def enable_eager():
    _EAGER[0] = True


def disable_eager():
    _EAGER[0] = False


def tensor_equality_enabled():
    return _TENSOR_EQUALITY[0]


def set_tensor_equality(enabled):
    _TENSOR_EQUALITY[0] = bool(enabled)


@contextlib.contextmanager
def eager_mode(tensor_equality=None):
    """Run the block eagerly, then restore the previous mode (tests, tools)."""
    saved = _EAGER[0], _TENSOR_EQUALITY[0], _state.name_stack, _state.seed
    _EAGER[0] = True
    if tensor_equality is not None:
        _TENSOR_EQUALITY[0] = bool(tensor_equality)
    try:
        yield
    finally:
        _EAGER[0], _TENSOR_EQUALITY[0], _state.name_stack, _state.seed = saved


@contextlib.contextmanager
def graph_mode():
    """Build graph ops in the block even in an eager program (``tf.compat.v1`` code paths)."""
    saved = _EAGER[0]
    _EAGER[0] = False
    try:
        yield
    finally:
        _EAGER[0] = saved


# -- eager name scopes: never uniquified (TF 2) -----------------------------------------

def eager_name_scope_stack():
    return _state.name_stack


@contextlib.contextmanager
def eager_name_scope(name):
    old = _state.name_stack
    if not name:
        new = ""
    elif name.endswith("/"):
        new = name
    else:
        new = old + name + "/"
    _state.name_stack = new
    try:
        yield new
    finally:
        _state.name_stack = old


# -- eager device scopes ------------------------------------------------------------------

@contextlib.contextmanager
def eager_device(spec):
    _state.device_stack.append(spec)
    try:
        yield
    finally:
        _state.device_stack.pop()


def eager_device_stack():
    return _state.device_stack


# -- the eager random seed ------------------------------------------------------------------

def eager_seed():
    return _state.seed


def set_eager_seed(seed):
    _state.seed = seed


@contextlib.contextmanager
def init_scope():
    """Leave every graph being built (a ``tf.function`` trace): ops in the block run eagerly
    in an eager program, as TF's ``tf.init_scope`` (variables and their initial values)."""
    saved = _default_graph_stack[:]
    if _EAGER[0]:
        del _default_graph_stack[:]
    try:
        yield
    finally:
        _default_graph_stack[:] = saved
