"""``tensorflow.examples.tutorials``: see ``nbflow.examples.tutorials.mnist``."""
