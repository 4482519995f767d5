"""``tensorflow.examples`` as TF 1.x programs import it: only ``tutorials.mnist.input_data``.

(The runnable example programs live in the repository's top-level ``examples/``.)
"""
