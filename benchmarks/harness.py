"""Timing harness shared by every benchmark family.

A benchmark *case* (one workload at one size) has several *implementations*
(nbflow, numpy, PyTorch, a hand-written @njit loop ...). Each implementation
is a ``setup()`` that builds everything and returns a zero-argument ``step``
function doing one iteration (and returning its result, used to check that
the implementations agree). Speed is always reported as a ratio against the
other implementations measured in the same process, never as an absolute
pass/fail time.

Timing of one implementation:

1. ``setup()`` (graph construction, allocation) -- reported as ``setup_ms``;
2. the first call -- reported separately as ``first_call_ms`` (it includes
   plan building, Numba compilation or loading from the on-disk cache);
3. warm-up calls (the first ``case.check_calls`` results are kept for the
   agreement check);
4. calibration: the number of calls per batch doubles until one batch takes
   at least ``min_batch_s`` (that batch is the first timed one);
5. ``repeats`` (at least 5) timed rounds with the garbage collector off,
   interleaved across the case's implementations (one batch of each per
   round, so a change in machine load hits all of them alike). A round's
   batch is timed as ``SUB_BATCHES`` equal sub-batches and the round's value
   is their median time per iteration (one preempted sub-batch does not move
   it); the reported time per iteration is the median of the per-round
   medians, and ``spread`` = (max - min) / median of them: how stable the
   implementation is from round to round (issue 16 asks nbflow's to be no
   larger than PyTorch's).
"""
import gc
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np


class Skip(Exception):
    """Raised by a setup() when an implementation cannot run here (with the reason)."""


@dataclass
class Impl:
    name: str
    setup: Callable[[], Any]  # -> step() or (step, cleanup)
    note: str = ""


@dataclass
class Target:
    """A goal from an issue: ``impl`` vs ``versus`` speed ratio >= ``min_ratio``,
    or ``impl``'s time per iteration <= ``max_us``."""

    impl: str
    description: str
    versus: Optional[str] = None
    min_ratio: Optional[float] = None
    max_us: Optional[float] = None


@dataclass
class Case:
    name: str                  # "mlp/b128/sgd"
    family: str                # "mlp"
    description: str
    impls: Sequence[Impl]
    unit: str = "steps/s"      # "steps/s", "calls/s", "GB/s", "GFLOP/s"
    work: float = 1.0          # per iteration: steps, calls, bytes or flops (matching ``unit``)
    baselines: Sequence[str] = ("numpy", "torch")
    targets: Sequence[Target] = ()
    check_calls: int = 1       # how many leading results to compare across implementations
    rtol: float = 1e-4
    atol: float = 1e-5
    reference: Optional[str] = None  # implementation the others are checked against (default: first that ran)


@dataclass
class Settings:
    quick: bool = False
    min_batch_s: float = 0.2
    repeats: int = 8  # the calibration batch and 7 rounds
    warmup: int = 3
    max_warmup_s: float = 2.0

    @classmethod
    def for_mode(cls, quick):
        if quick:
            return cls(quick=True, min_batch_s=0.002, repeats=2, warmup=1, max_warmup_s=0.2)
        return cls()


@dataclass
class Result:
    case: str
    family: str
    impl: str
    unit: str
    status: str                      # "ok", "skipped", "error"
    reason: str = ""
    note: str = ""
    setup_ms: Optional[float] = None
    first_call_ms: Optional[float] = None
    sec_per_iter: Optional[float] = None   # median over batches
    min_sec_per_iter: Optional[float] = None
    max_sec_per_iter: Optional[float] = None
    iters_per_batch: Optional[int] = None
    batches: Optional[int] = None
    rate: Optional[float] = None           # in ``unit``
    ratios: dict = field(default_factory=dict)  # baseline impl -> speed ratio (this / baseline)
    check: str = ""                        # agreement with the reference implementation
    outputs: list = field(default_factory=list, repr=False)  # not serialized


#: sub-batches per timed round (their median is the round's time per iteration)
SUB_BATCHES = 5


def _timed_batch(step, n):
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - t0


