"""tf.Session: feeds, fetches, plan cache, and the state that lives in a session."""
import collections
import contextlib
import threading

import numpy as np

from nbflow.framework import errors, hooks, nest
from nbflow.framework.graph import Graph, Operation, Tensor, get_default_graph
from nbflow.runtime import cluster_target
from nbflow.runtime.executor import Plan
from nbflow.runtime.state import RuntimeState


class ConfigProto:
    """The subset of tf.ConfigProto nbflow reads; other fields are stored."""

    def __init__(self, allow_soft_placement=False, log_device_placement=False, device_count=None,
                 intra_op_parallelism_threads=0, inter_op_parallelism_threads=0, gpu_options=None,
                 graph_options=None, **kwargs):
        self.allow_soft_placement = allow_soft_placement
        self.log_device_placement = log_device_placement
        self.device_count = dict(device_count or {})
        self.intra_op_parallelism_threads = intra_op_parallelism_threads
        self.inter_op_parallelism_threads = inter_op_parallelism_threads
        self.gpu_options = gpu_options if gpu_options is not None else GPUOptions()
        self.graph_options = graph_options
        for k, v in kwargs.items():
            setattr(self, k, v)


class GPUOptions:
    # fraction 0: TF's proto default, "unset" (no cap, nothing reserved: backends/cuda/device_memory.py)
    def __init__(self, allow_growth=False, per_process_gpu_memory_fraction=0.0, **kwargs):
        self.allow_growth = allow_growth
        self.per_process_gpu_memory_fraction = per_process_gpu_memory_fraction
        for k, v in kwargs.items():
            setattr(self, k, v)


class RunOptions:
    FULL_TRACE = 3
    NO_TRACE = 0

    def __init__(self, trace_level=0, **kwargs):
        self.trace_level = trace_level
        for k, v in kwargs.items():
            setattr(self, k, v)


class RunMetadata:
    def __init__(self):
        self.step_stats = None
        self.partition_graphs = []


# -- fetch structures ------------------------------------------------------

class _FetchMapper:
    """Flattens a nested fetch structure and rebuilds it from flat results."""

    def __init__(self, graph, fetches):
        self.elements = []  # unique Tensors/Operations
        self._index = {}
        self._build = self._make(graph, fetches)

    def _add(self, el):
        i = self._index.get(el)
        if i is None:
            i = self._index[el] = len(self.elements)
            self.elements.append(el)
        return i

    def _make(self, graph, f):
        if f is None:
            raise TypeError("Fetch argument None has invalid type <class 'NoneType'>")
        if isinstance(f, (Tensor, Operation, str)) or hasattr(f, "_as_graph_element"):
            el = f
            if hasattr(f, "_as_graph_element"):
                el = f._as_graph_element()
            try:
                el = graph.as_graph_element(el)
            except (TypeError, ValueError, KeyError) as e:
                # TF: a name that is not in the graph is a ValueError here (KeyError in Graph lookups)
                raise (TypeError if isinstance(e, TypeError) else ValueError)(
                    "Fetch argument %r cannot be interpreted as a Tensor. (%s)" % (f, e)) from None
            i = self._add(el)
            if isinstance(el, Operation):
                return lambda vals: None
            return lambda vals: vals[i]
        if isinstance(f, dict):
            builders = [(k, self._make(graph, v)) for k, v in f.items()]
            cls = type(f)
            return lambda vals: cls((k, b(vals)) for k, b in builders) if cls is not collections.defaultdict \
                else dict((k, b(vals)) for k, b in builders)
        if isinstance(f, tuple) and hasattr(f, "_fields"):
            builders = [self._make(graph, v) for v in f]
            cls = type(f)
            return lambda vals: cls(*[b(vals) for b in builders])
        if isinstance(f, (list, tuple)):
            builders = [self._make(graph, v) for v in f]
            cls = type(f)
            return lambda vals: cls(b(vals) for b in builders)
        raise TypeError("Fetch argument %r has invalid type %r, must be a string or Tensor." % (f, type(f)))

    def build(self, flat_values):
        return self._build(flat_values)


