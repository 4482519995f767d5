"""tf.autograph: Python control flow over graph tensors becomes tf.cond /
tf.while_loop; over Python values it stays Python. Each converted function is
run in a Session on placeholders and compared with the plain Python function
on the same values."""
import numpy as np
import pytest

import nbflow as tf
from nbflow import autograph

GLOBAL_OFFSET = 100


def run_graph(fn, *values, dtypes=None):
    """Build ``convert(fn)`` on placeholders of the values' dtypes and run it."""
    with tf.Graph().as_default():
        phs = []
        for k, v in enumerate(values):
            arr = np.asarray(v)
            dt = dtypes[k] if dtypes else (tf.int32 if arr.dtype.kind in "iu" else
                                           tf.bool if arr.dtype.kind == "b" else tf.float32)
            phs.append(tf.placeholder(dt, arr.shape))
        out = autograph.convert(fn)(*phs)
        with tf.Session() as sess:
            return sess.run(out, dict(zip(phs, values)))


def n_ops(fn, *args):
    with tf.Graph().as_default() as g:
        before = len(g.get_operations())
        autograph.convert(fn)(*args)
        return len(g.get_operations()) - before


def check(fn, *cases, dtypes=None):
    for values in cases:
        got = run_graph(fn, *values, dtypes=dtypes)
        want = fn(*values)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg="%s%r" % (fn.__name__, values))


# -- if ------------------------------------------------------------------------

def sign(x):
    if x > 0:
        y = 1
    elif x < 0:
        y = -1
    else:
        y = 0
    return y


def test_if_elif_else_on_a_tensor():
    check(sign, (5,), (-3,), (0,))


def nested(x, y):
    z = x
    if x > 0:
        if y > 0:
            z = x + y
        else:
            z = x - y
    else:
        z = z * 2
    return z


def test_nested_ifs():
    check(nested, (1, 2), (1, -2), (-1, 5))


def test_if_on_python_values_builds_no_cond():
    def f(x, flag):
        if flag:
            x = x + 1
        else:
            x = x - 1
        return x

    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [])
        y = autograph.convert(f)(x, True)
        assert not [op for op in g.get_operations() if op.type == "If"]
        with tf.Session() as sess:
            assert sess.run(y, {x: 1.0}) == 2.0
    assert n_ops(f, 1.0, True) == 0
    assert autograph.convert(f)(1, False) == 0


def test_if_on_a_tensor_builds_one_cond():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.int32, [])
        autograph.convert(sign)(x)
        assert [op.type for op in g.get_operations()].count("If") == 2  # if and elif


def test_both_branches_leave_the_same_python_value():
    def f(x):
        label = "a"
        if x > 0:
            x = x + 1
            label = "b"
        else:
            label = "b"
        return x, label

    got = run_graph(lambda x: autograph.convert(f)(x)[0], 3)
    assert got == 4
    with tf.Graph().as_default():
        _, label = autograph.convert(f)(tf.placeholder(tf.int32, []))
        assert label == "b"


def test_variable_in_one_branch_only_is_an_error():
    def f(x):
        if x > 0:
            y = x * 2
        return y

    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="'y' must also be initialized in the else branch"):
            autograph.convert(f)(tf.placeholder(tf.int32, []))

    def g(x):
        if x > 0:
            pass
        else:
            y = 1
        return y

    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="'y' must also be initialized in the if branch"):
            autograph.convert(g)(tf.placeholder(tf.int32, []))


def test_branch_dtypes_must_agree():
    def f(x):
        if x > 0:
            y = 1
        else:
            y = 1.5
        return y

    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="'y' has dtype int32 in the if branch but float32"):
            autograph.convert(f)(tf.placeholder(tf.int32, []))


def test_temporary_in_one_branch_is_fine():
    def f(x):
        if x > 0:
            t = x * 3
            x = t + 1
        return x

    check(f, (2,), (-2,))


def test_undefined_variable_used_after_python_if():
    def f(flag):
        if flag:
            y = 1
        return y

    assert autograph.convert(f)(True) == 1
    with pytest.raises(UnboundLocalError, match="'y'"):
        autograph.convert(f)(False) + 1


# -- logical operators -----------------------------------------------------------

def in_box(x, y):
    if x > 0 and y > 0 or not x < 10:
        r = 1
    else:
        r = 0
    return r


def test_and_or_not_on_tensors():
    check(in_box, (1, 1), (1, -1), (-1, 1), (20, -5))


