"""tf.print (TF 2: StringFormat + PrintV2 ops) and tf.Print (TF 1) in graph mode."""
import logging
import sys

import numpy as np
import pytest

import nbflow as tf


def _run(*fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(list(fetches), feed)


# -- tf.print -------------------------------------------------------------------

def test_print_is_an_op_run_by_the_session(capsys):
    p = tf.print(tf.constant([1, 2, 3]))
    assert isinstance(p, tf.Operation) and p.type == "PrintV2"
    assert p.inputs[0].op.type == "StringFormat"
    assert capsys.readouterr().err == ""  # building prints nothing
    _run(p)
    assert capsys.readouterr().err == "[1 2 3]\n"


def test_print_goes_to_the_file_descriptor_too(capfd):
    _run(tf.print("fd", tf.constant(7)))
    assert capfd.readouterr().err == "fd 7\n"


def test_values_known_only_at_run_time(capsys):
    x = tf.placeholder(tf.float32, [None])
    n = tf.placeholder(tf.int32, [])
    p = tf.print("x =", x, "n:", n)
    with tf.Session() as sess:
        sess.run(p, {x: [0.5, 1.5], n: 3})
        sess.run(p, {x: [2.0], n: -1})
    assert capsys.readouterr().err == "x = [0.5 1.5] n: 3\nx = [2] n: -1\n"


def test_summarize_elides_each_dimension(capsys):
    a = tf.constant(np.arange(10))
    b = tf.constant(np.arange(100).reshape(10, 10))
    with tf.Session() as sess:
        sess.run(tf.print(a))
        sess.run(tf.print(a, summarize=-1))
        sess.run(tf.print(a, summarize=None))
        sess.run(tf.print(b, summarize=2))
        sess.run(tf.print(a, summarize=5))
    assert capsys.readouterr().err == (
        "[0 1 2 ... 7 8 9]\n"
        "[0 1 2 3 4 5 6 7 8 9]\n"
        "[0 1 2 ... 7 8 9]\n"
        "[[0 1 ... 8 9]\n [10 11 ... 18 19]\n ...\n [80 81 ... 88 89]\n [90 91 ... 98 99]]\n"
        "[0 1 2 3 4 5 6 7 8 9]\n")


def test_higher_rank_layout_as_numpy(capsys):
    _run(tf.print(tf.reshape(tf.range(12), [2, 2, 3])))
    assert capsys.readouterr().err == "[[[0 1 2]\n  [3 4 5]]\n\n [[6 7 8]\n  [9 10 11]]]\n"


def test_element_formats(capsys):
    _run(tf.print(tf.constant(2.5), tf.constant([0.1, 1.0 / 3.0]), tf.constant([1.0 / 3.0], tf.float64),
                  tf.constant([True, False]), tf.constant(np.array([1, 2], np.uint8)),
                  tf.constant([np.inf, -np.inf, np.nan]), tf.constant(np.zeros((0,), np.float32))))
    assert capsys.readouterr().err == (
        "2.5 [0.1 0.333333343] [0.33333333333333331] [1 0] [1 2] [inf -inf nan] []\n")


def test_strings(capsys):
    s = tf.constant("hello")
    v = tf.constant(["a b", 'q"\n'])
    with tf.Session() as sess:
        sess.run(tf.print(s))                 # one scalar string tensor: printed as it is
        sess.run(tf.print("s:", s, v))        # otherwise quoted and escaped
        sess.run(tf.print("{} literal {}"))   # Python strings as they are, braces included
    assert capsys.readouterr().err == 'hello\ns: "hello" ["a b" "q\\"\\n"]\n{} literal {}\n'


def test_string_placeholder(capsys):
    s = tf.placeholder(tf.string, [])
    with tf.Session() as sess:
        sess.run(tf.print(s), {s: "fed"})
        sess.run(tf.print("got", s), {s: b"bytes"})
    assert capsys.readouterr().err == 'fed\ngot "bytes"\n'


def test_python_values_and_nested_structures(capsys):
    x = tf.placeholder(tf.int32, [3])
    p = tf.print({"b": x, "a": 1}, [x, "s", 2.5], (x,), 5, None, summarize=2)
    _run(p, feed={x: [7, 8, 9]})
    assert capsys.readouterr().err == "{'a': 1, 'b': [7 8 9]} [[7 8 9], 's', 2.5] ([7 8 9],) 5 None\n"
    assert p.inputs[0].op.attrs["template"] == "{'a': 1, 'b': {}} [{}, 's', 2.5] ({},) 5 None"


def test_placeholder_string_avoids_user_text(capsys):
    p = tf.print("has {} in it", tf.constant(1))
    fmt = p.inputs[0].op
    assert fmt.attrs["placeholder"] != "{}" and "{}" not in fmt.attrs["placeholder"][2:]
    _run(p)
    assert capsys.readouterr().err == "has {} in it 1\n"


def test_sep_end_and_stdout(capsys):
    _run(tf.print("a", tf.constant(1), "b", sep="|", end="<\n", output_stream=sys.stdout))
    out = capsys.readouterr()
    assert out.out == "a|1|b<\n" and out.err == ""


def test_print_variable(capsys):
    v = tf.Variable([1.0, 2.0], name="v")
    with tf.Session() as sess:
        sess.run(v.initializer)
        sess.run(tf.print("v", v))
        sess.run(v.assign([3.0, 4.0]))
        sess.run(tf.print("v", v))
    assert capsys.readouterr().err == "v [1 2]\nv [3 4]\n"


def test_control_dependencies_run_the_print(capsys):
    x = tf.placeholder(tf.float32, [2])
    p = tf.print("before", x)
    with tf.control_dependencies([p]):
        y = tf.identity(x * 2)
    with tf.Session() as sess:
        out = sess.run(y, {x: [1.0, 2.0]})
    np.testing.assert_array_equal(out, [2.0, 4.0])
    assert capsys.readouterr().err == "before [1 2]\n"


def test_file_stream_appends(tmp_path):
    path = tmp_path / "log.txt"
    p = tf.print("line", tf.constant([1, 2]), output_stream="file://" + str(path))
    with tf.Session() as sess:
        sess.run(p)
        sess.run(p)
    assert path.read_text() == "line [1 2]\nline [1 2]\n"


def test_logging_stream(caplog):
    with caplog.at_level(logging.INFO, logger="nbflow"):
        _run(tf.print("info", tf.constant(3), output_stream=tf.logging.INFO),
             tf.print("warn", output_stream=tf.logging.warning))
    texts = sorted((r.levelno, r.getMessage()) for r in caplog.records if r.name == "nbflow")
    assert texts == [(logging.INFO, "info 3"), (logging.WARNING, "warn")]


def test_bad_arguments():
    with pytest.raises(ValueError, match="Unsupported output stream"):
        tf.print("x", output_stream="stdout")
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        tf.print("x", color="red")


def test_names():
    p = tf.print("x", tf.constant(1), name="show")
    assert p.name == "show" and p.inputs[0].op.name == "show_format"
    q = tf.print(tf.constant(1))
    assert (q.name, q.inputs[0].op.name) == ("PrintV2", "StringFormat")


def test_print_in_while_loop_body(capsys):
    def body(i):
        with tf.control_dependencies([tf.print("step", i)]):
            return i + 1

    r = tf.while_loop(lambda i: i < 3, body, [tf.constant(0)])
    assert _run(r) == [3]
    assert capsys.readouterr().err == "step 0\nstep 1\nstep 2\n"


def test_print_no_inputs(capsys):
    _run(tf.print())
    assert capsys.readouterr().err == "\n"


# -- tf.Print (TF 1) ------------------------------------------------------------

def test_tf1_print_is_identity_and_prints(capsys):
    x = tf.placeholder(tf.float32, [None])
    y = tf.Print(x, [x, tf.shape(x)], message="x is: ")
    assert y.op.type == "Print" and y.dtype == tf.float32
    z = y * 2
    with tf.Session() as sess:
        out = sess.run(z, {x: [1.0, 2.0]})
    np.testing.assert_array_equal(out, [2.0, 4.0])
    assert capsys.readouterr().err == "x is: [1 2][2]\n"


def test_tf1_print_summarize_and_format(capsys):
    a = tf.constant(np.arange(10))
    b = tf.constant(np.arange(6).reshape(3, 2))
    _run(tf.Print(a, [a, b]), tf.Print(a, [a], summarize=20, message="all"))
    err = capsys.readouterr().err.splitlines()
    assert sorted(err) == sorted(["[0 1 2...][[0 1][2...]...]", "all[0 1 2 3 4 5 6 7 8 9]"])


def test_tf1_print_first_n_counts_per_session(capsys):
    x = tf.placeholder(tf.int32, [])
    y = tf.Print(x, [x], message="x=", first_n=2)
    z = y + 1
    with tf.Session() as sess:
        for i in range(4):
            sess.run(y, {x: i})
        sess.run(z, {x: 9})  # another plan: the count is the session's, not the plan's
    assert capsys.readouterr().err == "x=[0]\nx=[1]\n"
    with tf.Session() as sess:
        sess.run(y, {x: 5})
    assert capsys.readouterr().err == "x=[5]\n"


def test_tf1_print_runs_every_step_and_gradient_passes_through(capsys):
    w = tf.Variable(3.0)
    y = tf.Print(w * w, [w], message="w")
    g, = tf.gradients(y, [w])
    with tf.Session() as sess:
        sess.run(w.initializer)
        assert sess.run(g) == 6.0
        sess.run(y)
        sess.run(y)
    assert capsys.readouterr().err.count("w[3]") == 3
