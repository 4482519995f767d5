"""``tensorflow.examples.tutorials.mnist``: ``input_data`` (TF's ``mnist`` model module is not here)."""
from nbflow.examples.tutorials.mnist import input_data  # noqa: F401
