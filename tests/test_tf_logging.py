"""tf.logging (TF 1.15's tf.compat.v1.logging) on the "nbflow" logger."""
import logging
import os
import subprocess
import sys
import textwrap

import pytest

import nbflow as tf

HERE = os.path.abspath(__file__)


@pytest.fixture
def nb_logger(caplog):
    logger = logging.getLogger("nbflow")
    saved = logger.level
    caplog.set_level(logging.DEBUG)  # the root capture handler sees everything the nbflow logger lets through
    yield logger
    logger.setLevel(saved)


def _mine(caplog):
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "nbflow"]


def test_names_and_levels_are_tfs():
    assert (tf.logging.DEBUG, tf.logging.INFO, tf.logging.WARN, tf.logging.ERROR, tf.logging.FATAL) == (
        10, 20, 30, 40, 50)
    assert tf.compat.v1.logging is tf.logging
    for name in ("set_verbosity", "get_verbosity", "debug", "info", "warn", "warning", "error", "fatal", "log",
                 "log_every_n", "log_first_n", "log_if", "vlog", "flush", "TaskLevelStatusMessage"):
        assert callable(getattr(tf.logging, name)), name
    assert tf.logging.__name__ == "nbflow.platform.tf_logging"  # not a module named logging.py


def test_verbosity_filters_and_records_name_the_caller(nb_logger, caplog):
    tf.logging.set_verbosity(tf.logging.INFO)
    assert tf.logging.get_verbosity() == logging.INFO and nb_logger.level == logging.INFO
    tf.logging.debug("hidden")
    tf.logging.info("step %d loss %.2f", 3, 0.5)
    tf.logging.warn("w1")
    tf.logging.warning("w2")
    tf.logging.error("e")
    tf.logging.fatal("f")
    tf.logging.log(tf.logging.ERROR, "l %s", "x")
    tf.logging.vlog(tf.logging.INFO, "v")
    tf.logging.TaskLevelStatusMessage("status")
    assert _mine(caplog) == [(20, "step 3 loss 0.50"), (30, "w1"), (30, "w2"), (40, "e"), (50, "f"),
                             (40, "l x"), (20, "v"), (40, "status")]
    assert {os.path.abspath(r.pathname) for r in caplog.records if r.name == "nbflow"} == {HERE}
    caplog.clear()
    tf.logging.set_verbosity(tf.logging.ERROR)
    tf.logging.info("quiet")
    tf.logging.warn("quiet")
    tf.logging.error("loud")
    assert _mine(caplog) == [(40, "loud")]


def test_log_if_every_n_first_n(nb_logger, caplog):
    tf.logging.set_verbosity(tf.logging.DEBUG)
    for i in range(7):
        tf.logging.log_every_n(tf.logging.INFO, "every %d", 3, i)
        tf.logging.log_first_n(tf.logging.WARN, "first %d", 2, i)
        tf.logging.log_if(tf.logging.ERROR, "odd %d", i % 2, i)
    got = _mine(caplog)
    assert [m for _, m in got if m.startswith("every")] == ["every 0", "every 3", "every 6"]
    assert [m for _, m in got if m.startswith("first")] == ["first 0", "first 1"]
    assert [m for _, m in got if m.startswith("odd")] == ["odd 1", "odd 3", "odd 5"]
    # counters are per call site: another line starts its own count
    caplog.clear()
    tf.logging.log_first_n(tf.logging.WARN, "other line", 1)
    assert _mine(caplog) == [(30, "other line")]
    with pytest.raises(ValueError, match="n >= 1"):
        tf.logging.log_every_n(tf.logging.INFO, "x", 0)


def test_fresh_process_prints_tf_style_lines_to_stderr():
    # a program that never configured logging: WARN by default, "LEVEL:nbflow:msg" on stderr
    code = textwrap.dedent("""
        import nbflow as tf
        assert tf.logging.get_verbosity() == tf.logging.WARN
        tf.logging.info("not shown")
        tf.logging.set_verbosity(tf.logging.INFO)
        tf.logging.info("Step %d", 7)
        tf.logging.warning("careful")
        tf.logging.flush()
        print("stdout ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "stdout ok\n"
    assert proc.stderr.splitlines() == ["INFO:nbflow:Step 7", "WARNING:nbflow:careful"]


def test_configured_root_logger_gets_records_once():
    code = textwrap.dedent("""
        import logging, sys
        logging.basicConfig(stream=sys.stdout, format="root|%(name)s|%(message)s")
        import nbflow as tf
        tf.logging.warn("once")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "root|nbflow|once\n" and proc.stderr == ""