def test_and_is_lazy_on_python_values():
    calls = []

    def right():
        calls.append(1)
        return True

    def f(a):
        return a and right()

    g = autograph.convert(f)
    assert g(False) is False and calls == []
    assert g(True) is True and calls == [1]


def test_equality_on_tensors_is_elementwise():
    def f(x):
        if x % 2 == 0:
            x = x // 2
        if x != 3:
            x = x + 10
        return x

    check(f, (6,), (8,), (3,))


# -- while -----------------------------------------------------------------------

def collatz_steps(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def test_while_collatz():
    check(collatz_steps, (6,), (27,), (1,))


def squares_until(limit):
    total = 0
    i = 0
    while total <= limit:
        i += 1
        total += i * i
    return i, total


def test_while_sum_of_squares():
    with tf.Graph().as_default():
        lim = tf.placeholder(tf.int32, [])
        i, total = autograph.convert(squares_until)(lim)
        with tf.Session() as sess:
            for v in (0, 10, 1000):
                assert tuple(sess.run([i, total], {lim: v})) == squares_until(v)


def test_while_on_python_values_stays_python():
    def f(x):
        k = 0
        while k < 3:
            x = x * 2.0
            k += 1
        return x

    assert n_ops(f, 1.0) == 0
    check(f, (1.5,))
    with tf.Graph().as_default() as g:
        autograph.convert(f)(tf.placeholder(tf.float32, []))
        assert not [op for op in g.get_operations() if op.type == "While"]


def test_loop_variable_changing_dtype_is_an_error():
    def f(n):
        x = n * 0
        while x < 10:
            x = tf.cast(x, tf.float32) + 1.0
        return x

    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="'x' has dtype int32 before the loop, but dtype float32"):
            autograph.convert(f)(tf.placeholder(tf.int32, []))


def test_loop_variable_changing_shape_is_an_error():
    def f(n):
        v = tf.zeros([1])
        i = 0
        while i < n:
            v = tf.concat([v, v], 0)
            i += 1
        return v

    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="'v' has shape"):
            autograph.convert(f)(tf.placeholder(tf.int32, []))


def test_loop_variable_undefined_before_the_loop_is_an_error():
    def f(n):
        i = 0
        while i < n:
            last = i
            i += 1
        return last

    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="'last' must be defined before the loop"):
            autograph.convert(f)(tf.placeholder(tf.int32, []))


def test_while_with_break():
    def f(n):
        i = 0
        s = 0
        while i < n:
            i += 1
            if s > 20:
                break
            s += i
        return s

    check(f, (3,), (100,))


def test_while_with_continue():
    def f(n):
        i = 0
        s = 0
        while i < n:
            i += 1
            if i % 3 == 0:
                continue
            s += i
        return s

    check(f, (10,), (0,))


# -- for -------------------------------------------------------------------------

def even_sum(n):
    s = 0
    for i in tf.range(n):
        if i % 2 == 0:
            s += i
        else:
            s -= 1
    return s


def test_for_over_tf_range_the_decks_example():
    with tf.Graph().as_default() as g:
        n = tf.placeholder(tf.int32, [])
        s = autograph.convert(even_sum)(n)
        assert [op.type for op in g.get_operations()].count("While") == 1
        with tf.Session() as sess:
            for v in (0, 1, 7, 10):
                want = sum(i if i % 2 == 0 else -1 for i in range(v))
                assert sess.run(s, {n: v}) == want


def test_for_over_tf_range_with_start_and_negative_delta():
    def f(a, b):
        s = 0
        for i in tf.range(a, b, -2):
            s = s * 10 + i
        return s

    with tf.Graph().as_default():
        a, b = tf.placeholder(tf.int32, []), tf.placeholder(tf.int32, [])
        out = autograph.convert(f)(a, b)
        with tf.Session() as sess:
            assert sess.run(out, {a: 9, b: 2}) == 9753


def test_for_over_range_of_a_tensor_becomes_tf_range():
    def f(n):
        s = 0
        for i in range(n):
            s += i * i
        return s

    check(f, (5,), (0,))
    assert autograph.convert(f)(4) == 14


def test_for_over_tensor_rows():
    def row_norms(m):
        total = tf.zeros([])
        biggest = tf.zeros([])
        for row in m:
            r = tf.reduce_sum(row * row)
            total += r
            if r > biggest:
                biggest = r
        return total, biggest

    m = np.arange(12, dtype=np.float32).reshape(4, 3) - 5
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        total, biggest = autograph.convert(row_norms)(x)
        with tf.Session() as sess:
            t, b = sess.run([total, biggest], {x: m})
    sq = (m * m).sum(1)
    np.testing.assert_allclose([t, b], [sq.sum(), sq.max()])