def _structure_key(f):
    if isinstance(f, (Tensor, Operation, str)):
        return f
    if isinstance(f, dict):
        return ("d", type(f)) + tuple((k, _structure_key(v)) for k, v in f.items())
    if isinstance(f, (list, tuple)):
        return (type(f),) + tuple(_structure_key(v) for v in f)
    return id(f)


# -- Session ---------------------------------------------------------------

class BaseSession:
    def __init__(self, target="", graph=None, config=None):
        self._graph = graph if graph is not None else get_default_graph()
        if not isinstance(self._graph, Graph):
            raise TypeError("graph must be a tf.Graph, but got %s" % type(self._graph))
        self._config = config if config is not None else ConfigProto()
        self._target = target
        self._closed = False
        self.runtime = RuntimeState(self._graph, self._config)
        cluster_target.apply_target(target, self.runtime)  # server.target: this task and the ps tasks
        self._plans = {}
        self._fetch_mappers = {}
        self._feed_info = {}  # feed key -> (tensor, numpy dtype, static dims)
        self._default_ctx = None

    @property
    def graph(self):
        return self._graph

    @property
    def graph_def(self):
        """The session's graph as a GraphDef protobuf (as TensorBoard reads it)."""
        return self._graph.as_graph_def()

    @property
    def sess_str(self):
        return self._target

    def list_devices(self):
        return self.runtime.devices()

    def close(self):
        self._closed = True
        self._plans.clear()
        # dataset iterators stop their pipelines (a prefetch thread), as TF releases resources
        resources = self.runtime.resources
        for handle in resources.handles("iterator"):
            resources.get(handle).reset(None)

    def as_default(self):
        return _default_session(self)

    # -- run -----------------------------------------------------------
    def plan_for(self, fetches, feed_dict=None):
        """The compiled Plan that ``run(fetches, feed_dict)`` executes (see nbflow.explain)."""
        mapper = _FetchMapper(self._graph, fetches)
        feed_tensors, feed_values = self._process_feeds(feed_dict)
        return self._make_plan(mapper.elements, feed_tensors, feed_values)

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Run the ops and evaluate the tensors in ``fetches``; see tf.Session.run."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        if self._graph.version == 0:
            raise RuntimeError("The Session graph is empty.  Add operations to the graph before calling run().")
        try:
            fkey = _structure_key(fetches)
            mapper = self._fetch_mappers.get(fkey)
        except TypeError:
            fkey, mapper = None, None
        if mapper is None:
            mapper = _FetchMapper(self._graph, fetches)
            if fkey is not None:
                self._fetch_mappers[fkey] = mapper
        feed_tensors, feed_values = self._process_feeds(feed_dict)
        # Plans stay valid while the graph only grows: a new op changes no existing
        # op's result, so only changes to existing ops (graph._mutations) retire them.
        key = (fkey if fkey is not None else tuple(mapper.elements), self._graph._mutations,
               tuple((t, v.shape) for t, v in zip(feed_tensors, feed_values)))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._make_plan(mapper.elements, feed_tensors, feed_values)
            self._plans[key] = plan
        # One run of a plan at a time (its buffers are reused, so the fetched values are
        # copied out before the next run may start); different plans may run
        # concurrently, e.g. an enqueue while a dequeue waits.
        with plan.lock:
            results = plan.run(feed_values)
            exported = [_export(v, fresh) for v, fresh in zip(results, plan.fetch_is_fresh)]
        return mapper.build(exported)

    def _make_plan(self, elements, feed_tensors, feed_values):
        feeds = [(t, v.dtype, v.shape) for t, v in zip(feed_tensors, feed_values)]
        return Plan(self.runtime, elements, feeds)

    def _process_feeds(self, feed_dict):
        if not feed_dict:
            return (), ()
        tensors, values = [], []
        info = self._feed_info
        if any(type(k) is not Tensor and isinstance(k, tuple) for k in feed_dict):
            # nested keys (an LSTMStateTuple of Tensors) feed their leaves, as in TF
            feed_dict = nest.flatten_dict_items(feed_dict)
        for key, value in feed_dict.items():
            entry = info.get(key) if isinstance(key, (Tensor, str)) else None
            if entry is None:
                entry = self._feed_entry(key)
                if isinstance(key, (Tensor, str)):
                    info[key] = entry
            t, npd, dims = entry
            if isinstance(value, Tensor):
                raise TypeError(
                    "The value of a feed cannot be a tf.Tensor object. Acceptable feed values include Python "
                    "scalars, strings, lists, numpy ndarrays, or TensorHandles. For reference, the tensor "
                    "object was %s which was passed to the feed with key %s." % (value, t))
            arr = value if type(value) is np.ndarray and value.dtype == npd else _convert_feed(value, t, npd)
            if not arr.flags.c_contiguous:
                arr = np.ascontiguousarray(arr)
            if dims is not None:
                shp = arr.shape
                if len(shp) != len(dims) or any(d is not None and d != s for d, s in zip(dims, shp)):
                    raise ValueError(
                        "Cannot feed value of shape %r for Tensor %r, which has shape %r"
                        % (arr.shape, t.name, str(t.shape)))
            tensors.append(t)
            values.append(arr)
        return tuple(tensors), tuple(values)

    def _feed_entry(self, key):
        t = key
        if hasattr(t, "_as_graph_element") and not isinstance(t, Tensor):
            t = t._as_graph_element()
        try:
            t = self._graph.as_graph_element(t, allow_operation=False)
        except (TypeError, ValueError, KeyError) as e:
            raise TypeError("Cannot interpret feed_dict key as Tensor: %s" % e) from None
        if not isinstance(t, Tensor):
            raise TypeError("Cannot interpret feed_dict key as Tensor: %r" % (key,))
        return t, np.dtype(t.dtype.as_numpy_dtype), t.shape.as_tuple()

    def make_callable(self, fetches, feed_list=None, accept_options=False):
        feed_list = list(feed_list or [])

        def call(*args, **kwargs):
            return self.run(fetches, feed_dict=dict(zip(feed_list, args)))

        return call

    def partial_run_setup(self, *args, **kwargs):
        raise errors.UnimplementedError(None, None, "Session.partial_run is not supported by nbflow")


