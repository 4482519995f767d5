import numpy as np
import pytest

import nbflow as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    """Every test starts on an empty default graph."""
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


@pytest.fixture
def rng():
    return np.random.RandomState(0)