def test_for_over_python_list_stays_python():
    def f(x, scales):
        for s in scales:
            x = x * s
        return x

    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [])
        before = len(g.get_operations())
        y = autograph.convert(f)(x, [2.0, 3.0])
        assert len(g.get_operations()) - before == 2 * 2  # two Mul and their constants, unrolled
        assert not [op for op in g.get_operations() if op.type in ("While", "If")]
        with tf.Session() as sess:
            assert sess.run(y, {x: 1.0}) == 6.0
    assert n_ops(f, 1.0, [2.0, 3.0]) == 0


def test_for_with_break_and_else():
    def f(n, limit):
        s = 0
        found = 0
        for i in tf.range(n):
            s += i
            if s > limit:
                found = 1
                break
        else:
            found = -1
        return s * 10 + found

    def py(n, limit):
        s, found = 0, 0
        for i in range(n):
            s += i
            if s > limit:
                found = 1
                break
        else:
            found = -1
        return s * 10 + found

    with tf.Graph().as_default():
        n, lim = tf.placeholder(tf.int32, []), tf.placeholder(tf.int32, [])
        out = autograph.convert(f)(n, lim)
        with tf.Session() as sess:
            for a, b in ((10, 7), (4, 100), (0, 0)):
                assert sess.run(out, {n: a, lim: b}) == py(a, b)


def test_for_python_list_with_break_and_continue():
    def f(xs):
        s = 0
        for x in xs:
            if x < 0:
                continue
            if x > 100:
                break
            s += x
        return s

    g = autograph.convert(f)
    for xs in ([1, -2, 3], [5, 200, 7], []):
        assert g(xs) == f(xs)


# -- return ----------------------------------------------------------------------

def test_return_in_both_branches():
    def f(x):
        if x > 0:
            return x * 2
        else:
            return -x

    check(f, (3,), (-4,))


def test_early_return():
    def f(x):
        if x < 0:
            return 0
        x = x * 3
        return x + 1

    check(f, (-5,), (5,))


def test_return_inside_a_loop():
    def first_multiple(n, k):
        i = 1
        while i < n:
            if i % k == 0:
                return i
            i += 1
        return -1

    with tf.Graph().as_default():
        n, k = tf.placeholder(tf.int32, []), tf.placeholder(tf.int32, [])
        out = autograph.convert(first_multiple)(n, k)
        with tf.Session() as sess:
            for a, b in ((20, 7), (5, 9)):
                assert sess.run(out, {n: a, k: b}) == first_multiple(a, b)


def test_return_in_one_branch_only_is_an_error():
    def f(x):
        if x > 0:
            return x
        x = x + 1  # falls off the end: returns None

    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="returns a value in the if branch only"):
            autograph.convert(f)(tf.placeholder(tf.int32, []))


# -- closures, globals, methods, nested functions --------------------------------

def test_closures_and_globals():
    scale = 3

    def f(x):
        if x > 0:
            x = x * scale + GLOBAL_OFFSET
        return x

    check(f, (2,), (-2,))
    g = autograph.convert(f)
    assert g(1) == 103
    scale = 5  # the converted function reads the same closure cell
    assert g(1) == 105


def test_globals_declared_global():
    def f(x):
        global GLOBAL_OFFSET
        if x > 0:
            GLOBAL_OFFSET = GLOBAL_OFFSET + 1
        return x

    g = autograph.convert(f)
    g(1)
    assert GLOBAL_OFFSET == 101
    globals()["GLOBAL_OFFSET"] = 100


class Accumulator:
    def __init__(self, bias):
        self.bias = bias

    def clip(self, x):
        if x > self.bias:
            x = self.bias + 0
        return x

    def shift(self, x):
        return x - self.bias


class Child(Accumulator):
    def clip(self, x):  # functions it calls are not converted: super().shift has no tensor if
        y = super().shift(x)
        if y < 0:
            y = y * 0
        return y


def test_methods():
    acc = Accumulator(10)
    m = autograph.convert(acc.clip)
    assert m.__self__ is acc
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [])
        y = m(x)
        with tf.Session() as sess:
            assert [sess.run(y, {x: v}) for v in (5, 50)] == [5, 10]
    c = Child(10)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [])
        y = autograph.convert(c.clip)(x)
        with tf.Session() as sess:
            assert [sess.run(y, {x: v}) for v in (-5, 5, 50)] == [0, 0, 40]


