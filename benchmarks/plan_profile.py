"""Where does an nbflow step's time go? Per-kernel timing of a benchmark's plan.

    python -m benchmarks.plan_profile CASE [--impl nbflow] [--runs 300] [--cprofile] [--top 25]

CASE is a benchmark name (``mlp/b128/sgd``, ``overhead/feed``, ...). The
nbflow implementation's compiled Plan (runtime/executor.py) is regenerated
with every kernel call wrapped in a timer; the report lists each step
(op or fused group) with its mean time per run, and compares the sum with
the time of ``Plan.run`` and of the whole ``Session.run`` -- the differences
are the generated step function's own Python cost and Session.run's (feed
checks, plan lookup, fetch copies). ``--cprofile`` adds a cProfile of
Session.run calls.

This reaches into Plan internals (``steps``, ``step_ops``, ``_compile_step``)
on purpose: it is a developer tool, not an API.
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"


def _label(plan, i):
    op = plan.step_ops[i]
    groups = {g.ops[-1]: g for g in getattr(plan, "fused_groups", ())}
    g = groups.get(op)
    if g is not None:
        return "fused[%s] %s" % ("+".join(o.type for o in g.ops), tuple(g.shape) if g.shape is not None else "")
    if not hasattr(op, "outputs") or op not in getattr(plan, "placement", {}):
        return getattr(op, "name", str(op))
    shapes = ",".join(str(plan.slot_shapes[plan.slot_of[t]]) for t in op.outputs if t in plan.slot_of)
    return "%s %s %s" % (op.type, op.name, shapes)


def profile_plan(session, fetches, feeds, runs=300, clock=None):
    """Per-step timing of the plan ``session.run(fetches, feeds[k])`` executes.

    ``clock`` times the kernels (default ``time.perf_counter``; ``time.thread_time``
    counts only the calling thread's CPU time: with one thread for Numba and
    BLAS, per-kernel numbers that other processes on the machine do not inflate).
    Returns (rows sorted by time, totals dict); times in seconds per run."""
    if isinstance(feeds, dict) or feeds is None:
        feeds = [feeds]
    # Wall time of the real Session.run, for comparison.
    for k in range(min(len(feeds), 5)):
        session.run(fetches, feed_dict=feeds[k])
    t0 = time.perf_counter()
    for k in range(runs):
        session.run(fetches, feed_dict=feeds[k % len(feeds)])
    t_session = (time.perf_counter() - t0) / runs

    plan = session.plan_for(fetches, feeds[0])
    values = [session._process_feeds(f)[1] for f in feeds]
    for v in values[:3]:
        plan.run(v)
    t0 = time.perf_counter()
    for k in range(runs):
        plan.run(values[k % len(values)])
    t_plan = (time.perf_counter() - t0) / runs

    acc = [0.0] * len(plan.steps)
    perf = clock or time.perf_counter

    def wrap(kernel, i):
        def timed(*args):
            t = perf()
            r = kernel(*args)
            acc[i] += perf() - t
            return r
        return timed

    original_steps = plan.steps
    plan.steps = [(wrap(k, i), ins, out, n) for i, (k, ins, out, n) in enumerate(original_steps)]
    plan._compile_step()
    for v in values[:3]:
        plan.run(v)
    acc[:] = [0.0] * len(acc)
    t0 = time.perf_counter()
    for k in range(runs):
        plan.run(values[k % len(values)])
    t_instrumented = (time.perf_counter() - t0) / runs
    plan.steps = original_steps
    plan._compile_step()
    rows = sorted(((acc[i] / runs, i, _label(plan, i)) for i in range(len(acc))), reverse=True)
    totals = {"session_run": t_session, "plan_run": t_plan, "instrumented_plan_run": t_instrumented,
              "kernels": sum(acc) / runs, "steps": len(acc), "fused_groups": len(getattr(plan, "fused_groups", ()))}
    return rows, totals


def report(rows, totals, top=25, file=None):
    file = file or sys.stdout
    k = totals["kernels"]
    print("Session.run %.1f us | Plan.run %.1f us | sum of %d kernel calls %.1f us (%d fused groups)"
          % (totals["session_run"] * 1e6, totals["plan_run"] * 1e6, totals["steps"], k * 1e6,
             totals["fused_groups"]), file=file)
    print("  Session.run outside Plan.run (feeds, plan lookup, fetch copies): %.1f us"
          % ((totals["session_run"] - totals["plan_run"]) * 1e6), file=file)
    print("  Plan.run outside kernels (generated step function, prechecks; timer cost excluded): ~%.1f us"
          % max(0.0, (totals["plan_run"] - k) * 1e6), file=file)
    print("%10s %6s  %s" % ("us/run", "%", "step"), file=file)
    for t, i, label in rows[:top]:
        print("%10.1f %5.1f%%  [%d] %s" % (t * 1e6, 100 * t / max(totals["plan_run"], 1e-12), i, label), file=file)
    if len(rows) > top:
        rest = sum(t for t, _, _ in rows[top:])
        print("%10.1f %5.1f%%  (%d more steps)" % (rest * 1e6, 100 * rest / max(totals["plan_run"], 1e-12),
                                                   len(rows) - top), file=file)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.plan_profile", description=__doc__.split("\n\n")[0])
    ap.add_argument("case")
    ap.add_argument("--impl", default="nbflow")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--quick", action="store_true", help="the --quick sizes")
    ap.add_argument("--cprofile", action="store_true", help="also cProfile Session.run")
    ap.add_argument("--cpu", action="store_true",
                    help="time kernels by the main thread's CPU time (time.thread_time): steady numbers on a "
                         "busy machine, meaningful with OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1")
    args = ap.parse_args(argv)

    from benchmarks import run

    family = args.case.split("/")[0]
    cases = [c for c in run.load_cases(args.quick, [family]) if c.name == args.case]
    if not cases:
        print("no case %r" % args.case, file=sys.stderr)
        return 2
    impl = next((i for i in cases[0].impls if i.name == args.impl), None)
    if impl is None:
        print("case %s has no implementation %r" % (args.case, args.impl), file=sys.stderr)
        return 2
    made = impl.setup()
    step = made[0] if isinstance(made, tuple) else made
    if not hasattr(step, "session"):
        print("implementation %r does not expose its session" % args.impl, file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    step()
    print("first call: %.1f ms" % ((time.perf_counter() - t0) * 1e3))
    rows, totals = profile_plan(step.session, step.fetches, step.feeds, args.runs,
                                clock=time.thread_time if args.cpu else None)
    print("%s (%s):" % (args.case, args.impl))
    report(rows, totals, args.top)
    if args.cprofile:
        feeds = step.feeds if isinstance(step.feeds, list) else [step.feeds]
        prof = cProfile.Profile()
        prof.enable()
        for k in range(args.runs):
            step.session.run(step.fetches, feed_dict=feeds[k % len(feeds)])
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(args.top)
        print(s.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