def _convert_feed(value, t, npd):
    """A feed value as an array of the tensor's dtype; lossy or impossible conversions raise
    (values that do not fit the dtype are never wrapped or rounded to infinity)."""
    tv = type(value)
    if (tv is float and npd.kind == "f") or (tv is int and npd.kind in "iu"):
        # the common case of a Python scalar: checked in Python, converted once
        lo, hi = _limits(npd)
        if (tv is int and not lo <= value <= hi) or (tv is float and hi < abs(value) < _INF):
            raise ValueError("Cannot feed value of dtype %s for Tensor '%s', which has dtype %s (value %s is out "
                             "of range for %s)" % (np.asarray(value).dtype, t.name, t.dtype.name, value, npd.name))
        return np.array(value, dtype=npd)
    try:
        arr = np.asarray(value)
        if arr.dtype != npd:
            _check_feed_fits(arr, npd)
            if arr.dtype.kind == "c" and npd.kind != "c":
                arr = arr.real  # its imaginary parts are all zero (checked)
            arr = arr.astype(npd)
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(
            "Cannot feed value of dtype %s for Tensor '%s', which has dtype %s (%s)"
            % (np.asarray(value).dtype, t.name, t.dtype.name, e)) from None
    return arr


_INF = float("inf")
_LIMITS = {}  # numpy dtype -> (min, max) of its values (the largest finite float for floats)


def _limits(npd):
    lim = _LIMITS.get(npd)
    if lim is None:
        if npd.kind in "iu":
            info = np.iinfo(npd)
            lim = _LIMITS[npd] = (int(info.min), int(info.max))
        else:
            big = float(np.finfo(npd).max)
            lim = _LIMITS[npd] = (-big, big)
    return lim


