#!/usr/bin/env python
"""The TF 2 course deck's first snippets, run eagerly with nbflow.

    python examples/eager_basics.py

Define-by-run: ops run as they are called and print their values; a
GradientTape records them for gradients; ``@tf.function`` turns a Python
function (with its ``for``/``if`` on tensors) into one compiled graph.
"""
import nbflow as tf

tf.enable_eager_execution()  # TF 1.15's switch; in TF 2 this is the default


def main():
    # TF 1.x would print a symbolic Tensor("add:0", ...); eagerly the value is there.
    a = tf.constant(3)
    b = tf.constant(5)
    c = a + b
    print(c)  # tf.Tensor(8, shape=(), dtype=int32)

    # z = w * x + b, define-by-run: no graph, no session, no initializer.
    w = tf.Variable(2.0, name="weight")
    b = tf.Variable(0.7, name="bias")
    for x in [1.0, 0.6, -1.8]:
        z = w * x + b
        print("x=%4.1f --> z=%4.1f" % (x, z))

    # Gradients: the tape records the ops that read trainable variables.
    with tf.GradientTape() as tape:
        z = w * 3.0 + b
        loss = tf.square(z - 5.0)
    dw, db = tape.gradient(loss, [w, b])
    print("d loss / d w = %.2f, d loss / d b = %.2f" % (dw, db))

    # numpy in and out
    m = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    print(tf.matmul(m, m).numpy())

    # tf.function: Python control flow on tensors becomes tf.while_loop / tf.cond (AutoGraph).
    @tf.function
    def sum_even(n):
        s = tf.constant(0)
        for i in tf.range(n):
            if i % 2 == 0:
                s += i
        return s

    print("sum of even numbers below 10:", int(sum_even(tf.constant(10))))
    print(tf.autograph.to_code(sum_even.python_function).splitlines()[0], "...")


if __name__ == "__main__":
    main()
