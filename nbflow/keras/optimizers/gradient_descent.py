"""``tf.keras.optimizers.SGD``: plain steps (ApplyGradientDescent) or Keras momentum
(ApplyKerasMomentum: the ``momentum`` slot holds the last step, ``-lr * grad`` at first)."""
from nbflow.framework.graph import Tensor
from nbflow.ops.training_ops import ApplyGradientDescent, ApplyKerasMomentum
from nbflow.keras.optimizers.optimizer_v2 import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """``var -= lr * grad``; with momentum ``m = momentum * m - lr * grad; var += m``
    (Nesterov: ``var += momentum * m - lr * grad``)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(name, **kwargs)
        self._set_hyper("learning_rate", kwargs.get("lr", learning_rate))
        self._set_hyper("decay", self._initial_decay)
        self._momentum = isinstance(momentum, Tensor) or callable(momentum) or momentum > 0
        if isinstance(momentum, (int, float)) and (momentum < 0 or momentum > 1):
            raise ValueError("`momentum` must be between [0, 1].")
        self._set_hyper("momentum", momentum)
        self.nesterov = nesterov

    def _create_slots(self, var_list):
        if self._momentum:
            for var in var_list:
                self.add_slot(var, "momentum")

    def _prepare_local(self, var_dtype, coefficients):
        super()._prepare_local(var_dtype, coefficients)
        if self._momentum:
            coefficients["momentum"] = self._get_hyper("momentum", var_dtype)

    def _resource_apply_dense(self, grad, var, coefficients):
        if self._momentum:
            return self._apply_op(ApplyKerasMomentum, [var, self.get_slot(var, "momentum"), coefficients["lr_t"],
                                                       grad, coefficients["momentum"]],
                                  {"use_nesterov": bool(self.nesterov)})
        return self._apply_op(ApplyGradientDescent, [var, coefficients["lr_t"], grad])

    def get_config(self):
        config = super().get_config()
        config.update({
            "learning_rate": self._serialize_hyperparameter("learning_rate"),
            "decay": self._serialize_hyperparameter("decay"),
            "momentum": self._serialize_hyperparameter("momentum"),
            "nesterov": self.nesterov,
        })
        return config
