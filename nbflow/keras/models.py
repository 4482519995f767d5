"""``tf.keras.models``: ``Model``, ``Sequential``; ``load_model`` is not supported (nbflow saves
weights only: ``model.save`` writes ``<path>/variables/variables``; rebuild the model in code
and ``load_weights`` that prefix)."""
from nbflow.keras.engine import Functional, Model, Sequential

__all__ = ["Model", "Sequential", "Functional", "load_model"]


def load_model(filepath, custom_objects=None, compile=True, options=None):
    raise NotImplementedError(
        "tf.keras.models.load_model is not supported by nbflow (no model serialization). Rebuild the model in "
        "code and call model.load_weights(%r)" % (str(filepath) + "/variables/variables"))
