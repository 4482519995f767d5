"""nbflow benchmark runner.

    python -m benchmarks.run [--only NAME ...] [--quick] [--json PATH] [--no-torch] [--no-jax]
    python benchmarks/run.py ...

NAME selects a family ("mlp", "lenet", "lstm", "overhead", "elementwise", "stream", "kernels", "planning",
"coldstart"), a case ("mlp/b128/sgd") or a glob over case names ("kernels/matmul*"). "coldstart" (each
iteration a fresh process, benchmarks/coldstart.py) runs only when named.
Prints one table row per (case, implementation) and writes every number,
with the machine, versions and thread counts, as JSON (default
benchmarks/results/latest.json).
"""
import argparse
import datetime
import fnmatch
import json
import os
import sys
import time

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

FAMILIES = ("overhead", "mlp", "lenet", "lstm", "elementwise", "stream", "kernels", "planning", "eager", "keras")
#: families run only when --only names them (each iteration is a whole fresh process)
OPTIONAL_FAMILIES = ("coldstart",)
DEFAULT_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "latest.json")


def load_cases(quick, families=FAMILIES):
    import importlib

    cases = []
    for fam in families:
        mod = importlib.import_module("benchmarks." + fam)
        cases.extend(mod.cases(quick))
    return cases


def select(cases, patterns):
    if not patterns:
        return list(cases)
    chosen = []
    for c in cases:
        for p in patterns:
            if c.family == p or c.name == p or fnmatch.fnmatchcase(c.name, p) or c.name.startswith(p.rstrip("/") + "/"):
                chosen.append(c)
                break
    return chosen


# -- formatting --------------------------------------------------------------------

def fmt_time(sec):
    if sec is None:
        return "-"
    if sec < 1e-3:
        return "%.2f us" % (sec * 1e6)
    if sec < 1.0:
        return "%.3f ms" % (sec * 1e3)
    return "%.3f s" % sec


def fmt_ms(ms):
    if ms is None:
        return "-"
    return "%.1f" % ms if ms >= 1 else "%.3f" % ms


def fmt_rate(rate, unit):
    if rate is None:
        return "-"
    if rate >= 100:
        return "%.0f %s" % (rate, unit)
    if rate >= 10:
        return "%.1f %s" % (rate, unit)
    return "%.2f %s" % (rate, unit)


def fmt_ratio(r):
    return "-" if r is None else "%.2fx" % r


def table(results, baselines):
    from benchmarks import harness

    head = ["benchmark", "impl", "first call", "time/iter", "spread", "rate"] + ["vs " + b for b in baselines] + ["check"]
    rows = []
    for r in results:
        if r.status != "ok":
            rows.append([r.case, r.impl, "-", r.status, "", r.reason] + [""] * len(baselines) + [""])
            continue
        spread = harness.spread(r)
        rows.append([r.case, r.impl, fmt_ms(r.first_call_ms) + " ms", fmt_time(r.sec_per_iter),
                     "%.0f%%" % (100 * spread), fmt_rate(r.rate, r.unit)] + [fmt_ratio(r.ratios.get(b)) if b != r.impl else "1.00x"
                                                  for b in baselines] + [r.check])
    widths = [max(len(str(x[i])) for x in [head] + rows) for i in range(len(head))]
    # a long skip reason should not widen the whole column
    widths[5] = min(widths[5], 16)
    lines = []

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            c = str(c)
            out.append(c.ljust(widths[i]) if i in (0, 1) or i == len(cells) - 1 else c.rjust(widths[i])
                       if len(c) <= widths[i] else c)
        return "  ".join(out).rstrip()

    lines.append(line(head))
    lines.append("  ".join("-" * w for w in widths))
    prev = None
    for r, row in zip(results, rows):
        if prev is not None and r.case != prev:
            lines.append("")
        prev = r.case
        lines.append(line(row))
    return "\n".join(lines)


