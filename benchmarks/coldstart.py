"""Cold start: what the first run of the MNIST script pays for compiling (issue 15, item 8).

Every measurement runs ``examples/mnist.py`` (its default MLP run, or a
shorter one) in a FRESH Python process. *Cold* runs start with empty kernel
caches (a new temporary ``NBFLOW_CACHE_DIR`` and ``NUMBA_CACHE_DIR`` each), so
every kernel compiles; *warm* runs reuse the caches a cold run filled.

* ``coldstart/first-step``: process start to the end of the script's first
  training step (imports, data, graph, initialisation, the first
  ``sess.run([train_op, ...])``); then the process stops.
* ``coldstart/mnist``: the whole default run (20 epochs), process start to exit
  (``--quick``: ``--fast --epochs 1``).

Each case has the implementations ``nbflow-cold`` and ``nbflow-warm``; the
ratio column ``vs nbflow-warm`` is warm time / cold time. Through
``python -m benchmarks.run`` these cases run only when named (``--only
coldstart``): each iteration is a whole process.

    python -m benchmarks.coldstart [--quick] [--repeats N] [--first-step-only] [--json PATH] [-- MNIST ARGS]

runs cold and warm processes alternately (``--repeats`` pairs) and prints, for
each, wall time and CPU time of the process (user + system, all threads), the
first training step (its ``Session.run`` alone, and process start to its end,
with the phases before it), the kernels compiled and the seconds spent
compiling them, timed with Numba's ``numba:compile`` events (exclusive: a
kernel compiled while typing another -- a callee -- is counted once, for
itself), and a per-kernel profile: each function, how many signatures it
compiled, and its seconds. Warm runs should compile nothing; any kernel they
compile is one the disk cache cannot hold. The machine may be shared: compare
CPU times as well as wall times, and runs from the same report only.

Only a measurement: the child process wraps ``Session.run``, the script's
``build_graph`` and Numba's cache loads to time them.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = os.path.join(ROOT, "examples", "mnist.py")
QUICK_ARGS = ["--fast", "--epochs", "1"]


# -- the child process ------------------------------------------------------------------------

def _child(out_path, what, script_args):
    """Run examples/mnist.py's main() in this (fresh) process, instrumented; write a JSON record."""
    import resource
    import threading

    t_start = time.time()
    rec = {"what": what, "t_spawn": float(os.environ.get("NBFLOW_COLDSTART_T0", t_start)),
           "t_start": t_start, "phases": {}, "runs": [], "compiles": [], "cache_loads": [0, 0.0],
           "cache_saves": [0, 0.0]}

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def mark(name):
        rec["phases"][name] = (time.time(), cpu())

    mark("interpreter")
    from numba.core import caching, event

    records = rec["compiles"]
    local = threading.local()

    class CompileTimer(event.Listener):
        def on_start(self, ev):
            stack = getattr(local, "stack", None)
            if stack is None:
                stack = local.stack = []
            stack.append([time.perf_counter(), time.thread_time(), 0.0, 0.0])

        def on_end(self, ev):
            t0, c0, nested, nested_cpu = local.stack.pop()
            dt = time.perf_counter() - t0
            dc = time.thread_time() - c0
            if local.stack:
                local.stack[-1][2] += dt
                local.stack[-1][3] += dc
            d = ev.data
            f = getattr(d.get("dispatcher"), "py_func", None)
            name = "%s.%s" % (f.__module__, f.__qualname__) if f is not None else str(d.get("dispatcher"))
            records.append([name, str(d.get("args")), dt, dt - nested, len(local.stack), dc, dc - nested_cpu])

    event.register("numba:compile", CompileTimer())
    load = caching.Cache.load_overload

    def timed_load(self, *a, **k):
        t0 = time.perf_counter()
        got = None
        try:
            got = load(self, *a, **k)
            return got
        finally:
            rec["cache_loads"][0] += got is not None
            rec["cache_loads"][1] += time.perf_counter() - t0
    caching.Cache.load_overload = timed_load
    save = caching.Cache.save_overload

    def timed_save(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return save(self, *a, **k)
        finally:
            rec["cache_saves"][0] += 1
            rec["cache_saves"][1] += time.perf_counter() - t0
    caching.Cache.save_overload = timed_save
    mark("numba")
    import nbflow as tf
    mark("nbflow")
    import importlib.util

    spec = importlib.util.spec_from_file_location("nbflow_mnist_example", MNIST)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mark("script")
    graph = {}
    build = mod.build_graph

    def build_graph(*a, **k):
        g = build(*a, **k)
        graph.update(g)
        mark("graph")
        return g
    mod.build_graph = build_graph

    class Stop(Exception):
        pass

    def finish():
        rec["t_end"] = time.time()
        rec["cpu_end"] = cpu()
        with open(out_path, "w") as f:
            json.dump(rec, f)

    run = tf.Session.run

    def timed_run(self, fetches, *a, **k):
        is_train = isinstance(fetches, (list, tuple)) and "train_op" in graph and \
            any(x is graph["train_op"] for x in fetches)
        first_train = is_train and "first_step" not in rec
        t0, c0, n0 = time.time(), cpu(), len(records)
        out = run(self, fetches, *a, **k)
        t1, c1 = time.time(), cpu()
        if len(rec["runs"]) < 20 or len(records) > n0:  # the first calls, and every call that compiled
            rec["runs"].append([len(rec["runs"]), "train" if is_train else "other", t0, t1, c0, c1,
                                len(records) - n0])
        if first_train:
            rec["first_step"] = [t0, t1, c0, c1]
            if what == "first-step":
                raise Stop()
        return out
    tf.Session.run = timed_run
    try:
        mod.main(script_args)
    except Stop:
        finish()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # the script's writers and session are left as they are
    finish()


# -- the parent: fresh processes ----------------------------------------------------------------

def run_process(what, cache_dir, script_args, env=None):
    """One fresh process running the script with caches in ``cache_dir``.

    Returns the child's record plus "wall" and "cpu" (the whole process, from
    the parent's view: spawn to exit; user + system of all its threads)."""
    import resource

    env = dict(os.environ if env is None else env)
    env["NBFLOW_CACHE_DIR"] = os.path.join(cache_dir, "nbflow")
    env["NUMBA_CACHE_DIR"] = os.path.join(cache_dir, "numba")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the script sets it (before numpy loads)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    fd, out_path = tempfile.mkstemp(prefix="nbflow-coldstart-", suffix=".json")
    os.close(fd)
    logdir = tempfile.mkdtemp(prefix="nbflow-coldstart-logs-")
    args = ["--no-progress", "--logdir", logdir] + list(script_args)
    cmd = [sys.executable, "-m", "benchmarks.coldstart", "--child", out_path, what, "--"] + args
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        env["NBFLOW_COLDSTART_T0"] = repr(t0)
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.time() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError("%s run failed (exit %d):\n%s" % (what, proc.returncode, proc.stderr[-3000:]))
        with open(out_path) as f:
            rec = json.load(f)
    finally:
        os.unlink(out_path)
        shutil.rmtree(logdir, ignore_errors=True)
    rec["wall"] = wall
    rec["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rec["stdout_tail"] = proc.stdout[-400:]
    return rec


def summarize(rec):
    """The numbers of one process record (seconds)."""
    t_spawn = rec["t_spawn"]
    s = {"wall": rec["wall"], "cpu": rec["cpu"]}
    fs = rec.get("first_step")
    if fs:
        s["first_step_wall"] = fs[1] - fs[0]
        s["first_step_cpu"] = fs[3] - fs[2]
        s["to_first_step_wall"] = fs[1] - t_spawn
        s["to_first_step_cpu"] = fs[3]
    comp = rec["compiles"]
    s["compiles"] = len(comp)
    s["compile_s"] = sum(c[3] for c in comp)
    s["compile_cpu"] = sum(c[6] for c in comp)
    s["cache_loads"], s["cache_load_s"] = rec["cache_loads"]
    s["cache_saves"], s["cache_save_s"] = rec.get("cache_saves", (0, 0.0))
    return s


def phases(rec):
    """[(phase, wall s, cpu s)] from process start to the end of the first training step."""
    order = ["interpreter", "numba", "nbflow", "script", "graph"]
    names = {"interpreter": "interpreter start", "numba": "import numba (+numpy)", "nbflow": "import nbflow",
             "script": "import the script (tqdm, ...)", "graph": "data + graph construction"}
    out, prev_t, prev_c = [], rec["t_spawn"], 0.0
    for p in order:
        if p in rec["phases"]:
            t, c = rec["phases"][p]
            out.append((names[p], t - prev_t, c - prev_c))
            prev_t, prev_c = t, c
    fs = rec.get("first_step")
    if fs:
        out.append(("Session.runs before the first step", fs[0] - prev_t, fs[2] - prev_c))
        out.append(("first training step", fs[1] - fs[0], fs[3] - fs[2]))
    return out


def kernel_profile(records):
    """[(name, compiles, distinct signatures, exclusive CPU s, inclusive CPU s of top-level compiles,
    exclusive wall s)], most CPU first. CPU: the compiling thread's."""
    by = {}
    for name, sig, incl, excl, depth, incl_cpu, excl_cpu in records:
        e = by.setdefault(name, [0, set(), 0.0, 0.0, 0.0])
        e[0] += 1
        e[1].add(sig)
        e[2] += excl_cpu
        if depth == 0:
            e[3] += incl_cpu
        e[4] += excl
    rows = [(n, e[0], len(e[1]), e[2], e[3], e[4]) for n, e in by.items()]
    rows.sort(key=lambda r: -r[3])
    return rows


def _short(name):
    if name.startswith("nbflow_gen_"):
        parts = name.split("_")
        return "<generated %s %s>.kernel" % (parts[2], parts[3].split(".")[0][:8])
    return name.replace("nbflow.kernels.cpu.", "kernels.cpu.")


def profile_table(records, top=30, file=None):
    rows = kernel_profile(records)
    gen = [r for r in rows if r[0].startswith("nbflow_gen_")]
    p = lambda *a: print(*a, file=file)  # noqa: E731
    p("  %8s %8s %8s %5s %4s  %s" % ("excl CPU", "top CPU", "excl wall", "comp", "sigs",
                                      "function (excl: its own compile; top: with its callees, when compiled "
                                      "from Python)"))
    for name, n, sigs, excl, incl, wall in rows[:top]:
        p("  %8.2f %8.2f %8.2f %5d %4d  %s" % (excl, incl, wall, n, sigs, _short(name)))
    if len(rows) > top:
        rest = rows[top:]
        p("  %8.2f %8s %8.2f %5d %4s  (%d more functions)" % (sum(r[3] for r in rest), "", sum(r[5] for r in rest),
                                                              sum(r[1] for r in rest), "", len(rest)))
    p("  generated element-wise/fused kernels: %d, %.2f s CPU; static kernels and helpers: %d functions, %.2f s CPU"
      % (len(gen), sum(r[3] for r in gen), len(rows) - len(gen), sum(r[3] for r in rows if r not in gen)))
    multi = [(r[0], r[2]) for r in rows if r[2] > 1]
    if multi:
        p("  functions with several signatures: " + ", ".join("%s (%d)" % (_short(n), k) for n, k in multi))


def _fmt(vals, unit="s"):
    if not vals:
        return "-"
    if len(vals) == 1:
        return "%.2f %s" % (vals[0], unit)
    return "%.2f %s (%s)" % (statistics.median(vals), unit, " ".join("%.2f" % v for v in vals))


def report(script_args, repeats=2, first_step_only=False, file=None, json_path=None):
    """Alternate cold and warm fresh processes; print the comparison and the cold compile profile."""
    file = file or sys.stdout
    p = lambda *a: print(*a, file=file, flush=True)  # noqa: E731
    what = "first-step" if first_step_only else "run"
    cold, warm = [], []
    load0 = _loadavg()
    for i in range(repeats):
        d = tempfile.mkdtemp(prefix="nbflow-coldstart-cache-")
        try:
            cold.append(run_process(what, d, script_args))
            warm.append(run_process(what, d, script_args))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    load1 = _loadavg()
    sc = [summarize(r) for r in cold]
    sw = [summarize(r) for r in warm]
    col = lambda ss, k: [s[k] for s in ss if k in s]  # noqa: E731
    p("coldstart: python examples/mnist.py %s (%s), %d cold + %d warm fresh processes, alternated"
      % (" ".join(script_args) or "(default run)", "stopped after the first training step" if first_step_only
         else "whole run", repeats, repeats))
    p("load average before/after: %s / %s on %d cores; median (each run)" % (load0 and load0[0], load1 and load1[0],
                                                                              os.cpu_count()))
    p("")
    p("%-40s %-26s %-26s" % ("", "cold (empty caches)", "warm"))
    rows = [("process wall (spawn to exit)", "wall"), ("process CPU (user+sys)", "cpu"),
            ("first training step: wall", "first_step_wall"), ("first training step: CPU", "first_step_cpu"),
            ("process start to first step: wall", "to_first_step_wall"),
            ("process start to first step: CPU", "to_first_step_cpu"),
            ("kernels compiled (compile events)", "compiles"), ("compiling: wall (sum of events)", "compile_s"),
            ("compiling: CPU of the compiling thread", "compile_cpu"),
            ("kernels loaded from the disk cache", "cache_loads"),
            ("disk cache lookups, hit or miss (wall)", "cache_load_s"),
            ("kernels saved to the disk cache", "cache_saves"), ("saving them (wall)", "cache_save_s")]
    for label, k in rows:
        unit = "" if k in ("compiles", "cache_loads", "cache_saves") else "s"
        fmt = (lambda v: _fmt(v, unit)) if unit else (lambda v: " ".join("%d" % x for x in v))
        p("%-40s %-26s %-26s" % (label, fmt(col(sc, k)), fmt(col(sw, k))))
    if not first_step_only:
        dw = [c["wall"] - w["wall"] for c, w in zip(sc, sw)]
        dc = [c["cpu"] - w["cpu"] for c, w in zip(sc, sw)]
        p("%-40s %-26s" % ("compile overhead (cold - warm): wall", _fmt(dw)))
        p("%-40s %-26s" % ("compile overhead (cold - warm): CPU", _fmt(dc)))
    p("")
    p("phases to the end of the first training step (first pair), wall / CPU s:")
    for (name, tw, cw), (_, tw2, cw2) in zip(phases(cold[0]), phases(warm[0])):
        p("  %-38s cold %6.2f / %6.2f   warm %6.2f / %6.2f" % (name, tw, cw, tw2, cw2))
    p("")
    p("Session.run calls that compiled (cold, first run): index, kind, wall s, CPU s, compile events")
    for idx, kind, t0, t1, c0, c1, n in cold[0]["runs"]:
        if n:
            p("  #%-4d %-6s %6.2f %6.2f %4d" % (idx, kind, t1 - t0, c1 - c0, n))
    p("")
    comp = cold[0]["compiles"]
    p("compile profile of the first cold run: %d compile events, %d functions, %d signatures, %.2f s CPU "
      "(%.2f s wall)" % (len(comp), len({c[0] for c in comp}), len({(c[0], c[1]) for c in comp}),
                         sum(c[6] for c in comp), sum(c[3] for c in comp)))
    profile_table(comp, file=file)
    for r in warm:
        if r["compiles"]:
            p("warm run compiled %d functions (not cached?): %s" % (
                len(r["compiles"]), ", ".join(sorted({_short(c[0]) for c in r["compiles"]}))))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"script_args": script_args, "what": what, "cold": cold, "warm": warm,
                       "load_average": [load0, load1]}, f)
        p("records written to %s" % json_path)
    return sc, sw


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# -- the benchmark-runner protocol ------------------------------------------------------------

