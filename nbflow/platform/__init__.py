"""Platform utilities, as TF's ``tensorflow.python.platform`` (``tf_logging``: ``tf.logging``)."""
