"""nbflow's kernel cache (kernels/cache.py, nbflow/cache.py): one location for
everything nbflow caches, an unwritable location never fatal, a size cap with
least-recently-used eviction, and ``python -m nbflow.cache``.

Every directory a test uses is its own and is deleted afterwards; children
get HOME, NBFLOW_CACHE_DIR and NUMBA_CACHE_DIR pointed into it, so nothing is
written outside it. Tests run as root in CI, where ``chmod`` does not stop
writes: ``unwritable_dir`` then uses a path under a regular file instead, which
nobody can create.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numba
import pytest

from nbflow.kernels import cache as kcache
from nbflow.kernels.cpu import elementwise

ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc")


# -- helpers --------------------------------------------------------------------------------

def _make_writable(path):
    for dirpath, dirnames, filenames in os.walk(path):
        try:
            os.chmod(dirpath, 0o755)
        except OSError:
            pass


@pytest.fixture
def scratch():
    """A fresh directory, deleted after the test (read-only parts included)."""
    d = tempfile.mkdtemp(prefix="nbflow-test-cache-")
    yield Path(d)
    _make_writable(d)
    shutil.rmtree(d, ignore_errors=True)


def _writable(d):
    try:
        tempfile.TemporaryFile(dir=d).close()
        return True
    except OSError:
        return False


def unwritable_dir(base):
    """A directory path that cannot be created or written: a chmod 0o555
    directory, or, where permissions do not stop writes (root), a path under
    a regular file."""
    d = base / "readonly"
    d.mkdir()
    d.chmod(0o555)
    if not _writable(d):
        return d
    d.chmod(0o755)
    d.rmdir()
    blocker = base / "a-regular-file"
    blocker.write_text("")
    return blocker / "cache"


def install_copy(base, readonly=False):
    """nbflow laid out as installed (kernels/ as nbflow/kernels) under
    ``base/site``, for children run with PYTHONPATH=base/site."""
    site = base / "site"
    shutil.copytree(ROOT / "nbflow", site / "nbflow", ignore=COPY_IGNORE)
    shutil.copytree(ROOT / "kernels", site / "nbflow" / "kernels", ignore=COPY_IGNORE, dirs_exist_ok=True)
    if readonly:
        for dirpath, dirnames, filenames in os.walk(site):
            os.chmod(dirpath, 0o555)
        kernels_cpu = site / "nbflow" / "kernels" / "cpu"
        if _writable(kernels_cpu):  # root: make the __pycache__ Numba writes to impossible
            for d in (kernels_cpu, kernels_cpu.parent):
                d.chmod(0o755)
                (d / "__pycache__").write_text("")
                d.chmod(0o555)
    return site


def numba_files(path):
    return sorted(str(p) for p in Path(path).rglob("*") if p.suffix in (".nbi", ".nbc"))


def child_env(**overrides):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NBFLOW_CACHE_DIR", "NBFLOW_CACHE_MAX_MB", "XDG_CACHE_HOME", "NUMBA_CACHE_DIR",
                        "NUMBA_CACHE_LOCATOR_CLASSES", "PYTHONPATH", "NBFLOW_DISABLE_PASSES")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update({k: str(v) for k, v in overrides.items()})
    return env


# A fused (generated) kernel, a matmul and hand-written kernels (softmax, sum);
# prints a JSON line: where nbflow came from, whether results match numpy, the
# cache warnings, and the disk-cache statistics of the hand-written softmax.
CHILD = textwrap.dedent("""
    import json, sys, warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import numpy as np
        import nbflow as tf
        from nbflow.kernels.cpu import nn
        xv = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
        wv = np.arange(6, dtype=np.float32).reshape(3, 2) / 6
        x = tf.placeholder(tf.float32, [5, 3])
        s = tf.reduce_sum(tf.nn.softmax(tf.matmul(tf.tanh(x * 2.0 + 1.0), tf.constant(wv))), axis=0)
        with tf.Session() as sess:
            out = sess.run(s, {x: xv})
    h = np.tanh(xv * 2 + 1) @ wv
    e = np.exp(h - h.max(1, keepdims=True))
    ref = (e / e.sum(1, keepdims=True)).sum(0)
    stats = nn.softmax_rows.stats
    print(json.dumps({
        "file": tf.__file__,
        "ok": bool(np.allclose(out, ref, rtol=1e-5)),
        "cache_warnings": [str(w.message) for w in caught if w.category.__name__ == "CacheWarning"],
        "softmax_hits": sum(stats.cache_hits.values()),
        "softmax_misses": sum(stats.cache_misses.values()),
    }))