def _impl(what, script_args, warm):
    def setup():
        if warm:
            d = tempfile.mkdtemp(prefix="nbflow-coldstart-cache-")
            run_process(what, d, script_args)  # fill the caches

            def step():
                run_process(what, d, script_args)
            return step, (lambda: shutil.rmtree(d, ignore_errors=True))

        def step():
            d = tempfile.mkdtemp(prefix="nbflow-coldstart-cache-")
            try:
                run_process(what, d, script_args)
            finally:
                shutil.rmtree(d, ignore_errors=True)
        return step
    return setup


def cases(quick):
    from benchmarks.harness import Case, Impl

    args = QUICK_ARGS if quick else []
    label = " ".join(args) or "default run"
    out = []
    for what, name, desc in (("first-step", "first-step", "MNIST script (%s): process start to its first "
                                                         "training step, fresh process" % label),
                             ("run", "mnist", "MNIST script (%s): the whole run, fresh process" % label)):
        out.append(Case("coldstart/" + name, "coldstart", desc,
                        [Impl("nbflow-cold", _impl(what, args, False), note="empty caches"),
                         Impl("nbflow-warm", _impl(what, args, True), note="caches filled by a first run")],
                        unit="processes/s", baselines=("nbflow-warm",)))
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        out_path, what = argv[1], argv[2]
        rest = argv[3:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        _child(out_path, what, rest)
        return 0
    script_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, script_args = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="python -m benchmarks.coldstart", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the script's --fast run, 1 epoch (a smoke test)")
    ap.add_argument("--repeats", type=int, default=2, help="cold/warm pairs of processes (default 2)")
    ap.add_argument("--first-step-only", action="store_true",
                    help="stop each process after its first training step")
    ap.add_argument("--json", metavar="PATH", help="also write every process's record")
    args = ap.parse_args(argv)
    if args.quick and not script_args:
        script_args = list(QUICK_ARGS)
    report(script_args, repeats=args.repeats, first_step_only=args.first_step_only, json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
