"""Generated kernels are written to the cache directory and a second process
loads them from Numba's on-disk cache instead of compiling."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import nbflow as tf
    from nbflow.kernels.cpu import elementwise

    x = tf.placeholder(tf.float32, [16])
    y = tf.tanh(x * 3.0 + 1.0) * x  # one fused kernel
    with tf.Session() as sess:
        out = sess.run(y, {x: np.linspace(-1, 1, 16)})
    hits = sum(sum(k.stats.cache_hits.values()) for k in elementwise._kernels.values())
    misses = sum(sum(k.stats.cache_misses.values()) for k in elementwise._kernels.values())
    print(json.dumps({"hits": hits, "misses": misses, "sum": float(out.sum())}))
""")


def _run(cache_dir):
    env = dict(os.environ, NBFLOW_CACHE_DIR=str(cache_dir))
    for name in ("NBFLOW_DISABLE_PASSES", "NBFLOW_CACHE_MAX_MB"):
        env.pop(name, None)
    res = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_second_process_loads_generated_kernels_from_cache():
    cache_dir = Path(tempfile.mkdtemp(prefix="nbflow-test-kernel-cache-"))
    try:
        first = _run(cache_dir)
        second = _run(cache_dir)
        assert first["misses"] >= 1 and first["hits"] == 0
        assert second["hits"] >= 1 and second["misses"] == 0
        assert first["sum"] == second["sum"]
        sources = list((cache_dir / "generated").glob("nbflow_gen_*.py"))
        assert sources, "generated source files are kept in the cache directory"
        assert "@njit(cache=True" in sources[0].read_text()
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