""")


def run_child(env, script=CHILD, cwd=None):
    res = subprocess.run([sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


# -- item 4: an unwritable cache is never fatal -----------------------------------------------

def test_readonly_cache_dir_compiles_in_memory_with_one_warning(scratch):
    site = install_copy(scratch)
    home = scratch / "home"
    home.mkdir()
    cache_dir = unwritable_dir(scratch)
    out = run_child(child_env(NBFLOW_CACHE_DIR=cache_dir, HOME=home, PYTHONPATH=site), cwd=scratch)
    assert out["file"].startswith(str(site))
    assert out["ok"]
    assert len(out["cache_warnings"]) == 1, out["cache_warnings"]
    message = out["cache_warnings"][0]
    assert "cache is off" in message and str(cache_dir) in message and "in memory" in message
    assert out["softmax_hits"] == 0 and out["softmax_misses"] >= 1
    # nothing was written anywhere: not the cache, not home, not next to the installed kernels
    assert not cache_dir.exists() or not any(cache_dir.iterdir())
    assert not any(home.iterdir())
    assert numba_files(site) == []


def test_readonly_install_and_home_import_and_run(scratch):
    """A read-only install and a read-only home (a container, an HPC node):
    before, ``import nbflow`` failed inside Numba ("cannot cache function")."""
    site = install_copy(scratch, readonly=True)
    home = unwritable_dir(scratch)
    out = run_child(child_env(HOME=home, PYTHONPATH=site), cwd=scratch)
    assert out["file"].startswith(str(site))
    assert out["ok"]
    assert len(out["cache_warnings"]) == 1, out["cache_warnings"]
    assert os.path.join(str(home), ".cache", "nbflow") in out["cache_warnings"][0]


def test_cache_max_mb_zero_turns_caching_off_quietly(scratch):
    site = install_copy(scratch)
    cache_dir = scratch / "cache"
    out = run_child(child_env(NBFLOW_CACHE_DIR=cache_dir, NBFLOW_CACHE_MAX_MB=0, HOME=scratch,
                              PYTHONPATH=site), cwd=scratch)
    assert out["ok"] and out["cache_warnings"] == []
    assert not cache_dir.exists()
    assert numba_files(scratch) == []


# -- item 5: one location, user functions untouched -------------------------------------------

USER_MODULE = textwrap.dedent("""
    import numba

    @numba.njit(cache=True)
    def add_one(x):
        return x + 1
""")


def test_all_kernel_caches_under_the_cache_dir_and_user_functions_keep_numba_rules(scratch):
    site = install_copy(scratch)
    cache_dir, user_numba, home, user = (scratch / n for n in ("cache", "numba-user", "home", "user"))
    home.mkdir()
    user.mkdir()
    (user / "usermod.py").write_text(USER_MODULE)
    script = CHILD + "import usermod; assert usermod.add_one(1) == 2\n"
    env = child_env(NBFLOW_CACHE_DIR=cache_dir, NUMBA_CACHE_DIR=user_numba, HOME=home,
                    PYTHONPATH=os.pathsep.join([str(site), str(user)]))
    first = run_child(env, script, cwd=scratch)
    assert first["ok"] and first["cache_warnings"] == []
    assert first["softmax_misses"] >= 1 and first["softmax_hits"] == 0
    # nbflow's hand-written and generated kernels: under NBFLOW_CACHE_DIR only
    assert numba_files(site) == []
    ours = numba_files(cache_dir)
    assert any("/numba/" in p and "nn.softmax_rows" in p for p in ours), ours
    assert any("/generated/__pycache__/nbflow_gen_" in p for p in ours), ours
    assert not any("usermod" in p for p in ours)
    # the user's own function: where Numba puts it (NUMBA_CACHE_DIR here), nbflow's not there
    theirs = numba_files(user_numba)
    assert theirs and all("usermod" in os.path.basename(p) for p in theirs), theirs
    assert not any(home.iterdir())
    # a second process loads nbflow's kernels from there
    second = run_child(env, script, cwd=scratch)
    assert second["ok"] and second["softmax_hits"] >= 1 and second["softmax_misses"] == 0


def test_user_function_default_cache_location_is_unchanged(scratch, monkeypatch):
    if numba.core.config.CACHE_DIR or numba.core.config.CACHE_LOCATOR_CLASSES:
        pytest.skip("NUMBA_CACHE_DIR / NUMBA_CACHE_LOCATOR_CLASSES set: Numba's default does not apply")
    (scratch / "nbflow_test_usermod.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(scratch))
    try:
        import nbflow_test_usermod
        assert nbflow_test_usermod.add_one.stats.cache_path == str(scratch / "__pycache__")
    finally:
        sys.modules.pop("nbflow_test_usermod", None)


def test_hand_written_kernels_cache_under_the_cache_dir():
    state = kcache.state()
    if not state.enabled:
        pytest.skip("the kernel cache is off in this process: %s" % state.reason)
    from nbflow.kernels.cpu import nn, reduce

    for fn in (nn.softmax_rows, reduce.sum_mid):
        assert fn.stats.cache_path.startswith(os.path.join(state.root, "numba") + os.sep)


def test_kernels_take_njit_from_nbflow_kernels_jit():
    """The switch that drops cache=True when the cache is off is nbflow.kernels.jit.njit:
    a kernel that took numba's njit would make import fail again on a read-only system."""
    offenders = []
    for path in sorted((ROOT / "kernels").rglob("*.py")):
        if path.name == "jit.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            s = line.strip()
            if (s.startswith("from numba import") and "jit" in s) or "numba.njit(" in s or "numba.jit(" in s:
                offenders.append("%s:%d: %s" % (path.relative_to(ROOT), n, s))
    assert offenders == []
    src = elementwise.generate_source([], ["x0"], ["float32"], ["full"], ["float32"], 1)
    assert "from nbflow.kernels.jit import njit" in src


