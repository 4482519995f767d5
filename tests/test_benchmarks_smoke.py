"""Smoke tests of the benchmark runner (benchmarks/run.py).

They check that the runner works and writes well-formed results; they never
assert a speed (speed is a ratio the benchmarks report, not a test).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import harness, run  # noqa: E402


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "out.json"
    # The benchmarks' own @njit(cache=True) loops (stream, elementwise) are not
    # nbflow's kernels, so Numba would cache them in benchmarks/__pycache__: the
    # run caches them in a directory deleted afterwards, leaving the tree clean.
    numba_cache = tempfile.mkdtemp(prefix="nbflow-test-bench-numba-")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.run", "--quick", "--no-torch", "--threads", "1", "--json", str(path)],
            cwd=ROOT, env=dict(_env(), NUMBA_CACHE_DIR=numba_cache), capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(numba_cache, ignore_errors=True)
    return proc, path


def test_quick_run_succeeds_and_prints_table(quick_run):
    proc, _ = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    header = next(line for line in proc.stdout.splitlines() if line.startswith("benchmark"))
    for col in ("impl", "first call", "time/iter", "rate", "vs numpy"):
        assert col in header
    assert "overhead/feed" in proc.stdout and "mlp/b128/sgd" in proc.stdout
    assert "planning/gan-loop" in proc.stdout and "planning/new-fetch" in proc.stdout


def test_quick_run_writes_valid_json(quick_run):
    proc, path = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(path) as f:
        doc = json.load(f)
    assert doc["schema"] == "nbflow-benchmarks/1"
    assert doc["quick"] is True
    machine = doc["machine"]
    assert machine["cores"] == os.cpu_count()
    assert machine["numpy"] == np.__version__
    assert machine["torch"] is None  # --no-torch
    assert machine["threads"]["numba"] == 1
    families = {c["family"] for c in doc["cases"]}
    assert families == set(run.FAMILIES)
    by_case = {}
    for r in doc["results"]:
        by_case.setdefault(r["case"], {})[r["impl"]] = r
    assert set(by_case) == {c["name"] for c in doc["cases"]}
    for case, impls in by_case.items():
        for name, r in impls.items():
            # an implementation may be skipped (not installed / not implemented yet), never broken
            assert r["status"] in ("ok", "skipped"), (case, name, r["reason"])
            if r["status"] == "ok":
                assert r["sec_per_iter"] > 0 and r["rate"] > 0 and r["first_call_ms"] >= 0
                assert r["min_sec_per_iter"] <= r["sec_per_iter"] <= r["max_sec_per_iter"]
                assert abs(r["ms_per_iter"] - 1e3 * r["sec_per_iter"]) < 1e-9
                assert "MISMATCH" not in r["check"], (case, name, r["check"])
            else:
                assert r["reason"]
        assert impls["torch"]["status"] == "skipped" and "torch" in impls["torch"]["reason"].lower()
        assert impls.get("numpy", {"status": "ok"})["status"] == "ok"
        base = impls.get("numpy")
        for name, r in impls.items():
            if base is not None and r["status"] == "ok" and name != "numpy":
                # ratios are speed ratios against the same-process baseline
                assert r["ratios"]["numpy"] == pytest.approx(base["sec_per_iter"] / r["sec_per_iter"])
    targets = {(t["case"], t["impl"]) for t in doc["targets"]}
    assert ("overhead/feed", "nbflow") in targets and ("mlp/b128/sgd", "nbflow") in targets
    assert ("elementwise/chain", "nbflow") in targets and ("elementwise/wave", "nbflow") in targets
    # JAX is optional (pip install nbflow[bench]): measured and compared when importable, else skipped
    try:
        import jax
    except ImportError:
        jax = None
    for case in ("elementwise/chain", "elementwise/wave"):
        r = by_case[case]["jax"]
        if jax is None:
            assert r["status"] == "skipped" and "jax" in r["reason"].lower()
            assert machine["jax"] is None
        else:
            assert r["status"] == "ok" and r["check"] == "ok", r
            assert by_case[case]["nbflow"]["ratios"]["jax"] == pytest.approx(r["sec_per_iter"] /
                                                                            by_case[case]["nbflow"]["sec_per_iter"])
            assert machine["jax"] == jax.__version__
            assert "intra_op_parallelism_threads=1" in machine["threads"]["XLA_FLAGS"]  # --threads 1


def test_script_invocation_lists_cases():
    proc = subprocess.run([sys.executable, os.path.join("benchmarks", "run.py"), "--list", "--only", "stream"],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    assert names == ["stream/copy", "stream/scale", "stream/add", "stream/triad"]


def test_no_jax_skips_jax(monkeypatch):
    monkeypatch.setenv("NBFLOW_BENCH_NO_JAX", "1")
    with pytest.raises(harness.Skip, match="--no-jax"):
        harness.jax_or_skip()


def test_unknown_selection_fails(monkeypatch, capsys):
    monkeypatch.setenv("NBFLOW_BENCH_THREADS", "1")  # main() sets it; restored after the test
    assert run.main(["--only", "no-such-benchmark", "--quick", "--json", ""]) == 2


# -- the harness ------------------------------------------------------------------

def _case(impls, **kw):
    return harness.Case("t/case", "t", "test case", impls, unit="steps/s", **kw)


def test_harness_skip_error_ratio_and_check():
    settings = harness.Settings.for_mode(True)

    def fast():
        return lambda: np.ones(3)

    def slow():
        def step():
            np.ones(3)
            sum(range(2000))
            return np.ones(3)
        return step

    def wrong():
        return lambda: np.zeros(3)

    def missing():
        raise harness.Skip("not here")

    def broken():
        raise RuntimeError("boom")

    case = _case([harness.Impl("numpy", fast), harness.Impl("slow", slow), harness.Impl("wrong", wrong),
                  harness.Impl("torch", missing), harness.Impl("broken", broken)])
    res = {r.impl: r for r in harness.run_case(case, settings)}
    assert res["torch"].status == "skipped" and res["torch"].reason == "not here"
    assert res["broken"].status == "error" and "RuntimeError: boom" in res["broken"].reason
    assert res["numpy"].check == "reference"
    assert res["slow"].check == "ok"
    assert res["wrong"].check.startswith("MISMATCH")
    r = res["slow"]
    assert r.ratios["numpy"] == pytest.approx(res["numpy"].sec_per_iter / r.sec_per_iter)
    assert "torch" not in r.ratios
    assert r.rate == pytest.approx(1.0 / r.sec_per_iter)


def test_harness_keeps_leading_outputs_and_evaluates_targets():
    settings = harness.Settings.for_mode(True)

    def counter():
        state = [0]

        def step():
            state[0] += 1
            return float(state[0])
        return step

    case = _case([harness.Impl("numpy", counter), harness.Impl("nbflow", counter)], check_calls=3,
                 targets=[harness.Target("nbflow", "ratio", versus="numpy", min_ratio=0.0),
                          harness.Target("nbflow", "latency", max_us=1e9),
                          harness.Target("nbflow", "vs torch", versus="torch", min_ratio=1.0)])
    results = harness.run_case(case, settings)
    assert results[0].outputs == [1.0, 2.0, 3.0]
    assert results[1].check == "ok"
    t_ratio, t_latency, t_torch = harness.evaluate_targets(case, results)
    assert t_ratio["met"] is True and t_ratio["value"] == pytest.approx(results[1].ratios["numpy"])
    assert t_latency["met"] is True and t_latency["value"] == pytest.approx(results[1].sec_per_iter * 1e6)
    assert t_torch["met"] is None and t_torch["value"] is None


def test_select_patterns():
    cases = [_case([]) for _ in range(3)]
    for c, name, fam in zip(cases, ["mlp/b128/sgd", "mlp/b32/adam", "kernels/matmul/512x512x512"],
                            ["mlp", "mlp", "kernels"]):
        c.name, c.family = name, fam
    assert [c.name for c in run.select(cases, ["mlp"])] == ["mlp/b128/sgd", "mlp/b32/adam"]
    assert [c.name for c in run.select(cases, ["mlp/b32"])] == ["mlp/b32/adam"]
    assert [c.name for c in run.select(cases, ["kernels/matmul*"])] == ["kernels/matmul/512x512x512"]
    assert run.select(cases, None) == cases


def test_planning_report_breaks_the_loop_down():
    import io
    import re

    from benchmarks import planning

    out = io.StringIO()
    planning.report(dict(planning.gan_dims(True), iterations=3), file=out)
    text = out.getvalue()
    assert re.search(r"planning/gan-loop: 3 iterations, 7 Session.run calls, total [0-9.]+ s", text), text
    built = int(re.search(r"new plans built: (\d+)", text).group(1))
    assert 1 <= built <= 7  # the init plan at least; at most one per run
    assert re.search(r"planning: [0-9.]+ s in all, [0-9.]+% of the program; [0-9.]+ ms per new plan", text), text
    assert re.search(r"train fetch set: +\d+ plans of +\d+ ops", text), text
    m = re.search(r"a new fetch set on a (\d+)-op graph \((\d+) ops in its plan\): [0-9.]+ ms per plan", text)
    assert m and 80 <= int(m.group(1)) <= 150 and int(m.group(2)) > 30, text


def test_coldstart_quick_first_step(tmp_path):
    """benchmarks/coldstart.py in quick mode: one cold and one warm fresh process, each
    stopped after the MNIST script's first training step. The cold one compiles, the
    warm one loads everything from the caches the cold one filled (a kernel the disk
    cache cannot hold would be compiled again here)."""
    path = tmp_path / "coldstart.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.coldstart", "--quick", "--first-step-only",
                           "--repeats", "1", "--json", str(path)],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for label in ("first training step: CPU", "process start to first step: wall", "kernels compiled",
                  "compile profile of the first cold run", "excl CPU"):
        assert label in out, out
    with open(path) as f:
        doc = json.load(f)
    cold, warm = doc["cold"][0], doc["warm"][0]
    assert cold["compiles"] and cold["first_step"] and warm["first_step"]
    assert warm["compiles"] == [], [c[0] for c in warm["compiles"]]
    names = {c[0] for c in cold["compiles"]}
    assert any(n.startswith("nbflow_gen_") for n in names) and "nbflow.kernels.cpu.microgemm.matmul" in names


def test_coldstart_runs_only_when_named():
    assert "coldstart" not in run.FAMILIES and "coldstart" in run.OPTIONAL_FAMILIES
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--list", "--only", "coldstart"],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    assert names == ["coldstart/first-step", "coldstart/mnist"]


def test_scaling_quick_reports_every_workload(tmp_path):
    # benchmarks/scaling.py: fresh processes at 1 thread and at 2; no speed is asserted
    path = tmp_path / "scaling.json"
    numba_cache = tempfile.mkdtemp(prefix="nbflow-test-scaling-numba-")
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.scaling", "--quick", "--threads", "2",
                               "--json", str(path)], cwd=ROOT, env=dict(_env(), NUMBA_CACHE_DIR=numba_cache),
                              capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(numba_cache, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(path) as f:
        doc = json.load(f)
    assert doc["schema"] == "nbflow-scaling/1" and doc["threads"] == 2
    from benchmarks import scaling

    assert [r["workload"] for r in doc["rows"]] == [w[0] for w in scaling.WORKLOADS]
    for r in doc["rows"]:
        assert r["t1"] > 0 and r["tn"] > 0 and abs(r["speedup"] - r["t1"] / r["tn"]) < 1e-9, r
        assert r["workload"] in proc.stdout
    assert "speed-up" in proc.stdout


def test_busy_neighbours_spin_while_inside_and_stop_after():
    from benchmarks.contention import BusyNeighbours

    with BusyNeighbours(2) as busy:
        procs = list(busy.procs)
        assert len(procs) == 2
        assert all(p.poll() is None for p in procs)  # still spinning
    assert all(p.poll() is not None for p in procs)
    assert busy.procs == []
    with pytest.raises(ValueError, match="--contend"):
        BusyNeighbours(-1)
