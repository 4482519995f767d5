"""tf.keras.optimizers: TF 2's update rules (numpy references), eagerly and in graphs,
slots, iterations, schedules, minimize, errors and configs."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework.context import eager_mode
from nbflow.ops import training_ops
from nbflow.train.optimizers import _apply

K = tf.keras.optimizers


@pytest.fixture
def eager():
    """Eager mode for one test only (the rest of the suite builds graphs)."""
    with eager_mode():
        yield


# -- numpy references of TF 2's update rules ------------------------------------------------
# Hyper-parameters (learning_rate, beta_1, rho, momentum ...) are float32 variables cast to the
# variable's dtype, as Keras's; epsilon is converted to the variable's dtype directly.

def _h(x, dt):
    return dt.type(np.float32(x))


def ref_sgd(var, grads, learning_rate=0.01, momentum=0.0, nesterov=False):
    dt = var.dtype
    lr, mom = _h(learning_rate, dt), _h(momentum, dt)
    var, m = var.copy(), np.zeros_like(var)
    for g in grads:
        if momentum:
            m = m * mom - g * lr
            var = var + (m * mom - g * lr if nesterov else m)
        else:
            var = var - lr * g
    return var, ({"momentum": m} if momentum else {})


def ref_adam(var, grads, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    dt = var.dtype
    lr, b1, b2, eps, one = _h(learning_rate, dt), _h(beta_1, dt), _h(beta_2, dt), dt.type(epsilon), dt.type(1)
    var, m, v, vhat = var.copy(), np.zeros_like(var), np.zeros_like(var), np.zeros_like(var)
    for t, g in enumerate(grads, 1):
        b1p, b2p = b1 ** dt.type(t), b2 ** dt.type(t)
        alpha = lr * np.sqrt(one - b2p) / (one - b1p)
        m = m + (g - m) * (one - b1)
        v = v + (g * g - v) * (one - b2)
        vhat = np.maximum(vhat, v)
        var = var - m * alpha / (np.sqrt(vhat if amsgrad else v) + eps)
    return var, ({"m": m, "v": v, "vhat": vhat} if amsgrad else {"m": m, "v": v})


def ref_rmsprop(var, grads, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    dt = var.dtype
    lr, rho, mom_c, eps, one = _h(learning_rate, dt), _h(rho, dt), _h(momentum, dt), dt.type(epsilon), dt.type(1)
    var, ms, mg, mom = var.copy(), np.zeros_like(var), np.zeros_like(var), np.zeros_like(var)
    for g in grads:
        if momentum:  # ApplyRMSProp / ApplyCenteredRMSProp
            ms = ms + (g * g - ms) * (one - rho)
            denom = ms + eps
            if centered:
                mg = mg + (g - mg) * (one - rho)
                denom = ms - mg * mg + eps
            mom = mom * mom_c + g * lr / np.sqrt(denom)
            var = var - mom
        else:  # TF 2's assign-op update: epsilon outside the root
            ms = rho * ms + (one - rho) * (g * g)
            denom = ms
            if centered:
                mg = rho * mg + (one - rho) * g
                denom = ms - mg * mg
            var = var - lr * g / (np.sqrt(denom) + eps)
    slots = {"rms": ms}
    if momentum:
        slots["momentum"] = mom
    if centered:
        slots["mg"] = mg
    return var, slots


def ref_adagrad(var, grads, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
    dt = var.dtype
    lr, eps = _h(learning_rate, dt), dt.type(epsilon)
    var, acc = var.copy(), np.full_like(var, initial_accumulator_value)
    for g in grads:
        acc = acc + g * g
        var = var - g * lr / (np.sqrt(acc) + eps)
    return var, {"accumulator": acc}


CASES = [
    ("sgd", K.SGD, ref_sgd, {"learning_rate": 0.1}),
    ("sgd_momentum", K.SGD, ref_sgd, {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd_nesterov", K.SGD, ref_sgd, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("adam", K.Adam, ref_adam, {"learning_rate": 0.1}),
    ("adam_betas", K.Adam, ref_adam, {"learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
    ("adam_amsgrad", K.Adam, ref_adam, {"learning_rate": 0.1, "amsgrad": True}),
    ("rmsprop", K.RMSprop, ref_rmsprop, {"learning_rate": 0.01}),
    ("rmsprop_centered", K.RMSprop, ref_rmsprop, {"learning_rate": 0.01, "centered": True}),
    ("rmsprop_momentum", K.RMSprop, ref_rmsprop, {"learning_rate": 0.01, "momentum": 0.5}),
    ("rmsprop_momentum_centered", K.RMSprop, ref_rmsprop, {"learning_rate": 0.01, "momentum": 0.5,
                                                            "centered": True}),
    ("adagrad", K.Adagrad, ref_adagrad, {"learning_rate": 0.1}),
    ("adagrad_init", K.Adagrad, ref_adagrad, {"learning_rate": 0.1, "initial_accumulator_value": 0.5,
                                              "epsilon": 1e-4}),
]


def _problem(dtype, steps=3, shape=(3, 2)):
    rng = np.random.RandomState(42)
    init = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]
    grads[-1][0] *= 0.01  # a small gradient: amsgrad's vhat keeps the larger v there
    return init, grads


def run_graph(make, init, grads):
    """Apply ``grads`` in a graph (one update op, the gradient fed); var, slots, iterations."""
    with tf.Graph().as_default():
        v = tf.Variable(init, name="w")
        g = tf.placeholder(tf.as_dtype(init.dtype), init.shape)
        opt = make()
        train = opt.apply_gradients([(g, v)])
        assert isinstance(train, tf.Operation)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for gr in grads:
                sess.run(train, {g: gr})
            slots = {n: sess.run(opt.get_slot(v, n)) for n in opt.get_slot_names()}
            return sess.run(v), slots, sess.run(opt.iterations)


def run_eager(make, init, grads):
    with eager_mode():
        v = tf.Variable(init, name="w")
        opt = make()
        for gr in grads:
            out = opt.apply_gradients([(tf.constant(gr), v)])
        assert out is opt.iterations
        slots = {n: opt.get_slot(v, n).numpy() for n in opt.get_slot_names()}
        return v.numpy(), slots, opt.iterations.numpy()


def _tols(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_updates_match_numpy_reference_in_both_modes(case, dtype):
    _, cls, ref, kwargs = case
    init, grads = _problem(dtype)
    want_var, want_slots = ref(init, grads, **kwargs)
    results = {"graph": run_graph(lambda: cls(**kwargs), init, grads),
               "eager": run_eager(lambda: cls(**kwargs), init, grads)}
    for mode, (var, slots, iters) in results.items():
        assert var.dtype == dtype, mode
        np.testing.assert_allclose(var, want_var, err_msg=mode, **_tols(dtype))
        assert sorted(slots) == sorted(want_slots), mode
        for name, want in want_slots.items():
            np.testing.assert_allclose(slots[name], want, err_msg="%s %s" % (mode, name), **_tols(dtype))
        assert iters == 3 and np.asarray(iters).dtype == np.int64
    gv, ev = results["graph"][0], results["eager"][0]
    if cls is K.Adam and dtype == np.float64:
        # float64 beta^t: eager Pow sees t = 3 and multiplies, graph Pow calls pow() (an ulp apart)
        np.testing.assert_allclose(ev, gv, rtol=1e-13)
    else:
        np.testing.assert_array_equal(ev, gv)


# -- the new Apply ops against numpy --------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_new_apply_ops_match_numpy(dtype):
    rng = np.random.RandomState(1)
    var0, acc0, g = (rng.standard_normal(5).astype(dtype) for _ in range(3))
    acc0 = np.abs(acc0) + dtype(0.5)
    lr, mom, rho, eps = dtype(0.1), dtype(0.9), dtype(0.8), dtype(1e-3)
    cases = [
        (training_ops.ApplyAdagradV2, [acc0], [lr, eps, g], {"update_slots": True},
         lambda v, a: (v - g * lr / (np.sqrt(a + g * g) + eps), [a + g * g])),
        (training_ops.ApplyAdagradV2, [acc0], [lr, eps, g], {"update_slots": False},
         lambda v, a: (v - g * lr / (np.sqrt(a) + eps), [a])),
        (training_ops.ApplyKerasMomentum, [acc0], [lr, g, mom], {"use_nesterov": False},
         lambda v, a: (v + (a * mom - g * lr), [a * mom - g * lr])),
        (training_ops.ApplyKerasMomentum, [acc0], [lr, g, mom], {"use_nesterov": True},
         lambda v, a: (v + (a * mom - g * lr) * mom - g * lr, [a * mom - g * lr])),
        (training_ops.ApplyAdamWithAmsgrad, [acc0, acc0 * 2, acc0 * 3],
         [dtype(0.5), dtype(0.25), lr, dtype(0.5), dtype(0.5), eps, g], {},
         lambda v, m, s, h: (v - (m + (g - m) * dtype(0.5)) * (lr * np.sqrt(dtype(0.75)) / dtype(0.5))
                             / (np.sqrt(np.maximum(h, s + (g * g - s) * dtype(0.5))) + eps),
                             [m + (g - m) * dtype(0.5), s + (g * g - s) * dtype(0.5),
                              np.maximum(h, s + (g * g - s) * dtype(0.5))])),
        (training_ops.ApplyKerasRMSProp, [acc0], [lr, rho, eps, g], {},
         lambda v, a: (v - lr * g / (np.sqrt(rho * a + (1 - rho) * g * g) + eps), [rho * a + (1 - rho) * g * g])),
        (training_ops.ApplyKerasCenteredRMSProp, [var0 * 0.1, acc0], [lr, rho, eps, g], {},
         lambda v, mg, a: (v - lr * g / (np.sqrt((rho * a + (1 - rho) * g * g) - (rho * mg + (1 - rho) * g) ** 2)
                                         + eps), [rho * mg + (1 - rho) * g, rho * a + (1 - rho) * g * g])),
    ]
    for op_cls, slots0, rest, attrs, ref in cases:
        with tf.Graph().as_default():
            refs = [tf.Variable(var0)] + [tf.Variable(s) for s in slots0]
            out = _apply(op_cls, refs + rest, attrs)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                got = sess.run(out)
                got_slots = sess.run(refs[1:])
        want, want_slots = ref(var0, *slots0)
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-14, err_msg=op_cls.type)
        for a, b in zip(got_slots, want_slots):
            np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-14, err_msg=op_cls.type)


def test_keras_momentum_differs_from_tf1_momentum_when_the_learning_rate_changes(eager):
    """The Keras slot holds the step (lr folded in): a new learning rate does not rescale
    the accumulated velocity, unlike tf.train.MomentumOptimizer."""
    v = tf.Variable([1.0])
    opt = K.SGD(0.1, momentum=0.5)
    opt.apply_gradients([(tf.constant([1.0]), v)])
    opt.learning_rate = 1.0
    opt.apply_gradients([(tf.constant([1.0]), v)])
    # m1 = -0.1; m2 = 0.5 * -0.1 - 1.0 = -1.05; var = 1 - 0.1 - 1.05
    np.testing.assert_allclose(v.numpy(), [1.0 - 0.1 - 1.05], rtol=1e-6)
    np.testing.assert_allclose(opt.get_slot(v, "momentum").numpy(), [-1.05], rtol=1e-6)


# -- slots, iterations, variables ---------------------------------------------------------------

def test_slots_are_made_on_first_apply_and_named_as_keras(eager):
    w = tf.Variable(np.ones((2, 2), np.float32), name="w")
    b = tf.Variable(np.zeros(2, np.float32), name="dense/b")
    opt = K.Adam()
    assert opt.get_slot_names() == [] and opt.variables() == []
    with pytest.raises(KeyError):
        opt.get_slot(w, "m")
    opt.apply_gradients([(tf.ones((2, 2)), w), (tf.ones(2), b)])
    assert opt.get_slot_names() == ["m", "v"]
    assert [v.name for v in opt.variables()] == ["Adam/iter:0", "Adam/w/m:0", "Adam/dense/b/m:0", "Adam/w/v:0",
                                                 "Adam/dense/b/v:0"]
    assert opt.weights == opt.variables()
    m = opt.get_slot(w, "m")
    assert not m.trainable and m.dtype == tf.float32 and m.shape.as_list() == [2, 2]
    opt.apply_gradients([(tf.ones((2, 2)), w)])
    assert opt.get_slot(w, "m") is m and len(opt.variables()) == 5  # made once
    assert opt.iterations.numpy() == 2 and opt.iterations.dtype == tf.int64
    assert len(opt.get_weights()) == 5


def test_slot_names_per_optimizer(eager):
    def names(opt):
        v = tf.Variable([1.0], name="x")
        opt.apply_gradients([(tf.constant([1.0]), v)])
        return opt.get_slot_names()

    assert names(K.SGD()) == []
    assert names(K.SGD(momentum=0.9)) == ["momentum"]
    assert names(K.RMSprop()) == ["rms"]
    assert names(K.RMSprop(momentum=0.1, centered=True)) == ["rms", "momentum", "mg"]
    assert names(K.Adagrad()) == ["accumulator"]
    assert names(K.Adam(amsgrad=True)) == ["m", "v", "vhat"]


def test_graph_mode_slots_are_global_variables_initialized_after_the_update_op():
    w = tf.Variable(np.ones(3, np.float32), name="w")
    opt = K.RMSprop(0.01, momentum=0.9)
    loss = tf.reduce_sum(w * w)
    train = opt.minimize(loss, [w])
    names = {v.name for v in tf.global_variables()}
    assert {"RMSprop/iter:0", "RMSprop/w/rms:0", "RMSprop/w/momentum:0", "RMSprop/learning_rate:0"} <= names
    assert all(v.name != "RMSprop/w/rms:0" for v in tf.trainable_variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(2):
            sess.run(train)
        assert sess.run(opt.iterations) == 2
        np.testing.assert_array_equal(sess.run(opt.get_slot(w, "rms")) > 0, True)


def test_slots_made_while_a_function_graph_traces_are_eager_variables(eager):
    """Variables made under init_scope inside a lifting graph (a tf.function trace) are eager."""
    w = tf.Variable([1.0, 2.0], name="w")
    opt = K.Adam()
    g = tf.Graph()
    g.lift_variables = True
    with g.as_default():
        opt._create_all_weights([w])
    m = opt.get_slot(w, "m")
    assert hasattr(m, "numpy") and m.numpy().tolist() == [0.0, 0.0]
    assert hasattr(opt.iterations, "numpy") and g.get_operations() == []


def test_iterations_counts_applies_in_a_graph():
    v = tf.Variable([1.0])
    opt = K.SGD(0.5)
    assert opt.iterations.dtype == tf.int64
    train = opt.apply_gradients([(tf.constant([1.0]), v)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(4):
            sess.run(train)
        assert sess.run(opt.iterations) == 4
        np.testing.assert_allclose(sess.run(v), [1.0 - 4 * 0.5])


# -- hyper-parameters ------------------------------------------------------------------------------

def test_learning_rate_is_settable_eagerly(eager):
    v = tf.Variable([1.0])
    opt = K.SGD(learning_rate=0.1)
    lr = opt.learning_rate  # a float32 variable, as TF's
    assert lr.dtype == tf.float32 and not lr.trainable
    np.testing.assert_allclose(lr.numpy(), 0.1)
    opt.apply_gradients([(tf.constant([1.0]), v)])
    assert opt.learning_rate is lr
    opt.learning_rate = 0.5
    opt.apply_gradients([(tf.constant([1.0]), v)])
    np.testing.assert_allclose(v.numpy(), [1.0 - 0.1 - 0.5], rtol=1e-6)
    opt.lr = 0.25
    np.testing.assert_allclose(opt.lr.numpy(), 0.25)
    opt.learning_rate = lambda: 1.0  # a callable is called at each apply
    opt.apply_gradients([(tf.constant([1.0]), v)])
    np.testing.assert_allclose(v.numpy(), [1.0 - 0.1 - 0.5 - 1.0], rtol=1e-6)


def test_learning_rate_set_in_a_graph_is_loaded_into_the_session():
    v = tf.Variable([1.0])
    opt = K.SGD(learning_rate=0.1)
    train = opt.apply_gradients([(tf.constant([1.0]), v)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        with sess.as_default():
            opt.learning_rate = 0.5
        sess.run(train)
        np.testing.assert_allclose(sess.run(v), [1.0 - 0.1 - 0.5], rtol=1e-6)


def test_legacy_decay_argument(eager):
    v = tf.Variable([0.0])
    opt = K.SGD(learning_rate=1.0, decay=0.5)
    for _ in range(3):
        opt.apply_gradients([(tf.constant([1.0]), v)])
    # lr / (1 + decay * iterations) with iterations 0, 1, 2
    np.testing.assert_allclose(v.numpy(), [-(1.0 + 1 / 1.5 + 1 / 2.0)], rtol=1e-6)


# -- schedules ---------------------------------------------------------------------------------

S = K.schedules

SCHEDULES = [
    (S.ExponentialDecay(0.1, 10, 0.5), lambda s: 0.1 * 0.5 ** (s / 10)),
    (S.ExponentialDecay(0.1, 10, 0.5, staircase=True), lambda s: 0.1 * 0.5 ** np.floor(s / 10)),
    (S.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1]), lambda s: 1.0 if s <= 5 else 0.5 if s <= 10 else 0.1),
    (S.InverseTimeDecay(0.1, 10, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 10)),
    (S.InverseTimeDecay(0.1, 10, 0.5, staircase=True), lambda s: 0.1 / (1 + 0.5 * np.floor(s / 10))),
    (S.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0),
     lambda s: (0.1 - 0.01) * (1 - min(s, 10) / 10) ** 2 + 0.01),
    (S.PolynomialDecay(0.1, 10, cycle=True),
     lambda s: (0.1 - 0.0001) * (1 - s / (10 * max(1, np.ceil(s / 10)))) + 0.0001),
]
STEPS = [0, 1, 5, 6, 10, 11, 25]


@pytest.mark.parametrize("i", range(len(SCHEDULES)))
def test_schedule_values_in_both_modes(i):
    schedule, ref = SCHEDULES[i]
    want = [ref(s) for s in STEPS]
    step = tf.placeholder(tf.int64, [])
    out = schedule(step)
    with tf.Session() as sess:
        got = [sess.run(out, {step: s}) for s in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with eager_mode():
        got = [schedule(tf.constant(float(s))).numpy() for s in STEPS]
        got_int = [schedule(s).numpy() for s in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got_int, want, rtol=1e-6)
    again = type(schedule).from_config(schedule.get_config())
    assert again.get_config() == schedule.get_config()


@pytest.mark.parametrize("mode", ["graph", "eager"])
def test_optimizer_with_a_schedule_reads_iterations(mode):
    schedule = S.PiecewiseConstantDecay([0, 1], [1.0, 0.5, 0.25])
    init, grads = np.zeros(2, np.float32), [np.ones(2, np.float32)] * 4
    run = run_graph if mode == "graph" else run_eager
    var, _, iters = run(lambda: K.SGD(learning_rate=schedule), init, grads)
    # steps 0, 1, 2, 3: rates 1.0, 0.5, 0.25, 0.25
    np.testing.assert_allclose(var, -(1.0 + 0.5 + 0.25 + 0.25) * np.ones(2), rtol=1e-6)
    assert iters == 4


def test_adam_with_exponential_decay_matches_reference():
    schedule = S.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    init, grads = _problem(np.float64)
    var, _, _ = run_graph(lambda: K.Adam(learning_rate=schedule), init, grads)
    # reference: Adam's update with lr_t = schedule(t - 1), computed step by step
    want = init.copy()
    m = np.zeros_like(init)
    v = np.zeros_like(init)
    b1, b2 = np.float64(np.float32(0.9)), np.float64(np.float32(0.999))
    for t, g in enumerate(grads, 1):
        lr = np.float64(np.float32(0.1) * np.float32(0.5) ** np.float32((t - 1) / 2))
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        want = want - m * lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(var, want, rtol=1e-6)


# -- minimize ------------------------------------------------------------------------------------

def test_minimize_with_a_callable_loss_eagerly(eager):
    w = tf.Variable([3.0, -2.0])
    opt = K.SGD(0.1)
    for _ in range(50):
        opt.minimize(lambda: tf.reduce_sum(tf.square(w - 1.0)), var_list=[w])
    np.testing.assert_allclose(w.numpy(), [1.0, 1.0], atol=1e-4)
    created = []

    def var_list():
        return created

    def loss():
        if not created:
            created.append(tf.Variable(5.0, name="late"))
        return tf.square(created[0])

    opt2 = K.Adam(0.5)
    opt2.minimize(loss, var_list=var_list)  # variables made by the loss
    assert created[0].numpy() < 5.0
    with pytest.raises(ValueError, match="`tape` is required"):
        opt2.minimize(tf.constant(1.0), var_list=[w])
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(w * w)
    opt2.minimize(value, var_list=[w], tape=tape)
    assert opt2.iterations.numpy() == 2


def test_minimize_in_a_graph_fits_a_linear_model():
    rng = np.random.RandomState(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    w = tf.Variable(tf.zeros([3, 1]))
    b = tf.Variable(tf.zeros([1]))
    h = tf.Variable(tf.ones([1, 1]))  # two layers: the gradient of w reads h before h's update

    def loss():
        return tf.reduce_mean(tf.square(tf.matmul(tf.matmul(x, w), h) + b - y))

    loss_t = loss()
    train = K.Adam(0.05).minimize(loss_t, var_list=lambda: [w, b, h])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss_t)
        for _ in range(300):
            last, _ = sess.run([loss_t, train])
    assert last < 1e-3 < first


def test_none_gradients_are_skipped(eager):
    a = tf.Variable([1.0], name="a")
    b = tf.Variable([1.0], name="b")
    opt = K.SGD(1.0)
    opt.minimize(lambda: tf.reduce_sum(a * 2.0), var_list=[a, b])
    assert a.numpy().tolist() == [-1.0] and b.numpy().tolist() == [1.0]


# -- errors --------------------------------------------------------------------------------------

def test_errors(eager):
    v = tf.Variable([1.0, 2.0], name="v")
    opt = K.SGD()
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply_gradients([(None, v)])
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.minimize(lambda: tf.constant(1.0), var_list=[v])
    with pytest.raises(ValueError, match="incompatible with variable"):
        opt.apply_gradients([(tf.constant([1.0, 2.0, 3.0]), v)])
    with pytest.raises(TypeError, match="dtype"):
        opt.apply_gradients([(tf.constant([1.0, 2.0], dtype=tf.float64), v)])
    with pytest.raises(NotImplementedError, match="Trying to update a Tensor"):
        opt.apply_gradients([(tf.constant([1.0]), tf.constant([1.0]))])
    with pytest.raises(ValueError, match="pairs"):
        opt.apply_gradients([(tf.constant([1.0, 2.0]), v, v)])
    with pytest.raises(ValueError, match="momentum"):
        K.SGD(momentum=1.5)
    with pytest.raises(TypeError, match="Unexpected keyword"):
        K.SGD(foo=1)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        K.Adagrad(initial_accumulator_value=-1.0)
    assert opt.iterations.numpy() == 0  # nothing was applied


def test_graph_errors():
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match="incompatible with variable"):
        K.Adam().apply_gradients([(tf.constant([[1.0, 2.0]]), v)])
    with pytest.raises(ValueError, match="No gradients provided"):
        K.Adam().minimize(tf.constant(2.0), [v])


# -- configs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_get_config_round_trip(case):
    _, cls, _, kwargs = case
    opt = cls(**kwargs)
    config = opt.get_config()
    for k, v in kwargs.items():
        assert config[k] == v
    again = cls.from_config(config)
    assert type(again) is cls and again.get_config() == config
    assert K.deserialize(K.serialize(opt)).get_config() == config


def test_defaults_and_get():
    assert K.SGD().get_config() == {"name": "SGD", "learning_rate": 0.01, "decay": 0.0, "momentum": 0.0,
                                    "nesterov": False}
    assert K.Adam().get_config() == {"name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9,
                                     "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}
    assert K.RMSprop().get_config() == {"name": "RMSprop", "learning_rate": 0.001, "decay": 0.0, "rho": 0.9,
                                        "momentum": 0.0, "epsilon": 1e-07, "centered": False}
    assert K.Adagrad().get_config() == {"name": "Adagrad", "learning_rate": 0.001, "decay": 0.0,
                                        "initial_accumulator_value": 0.1, "epsilon": 1e-07}
    for name, cls in [("adam", K.Adam), ("sgd", K.SGD), ("rmsprop", K.RMSprop), ("adagrad", K.Adagrad),
                      ("Adam", K.Adam)]:
        assert type(K.get(name)) is cls
    opt = K.SGD()
    assert K.get(opt) is opt
    assert K.get({"class_name": "SGD", "config": {"learning_rate": 0.5}}).get_config()["learning_rate"] == 0.5
    with pytest.raises(ValueError):
        K.get("nope")
    with pytest.raises(ValueError):
        K.get(3)


def test_config_with_a_schedule_and_lr_alias():
    opt = K.Adam(learning_rate=S.ExponentialDecay(0.1, 10, 0.9))
    config = opt.get_config()
    assert config["learning_rate"] == {"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9, "staircase": False, "name": None}}
    again = K.Adam.from_config(config)
    assert isinstance(again.learning_rate, S.ExponentialDecay)
    assert K.SGD(lr=0.3).get_config()["learning_rate"] == 0.3
    assert K.SGD.from_config({"lr": 0.2}).get_config()["learning_rate"] == 0.2


def test_keras_is_reachable_from_nbflow():
    import nbflow.keras

    assert tf.keras is nbflow.keras
    assert tf.keras.optimizers.RMSProp is tf.keras.optimizers.RMSprop


@pytest.mark.parametrize("mode", ["graph", "eager"])
def test_updates_read_every_gradient_before_any_variable_changes(mode):
    """One SGD step on y = x @ w @ h: w's gradient reads h, which is updated in place."""
    x = np.array([[1.0, 2.0]], np.float32)
    w0 = np.array([[0.5], [-1.0]], np.float32)
    h0 = np.array([[2.0]], np.float32)
    # loss = sum(x @ w @ h): dw = x^T @ h^T, dh = (x @ w)^T
    want_w, want_h = w0 - 0.1 * x.T @ h0.T, h0 - 0.1 * (x @ w0).T

    def build():
        w, h = tf.Variable(w0, name="w"), tf.Variable(h0, name="h")
        opt = K.SGD(0.1)
        return w, h, opt, (lambda: tf.reduce_sum(tf.matmul(tf.matmul(x, w), h)))

    if mode == "graph":
        w, h, opt, loss = build()
        train = opt.minimize(loss, var_list=[h, w])  # h's update built first
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train)
            got_w, got_h = sess.run([w, h])
    else:
        with eager_mode():
            w, h, opt, loss = build()
            opt.minimize(loss, var_list=[h, w])
            got_w, got_h = w.numpy(), h.numpy()
    np.testing.assert_allclose(got_w, want_w, rtol=1e-6)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-6)


@pytest.mark.parametrize("mode", ["graph", "eager"])
def test_constraint_is_applied_after_the_update(mode):
    def run():
        v = tf.Variable([0.5, -0.5], constraint=lambda t: tf.clip_by_value(t, -0.6, 0.6))
        return v, K.SGD(1.0).apply_gradients([(tf.constant([-1.0, 1.0]), v)])

    if mode == "graph":
        v, train = run()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train)
            got = sess.run(v)
    else:
        with eager_mode():
            v, _ = run()
            got = v.numpy()
    np.testing.assert_allclose(got, [0.6, -0.6])