# -- item 5: size cap, least recently used first ----------------------------------------------

DAY = 86400.0


def _fake_generated(root, i, size, age):
    """A generated-kernel entry: source, bytecode and Numba files, last used ``age`` s ago."""
    name = "%sew_%020d" % (kcache.GENERATED_PREFIX, i)
    files = [root / "generated" / (name + ".py"),
             root / "generated" / "__pycache__" / (name + ".cpython-311.pyc"),
             root / "generated" / "__pycache__" / (name + ".kernel-7.py311.nbi"),
             root / "generated" / "__pycache__" / (name + ".kernel-7.py311.1.nbc")]
    return _write(files, size, age)


def _fake_kernel(root, name, size, age):
    """A hand-written kernel function's Numba files (index and two data files)."""
    d = root / "numba" / "cpu_0123456789abcdef"
    files = [d / (name + "-12.py311.nbi"), d / (name + "-12.py311.1.nbc"), d / (name + "-12.py311.2.nbc")]
    return _write(files, size, age)


def _write(files, size, age):
    t = time.time() - age
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x" * (size // len(files)))
        os.utime(f, (t, t))
    return files


def test_entries_group_a_kernels_files(scratch):
    _fake_generated(scratch, 1, 4000, DAY)
    _fake_kernel(scratch, "nn.softmax_rows", 3000, DAY)
    (scratch / "generated" / "tmpab12.tmp").write_text("partial")
    (scratch / "unrelated.txt").write_text("not nbflow's")
    kinds = sorted((e.kind, len(e.files), e.size) for e in kcache.entries(str(scratch)))
    assert kinds == [("generated", 4, 4000), ("kernel", 3, 3000), ("other", 1, 7)]


def test_evict_deletes_least_recently_used_entries_with_their_numba_files(scratch):
    old_gen = _fake_generated(scratch, 1, 40000, 5 * DAY)
    old_kernel = _fake_kernel(scratch, "reduce.sum_mid", 30000, 4 * DAY)
    mid_gen = _fake_generated(scratch, 2, 40000, 3 * DAY)
    new_gen = _fake_generated(scratch, 3, 40000, 1 * DAY)
    fresh = _fake_generated(scratch, 4, 40000, 0)  # used by this process: kept whatever its rank
    deleted = kcache.evict(str(scratch), max_bytes=150000, keep_used_since=time.time() - 60)
    assert sorted(e.kind for e in deleted) == ["generated", "generated", "kernel"]
    for f in old_gen + old_kernel + mid_gen:
        assert not f.exists(), f
    for f in new_gen + fresh:
        assert f.exists(), f
    assert sum(e.size for e in kcache.entries(str(scratch))) <= kcache.EVICT_TO * 150000


def test_evict_does_nothing_under_the_cap(scratch):
    files = _fake_generated(scratch, 1, 4000, 10 * DAY)
    assert kcache.evict(str(scratch), max_bytes=5000) == []
    assert all(f.exists() for f in files)


