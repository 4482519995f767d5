"""Thread scaling (issue 16): each workload at 1 thread and at all cores, as a speed-up.

    python -m benchmarks.scaling [--quick] [--threads N] [--rounds R] [--json PATH]

Workloads (nbflow only, through ``Session.run`` as in the other families):
chain6 and the damped wave (``elementwise/*``, 10M float32), softmax and
sparse cross-entropy on 1024x1000, ``reduce_sum`` of 16M float32, the LeNet
b64 and MLP b128 SGD training steps; and two references that are not
nbflow, to read the memory-bound speed-ups against: chain6 as a hand-written
``prange`` loop, and the STREAM triad as a ``parallel=True`` loop (how much a
second core adds to this machine's memory bandwidth).

Every measurement is a fresh process (``python -m benchmarks.scaling --child``)
whose thread count is fixed before numpy, Numba or BLAS are loaded:
``NUMBA_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS``
set to it, and nbflow's sessions use the default ``ConfigProto``
(``intra_op_parallelism_threads=0``: all of Numba's threads). The parent
alternates 1 thread and N threads for ``--rounds`` rounds (default 2; the
load of a shared machine hits both alike) and reports, per workload, the
median time per step at each count and the speed-up t(1) / t(N).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: (label, benchmark family, case name with the sizes of a full run, case name with --quick's sizes[,
#: implementation -- nbflow when not named])
WORKLOADS = [
    ("chain6", "elementwise", "elementwise/chain", "elementwise/chain"),
    # references: how far the machine itself scales a memory-bound loop
    ("chain6 by hand", "elementwise", "elementwise/chain", "elementwise/chain", "njit-prange"),
    ("STREAM triad", "stream", "stream/triad", "stream/triad", "njit-parallel"),
    ("damped wave", "elementwise", "elementwise/wave", "elementwise/wave"),
    ("softmax 1024x1000", "kernels", "kernels/softmax/1024x1000", "kernels/softmax/64x100"),
    ("xent 1024x1000", "kernels", "kernels/xent/1024x1000", "kernels/xent/64x100"),
    ("reduce_sum 16M", "kernels", "kernels/reduce/sum_16M", "kernels/reduce/sum_16M"),
    ("LeNet b64 SGD", "lenet", "lenet/b64/sgd", "lenet/b4/sgd"),
    ("MLP b128 SGD", "mlp", "mlp/b128/sgd", "mlp/b128/sgd"),
]


def _child(quick):
    """Measure every workload's nbflow implementation in this process; JSON on stdout."""
    import importlib

    import nbflow  # noqa: F401  chooses Numba's threading layer before the references' parallel loops

    from benchmarks import harness

    settings = harness.Settings.for_mode(quick)
    if not quick:
        settings.repeats = 6  # 5 rounds: the parent repeats the whole process too
    out = {}
    loaded = {}
    for label, family, full, small, *impl in WORKLOADS:
        name = small if quick else full
        if family not in loaded:
            loaded[family] = importlib.import_module("benchmarks." + family).cases(quick)
        case = next((c for c in loaded[family] if c.name == name), None)
        if case is None:
            out[label] = {"case": name, "error": "no such case"}
            continue
        nb = [i for i in case.impls if i.name == (impl[0] if impl else "nbflow")]
        solo = harness.Case(case.name, case.family, case.description, nb, unit=case.unit, work=case.work,
                            baselines=(), check_calls=1)
        res = harness.run_case(solo, settings)[0]
        out[label] = {"case": name, "status": res.status, "reason": res.reason,
                      "sec_per_iter": res.sec_per_iter, "spread": harness.spread(res)}
    import numba

    out["_threads"] = {"numba": numba.get_num_threads()}
    json.dump(out, sys.stdout)


def _run_child(threads, quick):
    env = dict(os.environ)
    for var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "NBFLOW_BENCH_THREADS"):
        env[var] = str(threads)
    env["NBFLOW_BENCH_NO_TORCH"] = env["NBFLOW_BENCH_NO_JAX"] = "1"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "benchmarks.scaling", "--child"] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("scaling child (%d threads) failed:\n%s" % (threads, proc.stderr[-3000:]))
    return json.loads(proc.stdout)


def measure(threads, rounds, quick, log=None):
    """{label: {1: [sec per round], threads: [...]}} with 1 and ``threads`` alternated per round."""
    counts = [1, threads] if threads > 1 else [1]
    times = {label: {c: [] for c in counts} for label, *_ in WORKLOADS}
    info = {}
    for r in range(rounds):
        for c in counts:
            t0 = time.time()
            got = _run_child(c, quick)
            info[c] = got.pop("_threads")
            if info[c]["numba"] != c:
                raise RuntimeError("the child ran %d Numba threads, not %d" % (info[c]["numba"], c))
            for label, d in got.items():
                if d.get("status") == "ok":
                    times[label][c].append(d["sec_per_iter"])
            if log:
                log("round %d, %d thread(s): %.1f s" % (r + 1, c, time.time() - t0))
    return times


def report(times, threads, quick):
    rows = []
    for label, _, full, small, *_ in WORKLOADS:
        case = small if quick else full
        t1 = times[label].get(1) or []
        tn = times[label].get(threads) or []
        if not t1 or not tn:
            rows.append({"workload": label, "case": case, "t1": None, "tn": None, "speedup": None})
            continue
        m1, mn = statistics.median(t1), statistics.median(tn)
        rows.append({"workload": label, "case": case, "t1": m1, "tn": mn, "speedup": m1 / mn,
                     "t1_rounds": t1, "tn_rounds": tn})
    return rows


def _fmt(t):
    if t is None:
        return "-"
    return "%.1f us" % (t * 1e6) if t < 1e-3 else "%.2f ms" % (t * 1e3)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one round (a smoke test)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="the 'all cores' count")
    ap.add_argument("--rounds", type=int, default=None, help="alternated rounds (default 2, --quick 1)")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.quick)
        return 0
    rounds = args.rounds or (1 if args.quick else 2)
    load = os.getloadavg()
    times = measure(args.threads, rounds, args.quick, log=lambda m: print(m, file=sys.stderr, flush=True))
    rows = report(times, args.threads, args.quick)
    print("%-18s %-26s %12s %12s %9s" % ("workload", "case", "1 thread", "%d threads" % args.threads, "speed-up"))
    for r in rows:
        print("%-18s %-26s %12s %12s %9s" % (r["workload"], r["case"], _fmt(r["t1"]), _fmt(r["tn"]),
                                             "-" if r["speedup"] is None else "%.2fx" % r["speedup"]))
    print("median over %d alternated round(s), each a fresh process per thread count; load average before/after: "
          "%.2f / %.2f; %d cores" % (rounds, load[0], os.getloadavg()[0], os.cpu_count() or 1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"schema": "nbflow-scaling/1", "quick": args.quick, "threads": args.threads,
                       "rounds": rounds, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
