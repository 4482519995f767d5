"""``Embedding``: rows of an [input_dim, output_dim] table gathered by integer ids."""
from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras import initializers, regularizers
from nbflow.keras.layers.base_layer import Layer
from nbflow.keras.layers.core import serialize_or_none
from nbflow.ops import math_ops as M
from nbflow.ops.embedding_ops import embedding_lookup

__all__ = ["Embedding"]


class Embedding(Layer):
    """[...] integer ids -> [..., output_dim]; table ``embeddings`` (uniform in [-0.05, 0.05]).
    ``mask_zero`` is kept in the config but makes no mask (nbflow's layers have no masking yet)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 activity_regularizer=None, embeddings_constraint=None, mask_zero=False, input_length=None,
                 **kwargs):
        if "input_shape" not in kwargs and input_length is not None:
            kwargs["input_shape"] = (input_length,)
        kwargs.setdefault("autocast", False)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if int(input_dim) <= 0 or int(output_dim) <= 0:
            raise ValueError("Both `input_dim` and `output_dim` should be positive, found input_dim %s and "
                             "output_dim %s" % (input_dim, output_dim))
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = embeddings_constraint
        self.mask_zero = mask_zero
        self.input_length = input_length

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True

    def _convert_input(self, x):
        x = super()._convert_input(x)
        if x is not None and x.dtype not in (dtypes.int32, dtypes.int64):
            x = M.cast(x, dtypes.int32)
        return x

    def call(self, inputs):
        return embedding_lookup(self.embeddings, inputs)

    def compute_output_shape(self, input_shape):
        input_shape = TensorShape(input_shape)
        return TensorShape(list(input_shape.as_tuple()) + [self.output_dim])

    def get_config(self):
        config = super().get_config()
        config.update(input_dim=self.input_dim, output_dim=self.output_dim,
                      embeddings_initializer=serialize_or_none(self.embeddings_initializer, initializers),
                      embeddings_regularizer=serialize_or_none(self.embeddings_regularizer, regularizers),
                      activity_regularizer=serialize_or_none(self.activity_regularizer, regularizers),
                      embeddings_constraint=self.embeddings_constraint, mask_zero=self.mask_zero,
                      input_length=self.input_length)
        return config