def _check_feed_fits(arr, npd):
    """Raise ValueError when ``arr``'s values cannot be represented in dtype ``npd``."""
    src = arr.dtype.kind
    if not arr.size or npd.kind not in "iuf" or src not in "iufcbO":
        return
    if arr.ndim == 0 and src in "iufb":  # a Python or numpy scalar: checked in Python (fast)
        _check_scalar_fits(arr[()], src, npd)
        return
    if src == "c" and npd.kind != "c":
        if np.any(np.imag(arr) != 0):
            raise ValueError("complex values")
        arr = np.real(arr)
        src = arr.dtype.kind
    if src in "fc" and npd.kind in "iu" and not np.all(np.floor(arr) == arr):
        raise ValueError("non-integral values")
    if npd.kind in "iu" and src in "iufO":
        lo_lim, hi_lim = _limits(npd)
        lo, hi = (min(arr.flat), max(arr.flat)) if src == "O" else (arr.min().item(), arr.max().item())
        if lo < lo_lim or hi > hi_lim:
            raise ValueError("value %s is out of range for %s" % (lo if lo < lo_lim else hi, npd.name))
    elif npd.kind == "f" and src in "fO" and np.dtype(npd).itemsize < (8 if src == "O" else arr.dtype.itemsize):
        finite = arr[np.isfinite(arr)] if src == "f" else np.asarray(arr, dtype=np.float64)
        big = np.abs(finite).max() if finite.size else 0.0
        if big > _limits(npd)[1]:
            raise ValueError("value %s is out of range for %s" % (big, npd.name))


def _check_scalar_fits(v, src, npd):
    lo_lim, hi_lim = _limits(npd)
    if npd.kind in "iu":
        if src == "f" and v != np.floor(v):
            raise ValueError("non-integral values")
        if src != "b" and not lo_lim <= v <= hi_lim:
            raise ValueError("value %s is out of range for %s" % (v, npd.name))
    elif src == "f" and abs(v) > hi_lim and abs(v) != float("inf"):
        raise ValueError("value %s is out of range for %s" % (v, npd.name))


def _export(v, fresh):
    """Fetched values are copies (buffers are reused next step) unless the plan
    made a fresh array for this run; 0-d gives a numpy scalar."""
    if v is None:
        return None
    if v.ndim == 0:
        return v[()]
    return v if fresh else v.copy()


class Session(BaseSession):
    """``tf.Session(target='', graph=None, config=None)``."""

    def __enter__(self):
        self._default_ctx = [self._graph.as_default(), _default_session(self)]
        for c in self._default_ctx:
            c.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        for c in reversed(self._default_ctx or []):
            c.__exit__(exc_type, exc, tb)
        self._default_ctx = None
        self.close()
        return False

    @staticmethod
    def reset(target, containers=None, config=None):
        return None


class InteractiveSession(BaseSession):
    """A Session that installs itself as the default on construction."""

    def __init__(self, target="", graph=None, config=None):
        super().__init__(target, graph, config)
        self._ctx = _default_session(self)
        self._ctx.__enter__()
        self._graph_ctx = self._graph.as_default()
        self._graph_ctx.__enter__()

    def close(self):
        super().close()
        if self._ctx is not None:
            try:
                self._graph_ctx.__exit__(None, None, None)
                self._ctx.__exit__(None, None, None)
            except (IndexError, ValueError):
                pass
            self._ctx = None


_session_stack = []


@contextlib.contextmanager
def _default_session(sess):
    _session_stack.append(sess)
    try:
        yield sess
    finally:
        if sess in _session_stack:
            _session_stack.remove(sess)


def get_default_session():
    return _session_stack[-1] if _session_stack else None


def _run_using_default_session(fetch, feed_dict, graph, session=None):
    if session is None:
        session = get_default_session()
        if session is None:
            raise ValueError(
                "Cannot evaluate tensor using `eval()`: No default session is registered. Use `with "
                "sess.as_default()` or pass an explicit session to `eval(session=sess)`")
        if session.graph is not graph:
            raise ValueError(
                "Cannot use the default session to evaluate tensor: the tensor's graph is different from "
                "the session's graph. Pass an explicit session to `eval(session=sess)`.")
    elif session.graph is not graph:
        raise ValueError("Cannot use the given session to evaluate tensor: the tensor's graph is different "
                         "from the session's graph.")
    return session.run(fetch, feed_dict)


hooks.register(hooks.RUN_IN_DEFAULT_SESSION, _run_using_default_session)
hooks.register(hooks.DEFAULT_SESSION, get_default_session)