def test_first_write_of_a_process_enforces_the_cap(scratch):
    """NBFLOW_CACHE_MAX_MB, checked at the process's first write: the two least
    recently used of three 40 kB entries go (120 kB > 100 kB cap -> at most 75 kB)."""
    site = install_copy(scratch)
    cache_dir = scratch / "cache"
    fakes = [_fake_generated(cache_dir, i, 40 * 1024, (10 - i) * DAY) for i in range(3)]
    out = run_child(child_env(NBFLOW_CACHE_DIR=cache_dir, NBFLOW_CACHE_MAX_MB=100 / 1024, HOME=scratch,
                              PYTHONPATH=site), cwd=scratch)
    assert out["ok"] and out["cache_warnings"] == []
    assert not any(f.exists() for f in fakes[0] + fakes[1])
    assert all(f.exists() for f in fakes[2])
    assert any("nn.softmax_rows" in p for p in numba_files(cache_dir))  # written after the check
    assert numba_files(site) == []


def test_info_and_clear(scratch, monkeypatch):
    _fake_generated(scratch, 1, 4000, DAY)
    _fake_kernel(scratch, "nn.softmax_rows", 3000, DAY)
    monkeypatch.setenv("NBFLOW_CACHE_MAX_MB", "64")
    d = kcache.info(str(scratch))
    assert d["location"] == str(scratch) and d["writable"]
    assert d["size"] == 7000 and d["max_bytes"] == 64 << 20
    assert d["entries"] == {"generated": 1, "kernel": 1, "other": 0}
    # clear() with an explicit root: never the real cache of whoever runs the tests
    monkeypatch.setattr(kcache, "_legacy_files", lambda: [])
    assert kcache.clear(str(scratch)) == (7, 7000)
    assert kcache.entries(str(scratch)) == [] and scratch.exists()


def test_command_line_info_and_clear(scratch):
    site = install_copy(scratch)
    cache_dir = scratch / "cache"
    _fake_generated(cache_dir, 1, 4000, DAY)
    _fake_kernel(cache_dir, "nn.softmax_rows", 3000, DAY)
    legacy = site / "nbflow" / "kernels" / "cpu" / "__pycache__" / "nn.softmax_rows-223.py311.nbi"
    legacy.parent.mkdir()
    legacy.write_bytes(b"old")
    env = child_env(NBFLOW_CACHE_DIR=cache_dir, NBFLOW_CACHE_MAX_MB=0.5, HOME=scratch, PYTHONPATH=site)

    def cli(*args):
        res = subprocess.run([sys.executable, "-m", "nbflow.cache", *args], env=env, cwd=scratch,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        return res.stdout

    text = cli("--info")
    assert str(cache_dir) in text and "from NBFLOW_CACHE_DIR" in text
    assert "1 generated kernels" in text and "1 compiled nbflow kernel functions" in text
    assert "7 kB" in text and "512 kB" in text and "1 Numba files of an older nbflow" in text
    text = cli("--clear")
    assert "cleared %s: 8 files" % cache_dir in text
    assert not legacy.exists() and kcache.entries(str(cache_dir)) == []
    assert "0 generated kernels" in cli("--info")


def test_package_stamp_changes_when_any_kernel_source_changes(tmp_path):
    # a kernel inlines helpers from other files (microgemm's products): an edit of any
    # kernels/*.py must invalidate every cached kernel, not only the edited file's
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "conv.py").write_text("x = 1\n")
    (tmp_path / "cpu" / "microgemm.py").write_text("y = 1\n")
    (tmp_path / "notes.txt").write_text("not a source\n")
    before = kcache.package_stamp(str(tmp_path))
    kcache._package_stamps.clear()
    (tmp_path / "notes.txt").write_text("still not a source\n")
    assert kcache.package_stamp(str(tmp_path)) == before
    kcache._package_stamps.clear()
    (tmp_path / "cpu" / "microgemm.py").write_text("y = 2  # edited\n")
    assert kcache.package_stamp(str(tmp_path)) != before
    kcache._package_stamps.clear()


def test_a_kernels_source_stamp_includes_the_package_stamp():
    from nbflow.kernels.cpu import conv
    if not kcache.enabled():
        pytest.skip("kernel caching is off in this process")
    locator = kcache.KernelCacheLocator.from_function(conv.conv2d.py_func, conv.__file__)
    own, package = locator.get_source_stamp()
    from numba.core import caching
    assert own == caching._SourceFileBackedLocatorMixin.get_source_stamp(locator)  # Numba's own, kept
    assert package == kcache.package_stamp()