def test_nested_functions_are_converted():
    def f(x):
        def inner(y):
            if y > 0:
                y = y - 1
            return y

        return inner(x) + inner(x)

    check(f, (5,), (-5,))


def decorated_helper(fn):
    return fn


@decorated_helper
def decorated(x):
    if x > 1:
        x = x - 1
    return x


def test_decorators_are_stripped():
    assert "decorated_helper" not in autograph.to_code(decorated)
    check(decorated, (5,), (0,))


# -- api -------------------------------------------------------------------------

def test_convert_caches_by_code_object():
    g1 = autograph.convert(sign)
    assert autograph.convert(sign) is g1
    assert autograph.convert(g1) is g1
    assert autograph.to_graph(sign) is g1

    def make(k):
        def f(x):
            if x > 0:
                x = x + k
            return x
        return f

    a, b = make(1), make(2)
    ca, cb = autograph.convert(a), autograph.convert(b)
    assert ca.__code__ is cb.__code__  # converted once
    assert ca(1) == 2 and cb(1) == 3


def test_to_code_is_readable_python():
    code = autograph.to_code(even_sum)
    compile(code, "<to_code>", "exec")
    for piece in ("def tf__even_sum(n):", "ag__.for_stmt(", "ag__.if_stmt(", "def loop_body(", "def if_body(",
                  "def else_body(", "def get_state(", "def set_state(", "# for i in tf.range(n):"):
        assert piece in code, piece
    code = autograph.to_code(collatz_steps)
    assert "ag__.while_stmt(" in code and "def loop_test(" in code
    code = autograph.to_code(in_box)
    assert "ag__.and_(lambda" in code and "ag__.not_(" in code
    code = autograph.to_code(sign)  # the comment on the first statement is not a docstring
    assert code.splitlines()[1].strip().startswith("# if x > 0: -> ag__.if_stmt")
    assert "__ag_comment" not in code and autograph.convert(sign).__doc__ is None


def test_do_not_convert():
    @autograph.experimental.do_not_convert
    def f(x):
        if x > 0:
            x = x + 1
        return x

    assert tf.autograph.experimental.do_not_convert is autograph.do_not_convert
    assert autograph.convert(f) is f
    assert autograph.to_graph(f) is f
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="as a Python `bool`"):
            autograph.convert(f)(tf.placeholder(tf.int32, []))


def test_tf_autograph_namespace():
    assert tf.autograph.to_code is autograph.to_code
    assert tf.autograph.to_graph is autograph.to_graph
    assert autograph.is_symbolic(tf.constant(1))
    assert not autograph.is_symbolic(1)


def test_generated_tracebacks_show_the_converted_source():
    def f(x):
        if x > 0:
            x = x + "a"
        return x

    import traceback
    with pytest.raises(TypeError) as info:
        autograph.convert(f)(1)
    assert "x = x + 'a'" in "".join(traceback.format_tb(info.value.__traceback__))


def test_gradients_flow_through_converted_control_flow():
    def f(x):
        y = x
        for _ in tf.range(3):
            if y < 100.0:
                y = y * x
        return y

    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [])
        y = autograph.convert(f)(x)
        dy = tf.gradients(y, x)[0]
        with tf.Session() as sess:
            val, grad = sess.run([y, dy], {x: 2.0})
    assert val == 16.0 and grad == 32.0


def test_break_in_nested_loops_over_tensor_rows():
    def f(m):
        total = 0
        for row in m:
            for v in row:
                if v < 0:
                    break
                total += v
        return total

    m = np.array([[1, 2, -1, 5], [3, -4, 1, 1]], np.int32)
    assert run_graph(f, m) == f(m) == 6


def test_tensor_and_in_a_while_test_is_lazy():
    def count_positive_prefix(x, n):
        i = 0
        while i < n and x[i] > 0:  # x[n] would be out of range: the right side must not run there
            i += 1
        return i

    for x in (np.array([3, 2, 0, 1], np.int32), np.array([3, 2, 5, 1], np.int32)):
        assert run_graph(count_positive_prefix, x, 4) == count_positive_prefix(x, 4)


def test_with_statement_inside_a_tensor_loop():
    def f(x):
        for _ in tf.range(3):
            with tf.name_scope("step"):
                x = x + 1.0
        return x

    assert run_graph(f, 1.0) == 4.0


def test_python_loop_whose_condition_becomes_a_tensor_is_a_clear_error():
    def f(x):
        k = 0
        while k < 3:
            k = k + x
        return k

    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="became a tensor after 1 iterations"):
            autograph.convert(f)(tf.placeholder(tf.int32, []))
