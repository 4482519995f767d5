"""``tf.keras.optimizers.Adagrad`` (ApplyAdagradV2: epsilon outside the root); slot
``accumulator`` starting at ``initial_accumulator_value``."""
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.training_ops import ApplyAdagradV2
from nbflow.keras.optimizers.optimizer_v2 import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """``accum += g^2; var -= lr * g / (sqrt(accum) + epsilon)``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name="Adagrad", **kwargs):
        if initial_accumulator_value < 0.0:
            raise ValueError("initial_accumulator_value must be non-negative: %s" % initial_accumulator_value)
        super().__init__(name, **kwargs)
        self._set_hyper("learning_rate", kwargs.get("lr", learning_rate))
        self._set_hyper("decay", self._initial_decay)
        self._initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon if epsilon is not None else 1e-7

    def _create_slots(self, var_list):
        for var in var_list:
            self.add_slot(var, "accumulator", float(self._initial_accumulator_value))

    def _prepare_local(self, var_dtype, coefficients):
        super()._prepare_local(var_dtype, coefficients)
        coefficients["epsilon"] = convert_to_tensor(self.epsilon, dtype=var_dtype)

    def _resource_apply_dense(self, grad, var, coefficients):
        c = coefficients
        return self._apply_op(ApplyAdagradV2, [var, self.get_slot(var, "accumulator"), c["lr_t"], c["epsilon"], grad],
                              {"update_slots": True})

    def get_config(self):
        config = super().get_config()
        config.update({
            "learning_rate": self._serialize_hyperparameter("learning_rate"),
            "decay": self._serialize_hyperparameter("decay"),
            "initial_accumulator_value": self._initial_accumulator_value,
            "epsilon": self.epsilon,
        })
        return config