def targets_table(targets):
    lines = []
    for t in targets:
        if t["met"] is None:
            status = "n/a "
            value = t.get("note", "")
        else:
            status = "MET " if t["met"] else "MISS"
            value = ("%.2f us" % t["value"]) if "us" in t["threshold"] else ("%.2fx" % t["value"])
        lines.append("[%s] %-22s %-8s %s (target %s): %s" % (status, t["case"], t["impl"], t["description"],
                                                            t["threshold"], value))
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="families, case names or globs to run")
    ap.add_argument("--impl", nargs="+", metavar="IMPL",
                    help="run only these implementations (plus each case's baselines)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and short timings (a smoke test)")
    ap.add_argument("--json", metavar="PATH", default=DEFAULT_JSON, help="where to write the results")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch implementations")
    ap.add_argument("--no-jax", action="store_true", help="skip the JAX implementations")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for PyTorch, Numba and BLAS (default: all cores)")
    ap.add_argument("--cold", action="store_true",
                    help="empty Numba and nbflow kernel caches (a temporary directory), so 'first call' "
                         "includes compiling every kernel")
    ap.add_argument("--contend", type=int, default=0, metavar="N",
                    help="run N busy-looping processes during the measurements (a neighbour taking cores "
                         "away; benchmarks/contention.py)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)

    if args.no_torch:
        os.environ["NBFLOW_BENCH_NO_TORCH"] = "1"
    if args.no_jax:
        os.environ["NBFLOW_BENCH_NO_JAX"] = "1"
    threads = args.threads or os.cpu_count() or 1
    if args.threads:
        # BLAS reads these when it is loaded (numpy's import): set them first.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ[var] = str(threads)
    os.environ["NBFLOW_BENCH_THREADS"] = str(threads)
    cold_dir = None
    if args.cold:
        if "numba" in sys.modules:
            print("--cold must be set before Numba is imported (use the command line)", file=sys.stderr)
            return 2
        import tempfile

        cold_dir = tempfile.mkdtemp(prefix="nbflow-bench-cold-")
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(cold_dir, "numba")
        os.environ["NBFLOW_CACHE_DIR"] = os.path.join(cold_dir, "nbflow")
    load_before = _loadavg()
    import nbflow  # noqa: F401  chooses Numba's threading layer before any baseline's parallel loop
    from benchmarks import harness
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    settings = harness.Settings.for_mode(args.quick)
    families = FAMILIES
    if args.only:
        families = [f for f in FAMILIES + OPTIONAL_FAMILIES
                    if any(fnmatch.fnmatchcase(f, p.split("/")[0]) for p in args.only)]
    cases = select(load_cases(args.quick, families), args.only)
    if args.list:
        for c in cases:
            print("%-28s %s" % (c.name, c.description))
        return 0
    if not cases:
        print("no benchmark matches %s" % (args.only,), file=sys.stderr)
        return 2

    torch = None
    if harness.torch_available():
        torch = harness.torch_or_skip()
    from benchmarks import env

    if load_before and load_before[0] > 0.5 * (os.cpu_count() or 1):
        advice = ("multi-threaded implementations (torch, BLAS, njit-parallel) may stall waiting for a core; "
                  "consider --threads 1 or a quiet machine" if threads > 1 else "timings may be inflated")
        print("warning: load average %.2f on %d cores -- other processes are running; %s."
              % (load_before[0], os.cpu_count(), advice), file=sys.stderr)
    started = time.time()
    all_results, all_targets = [], []
    from benchmarks.contention import BusyNeighbours

    with BusyNeighbours(args.contend):
        for case in cases:
            print("running %-32s" % case.name, end="", file=sys.stderr, flush=True)
            t0 = time.time()
            results = harness.run_case(case, settings, impl_filter=args.impl)
            print(" %6.1f s" % (time.time() - t0), file=sys.stderr, flush=True)
            all_results.extend(results)
            all_targets.extend(harness.evaluate_targets(case, results))

    baselines = []
    for c in cases:
        for b in c.baselines:
            if b not in baselines:
                baselines.append(b)
    print()
    print(table(all_results, baselines))
    stability = stability_table(all_results)
    if stability:
        print()
        print("Spread of the per-round medians (max - min) / median, nbflow vs torch:")
        print(stability)
    if all_targets:
        print()
        print("Targets:")
        print(targets_table(all_targets))
    machine = env.describe(torch)
    machine["load_average_before"] = load_before
    machine["load_average_after"] = _loadavg()
    machine["busy_neighbours"] = args.contend
    print()
    print("machine: %s, %s cores; numpy %s, numba %s, torch %s (threads: torch %s, numba %s); "
          "load average before/after: %s / %s" % (
              machine["cpu"], machine["cores"], machine["numpy"], machine["numba"], machine["torch"] or "-",
              machine["threads"].get("torch_intra_op", "-"), machine["threads"]["numba"],
              load_before and load_before[0], machine["load_average_after"] and machine["load_average_after"][0]))
    if args.contend:
        print("measured with %d busy-looping neighbour process(es) running (--contend)" % args.contend)
    print("time/iter: median of the per-round medians (%d alternated rounds, each the median of %d "
          "sub-batches); spread: (max - min) / median of them; vs X: speed ratio "
          "(X's time / this time, > 1 = faster than X)" % (max(1, settings.repeats - 1), harness.SUB_BATCHES))

    doc = {
        "schema": "nbflow-benchmarks/1",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "command": " ".join(["python -m benchmarks.run"] + (argv if argv is not None else sys.argv[1:])),
        "elapsed_s": round(time.time() - started, 1),
        "settings": {"min_batch_s": settings.min_batch_s, "repeats": settings.repeats, "warmup": settings.warmup,
                     "statistic": "median of batches"},
        "machine": machine,
        "cases": [{"name": c.name, "family": c.family, "description": c.description, "unit": c.unit,
                   "work_per_iter": c.work, "baselines": list(c.baselines)} for c in cases],
        "results": [_result_json(r) for r in all_results],
        "targets": all_targets,
    }
    doc["cold_caches"] = bool(args.cold)
    if cold_dir is not None:
        import shutil

        shutil.rmtree(cold_dir, ignore_errors=True)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1, default=_json_default)
        print("results written to %s" % args.json)
    return 0


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _result_json(r):
    d = {k: getattr(r, k) for k in ("case", "family", "impl", "unit", "status", "reason", "note", "setup_ms",
                                    "first_call_ms", "sec_per_iter", "min_sec_per_iter", "max_sec_per_iter",
                                    "iters_per_batch", "batches", "rate", "ratios", "check")}
    d["ms_per_iter"] = r.sec_per_iter * 1e3 if r.sec_per_iter is not None else None
    from benchmarks import harness

    d["spread"] = harness.spread(r)
    return d


def stability_table(results):
    """Per case with both: nbflow's spread of per-round medians against PyTorch's (issue 16:
    nbflow's no larger)."""
    from benchmarks import harness

    by_case = {}
    for r in results:
        if r.status == "ok" and r.impl in ("nbflow", "torch"):
            by_case.setdefault(r.case, {})[r.impl] = harness.spread(r)
    lines = []
    for case, d in by_case.items():
        if len(d) == 2:
            lines.append("%-32s nbflow %5.1f%%  torch %5.1f%%  %s" % (
                case, 100 * d["nbflow"], 100 * d["torch"], "ok" if d["nbflow"] <= d["torch"] else "nbflow wider"))
    return "\n".join(lines)


def _json_default(o):
    try:
        return float(o)
    except Exception:
        return str(o)


if __name__ == "__main__":
    sys.exit(main())
