"""``tf.keras.utils``: the progress bar (``Progbar``) and ``to_categorical``."""
from nbflow.keras.utils.generic_utils import Progbar
from nbflow.keras.utils.np_utils import to_categorical

__all__ = ["Progbar", "to_categorical"]
