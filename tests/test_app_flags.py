"""tf.app.run and tf.app.flags / tf.flags (golbin's ChatBot, TF's own tutorials): absl's, as TF 1.15
wraps them. Each case runs in a subprocess: absl's FLAGS and sys.argv are process-wide."""
import subprocess
import sys
import textwrap

import nbflow as tf


def _run(code, *args):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)] + list(args), capture_output=True, text=True,
                          timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_names():
    assert tf.app.flags is tf.flags
    assert callable(tf.app.run)
    for name in ["DEFINE_string", "DEFINE_integer", "DEFINE_boolean", "DEFINE_bool", "DEFINE_float", "FLAGS"]:
        assert hasattr(tf.flags, name)


def test_flags_read_parse_argv_tolerating_unknown_flags():
    rc, out, err = _run("""
        import nbflow as tf
        tf.app.flags.DEFINE_string("data_path", "./data/chat.log", "where")
        tf.app.flags.DEFINE_boolean("train", False, "train?")
        tf.app.flags.DEFINE_integer("epoch", 1000, "epochs")
        FLAGS = tf.app.flags.FLAGS
        print(FLAGS.train, FLAGS.epoch, FLAGS.data_path)
    """, "--train", "--epoch", "7", "--not_a_flag=1")
    assert rc == 0, err
    assert out.split() == ["True", "7", "./data/chat.log"]


def test_old_keyword_names_and_app_run():
    rc, out, err = _run("""
        import sys
        import nbflow as tf
        tf.flags.DEFINE_float(flag_name="lr", default_value=0.5, docstring="learning rate")

        def main(argv):
            print(tf.flags.FLAGS.lr, argv[1:])
            return 3
        tf.app.run(main=main)
    """, "--lr=0.25", "--other", "rest")
    assert rc == 3, err
    assert out.strip() == "0.25 ['--other', 'rest']"
    assert "keyword argument names (flag_name, default_value, docstring) is deprecated" in err


def test_app_run_uses_main_of_the_program():
    rc, out, err = _run("""
        import nbflow as tf

        def main(_):
            print("ran")
        if __name__ == "__main__":
            tf.app.run()
    """)
    assert rc == 0, err
    assert out.strip() == "ran"


def test_log_dir_clashes_with_absl_logging_as_in_tf_1_14_and_later():
    # TF 1.14+ imports absl.logging, which defines --log_dir (tensorflow/tensorflow#30472).
    rc, out, err = _run("""
        import nbflow as tf
        tf.app.flags.DEFINE_string("log_dir", "./logs", "where")
    """)
    assert rc != 0
    assert "DuplicateFlagError: The flag 'log_dir' is defined twice. First from absl.logging" in err