def _round_median(step, n):
    """Median time per iteration over SUB_BATCHES sub-batches of a round's ``n`` calls."""
    k = min(SUB_BATCHES, n)
    per = [_timed_batch(step, n // k + (1 if i < n % k else 0)) / (n // k + (1 if i < n % k else 0))
           for i in range(k)]
    return statistics.median(per)


def spread(result):
    """(max - min) / median of a result's per-round medians (None if not measured)."""
    if result.sec_per_iter is None:
        return None
    return (result.max_sec_per_iter - result.min_sec_per_iter) / result.sec_per_iter


def prepare(step, settings, keep=1):
    """First call, warm-up and calibration of one implementation.

    Returns (first_call_s, kept outputs, calls per batch, time per call of the calibration batch)."""
    t0 = time.perf_counter()
    out = step()
    first = time.perf_counter() - t0
    kept = [_snapshot(out)]
    del out
    t_start = time.perf_counter()
    calls = 0
    while len(kept) < keep:
        kept.append(_snapshot(step()))
        calls += 1
    while calls < settings.warmup and time.perf_counter() - t_start < settings.max_warmup_s:
        step()
        calls += 1
    with _gc_off():
        n = 1
        while True:
            t = _timed_batch(step, n)
            if t >= settings.min_batch_s or n >= 1 << 24:
                break
            # aim a little above the minimum so the next try usually suffices
            n = max(n * 2, int(math.ceil(n * 1.2 * settings.min_batch_s / max(t, 1e-9))))
    return first, kept, n, t / n


class _gc_off:
    def __enter__(self):
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            gc.enable()


def measure(step, settings, keep=1):
    """(first_call_s, kept outputs, per-iteration times of each batch, calls per batch) of one step."""
    first, kept, n, t = prepare(step, settings, keep)
    times = [t]
    with _gc_off():
        for _ in range(settings.repeats - 1):
            times.append(_round_median(step, n))
    return first, kept, times, n


def _snapshot(out):
    """A host copy of a step's result (numpy array, float, torch tensor, tuple of them)."""
    if out is None:
        return None
    if isinstance(out, (tuple, list)):
        return type(out)(_snapshot(o) for o in out)
    if hasattr(out, "detach") and hasattr(out, "numpy"):  # torch.Tensor
        return out.detach().cpu().numpy().copy()
    if hasattr(out, "block_until_ready"):  # jax.Array
        return np.array(out)
    if isinstance(out, np.ndarray):
        return out.copy()
    return out


def _agree(ref, out, rtol, atol):
    """'' when ``out`` matches ``ref`` (nested), else a short description."""
    if ref is None or out is None:
        return ""
    if isinstance(ref, (tuple, list)):
        if not isinstance(out, (tuple, list)) or len(out) != len(ref):
            return "structure differs"
        for r, o in zip(ref, out):
            msg = _agree(r, o, rtol, atol)
            if msg:
                return msg
        return ""
    r = np.asarray(ref, dtype=np.float64)
    o = np.asarray(out, dtype=np.float64)
    if r.shape != o.shape:
        return "shape %s != %s" % (o.shape, r.shape)
    if r.size == 0:
        return ""
    if not np.allclose(o, r, rtol=rtol, atol=atol, equal_nan=True):
        err = np.max(np.abs(o - r) / (atol + rtol * np.abs(r)))
        return "MISMATCH (%.3g x tolerance)" % err
    return ""


def run_case(case, settings, impl_filter=None, log=None):
    """Measure every implementation of ``case``; returns a list of Result.

    Every implementation is set up, called for the first time, warmed up and
    calibrated; then the timed batches are interleaved (one batch of each
    implementation per round, ``settings.repeats`` rounds), so that a change
    in machine load during the case affects all implementations alike."""
    results, live = [], []
    try:
        for impl in case.impls:
            if impl_filter and impl.name not in impl_filter and impl.name not in case.baselines:
                continue
            res = Result(case.name, case.family, impl.name, case.unit, "ok", note=impl.note)
            results.append(res)
            cleanup = None
            try:
                t0 = time.perf_counter()
                made = impl.setup()
                res.setup_ms = (time.perf_counter() - t0) * 1e3
                step, cleanup = made if isinstance(made, tuple) else (made, None)
                first, kept, n, t = prepare(step, settings, keep=max(1, case.check_calls))
                res.first_call_ms = first * 1e3
                res.outputs = kept
                res.iters_per_batch = n
                live.append((res, step, cleanup, [t]))
            except Skip as e:
                res.status, res.reason = "skipped", str(e)
                _close(cleanup)
            except Exception as e:  # a broken implementation must not stop the other measurements
                res.status, res.reason = "error", "%s: %s" % (type(e).__name__, e)
                _close(cleanup)
        for _ in range(settings.repeats - 1):
            for res, step, _, times in live:
                if res.status != "ok":
                    continue
                try:
                    with _gc_off():
                        times.append(_round_median(step, res.iters_per_batch))
                except Exception as e:
                    res.status, res.reason = "error", "%s: %s" % (type(e).__name__, e)
        for res, _, _, times in live:
            if res.status == "ok":
                if len(times) > 2:
                    times = times[1:]  # the calibration batch: timed whole, before the rounds
                res.sec_per_iter = statistics.median(times)
                res.min_sec_per_iter = min(times)
                res.max_sec_per_iter = max(times)
                res.batches = len(times)
                res.rate = case.work / res.sec_per_iter
    finally:
        for _, _, cleanup, _ in live:
            _close(cleanup)
        live = None
        if not settings.quick:
            gc.collect()  # free the implementations' buffers (reference cycles) before the next case
    if log is not None:
        for res in results:
            log(res)
    _fill_ratios(case, results)
    _fill_checks(case, results)
    return results


def _close(cleanup):
    if cleanup is not None:
        try:
            cleanup()
        except Exception:
            pass


def _fill_ratios(case, results):
    by_name = {r.impl: r for r in results if r.status == "ok"}
    for r in results:
        if r.status != "ok":
            continue
        for b in case.baselines:
            base = by_name.get(b)
            if base is not None and base is not r:
                r.ratios[b] = base.sec_per_iter / r.sec_per_iter


def _fill_checks(case, results):
    ok = [r for r in results if r.status == "ok"]
    if not ok:
        return
    ref = next((r for r in ok if r.impl == case.reference), ok[0])
    for r in ok:
        if r is ref:
            r.check = "reference"
            continue
        msg = _agree(ref.outputs, r.outputs, case.rtol, case.atol)
        r.check = msg or "ok"


def evaluate_targets(case, results):
    """[{case, impl, description, value, threshold, met}] for the case's targets."""
    by_name = {r.impl: r for r in results if r.status == "ok"}
    out = []
    for t in case.targets:
        r = by_name.get(t.impl)
        entry = {"case": case.name, "impl": t.impl, "description": t.description}
        if t.max_us is not None:
            entry["threshold"] = "<= %g us/call" % t.max_us
            if r is not None:
                entry["value"] = r.sec_per_iter * 1e6
                entry["met"] = entry["value"] <= t.max_us
        else:
            entry["threshold"] = ">= %gx %s" % (t.min_ratio, t.versus)
            if r is not None and t.versus in r.ratios:
                entry["value"] = r.ratios[t.versus]
                entry["met"] = entry["value"] >= t.min_ratio
        if "met" not in entry:
            entry["value"] = None
            entry["met"] = None
            entry["note"] = "not measured (%s or %s missing)" % (t.impl, t.versus or "")
        out.append(entry)
    return out


# -- optional PyTorch ----------------------------------------------------------

_torch = None
_torch_checked = False


def torch_or_skip():
    """The torch module, threads set to the machine's cores; raises Skip if unavailable."""
    global _torch, _torch_checked
    if os.environ.get("NBFLOW_BENCH_NO_TORCH"):
        raise Skip("PyTorch disabled (--no-torch)")
    if not _torch_checked:
        _torch_checked = True
        try:
            import torch
        except Exception:
            _torch = None
        else:
            torch.set_num_threads(bench_threads())
            _torch = torch
    if _torch is None:
        raise Skip("PyTorch not installed")
    return _torch


# -- optional JAX -------------------------------------------------------------------

_jax = None
_jax_checked = False
_jax_reason = ""


def jax_or_skip():
    """The jax module (CPU backend), raising Skip if unavailable.

    Threads: XLA's CPU runtime has no setting for a thread count, only
    single-threaded or one thread per core; with ``--threads 1`` the
    ``XLA_FLAGS`` that make it single-threaded are added before jax is
    imported, otherwise it uses every core (as the other libraries do by
    default). JAX must not have been imported before the first call."""
    global _jax, _jax_checked, _jax_reason
    if os.environ.get("NBFLOW_BENCH_NO_JAX"):
        raise Skip("JAX disabled (--no-jax)")
    if not _jax_checked:
        _jax_checked = True
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        if bench_threads() == 1:
            flags = os.environ.get("XLA_FLAGS", "")
            extra = [f for f in ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")
                     if f.split("=")[0] not in flags]
            os.environ["XLA_FLAGS"] = " ".join([flags] + extra).strip()
        try:
            import jax
            jax.devices()  # initializes the backend (fails here, not inside a timed step)
        except Exception as e:
            _jax, _jax_reason = None, "JAX not installed" if isinstance(e, ImportError) else \
                "JAX unusable: %s: %s" % (type(e).__name__, e)
        else:
            _jax = jax
    if _jax is None:
        raise Skip(_jax_reason or "JAX not installed")
    return _jax


def jax_used():
    """The jax module if a benchmark imported it (for the machine description), else None."""
    return _jax


def bench_threads():
    """Threads each library may use (``--threads``; default all cores)."""
    return int(os.environ.get("NBFLOW_BENCH_THREADS") or os.cpu_count() or 1)


def torch_available():
    try:
        torch_or_skip()
        return True
    except Skip:
        return False


# -- nbflow helpers --------------------------------------------------------------

def nbflow_session(build):
    """Build a graph in a fresh tf.Graph with ``build(tf)`` and open a Session on it.

    Returns (tf, graph, session, whatever ``build`` returned)."""
    import nbflow as tf

    g = tf.Graph()
    with g.as_default():
        built = build(tf)
    sess = tf.Session(graph=g)
    return tf, g, sess, built


def nbflow_training_step(build, xs, ys):
    """One ``sess.run([train, loss])`` per call, cycling through the batches ``xs``/``ys``.

    ``build(tf)`` returns (x, y, loss, train, init). Returns (step, close) for a
    training-step case; ``step`` carries its session, fetches and feeds for
    benchmarks.plan_profile."""
    _, _, sess, (x, y, loss, train, init) = nbflow_session(build)
    sess.run(init)
    feeds = [{x: xb, y: yb} for xb, yb in zip(xs, ys)]
    fetches = [train, loss]
    run = sess.run
    state = [0]

    def step():
        i = state[0]
        state[0] = (i + 1) % len(feeds)
        return run(fetches, feed_dict=feeds[i])[1]
    step.session, step.fetches, step.feeds = sess, fetches, feeds
    return step, sess.close


def torch_training_step(loss_fn, optimizer, xs, ys):
    """One PyTorch training step per call (zero_grad, ``loss_fn(x, y)``, backward, step),
    cycling through the batches ``xs``/``ys``; returns the loss."""
    state = [0]

    def step():
        i = state[0]
        state[0] = (i + 1) % len(xs)
        optimizer.zero_grad()
        loss = loss_fn(xs[i], ys[i])
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def require(obj, *names):
    """Raise Skip unless ``obj`` has every attribute path in ``names`` ("nn.relu")."""
    missing = []
    for n in names:
        o = obj
        for part in n.split("."):
            o = getattr(o, part, None)
            if o is None:
                break
        if o is None:
            missing.append(n)
    if missing:
        raise Skip("nbflow lacks %s (not implemented yet)" % ", ".join("tf." + m for m in missing))
