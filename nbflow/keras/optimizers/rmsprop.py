"""``tf.keras.optimizers.RMSprop``; slots ``rms`` (starts at zeros, unlike tf.train's
ones), ``momentum`` when momentum > 0, ``mg`` when centered.

With momentum TF 2 runs ApplyRMSProp / ApplyCenteredRMSProp (epsilon inside the
root); without, it updates with assign ops, epsilon outside the root -- here one
fused op, ApplyKerasRMSProp / ApplyKerasCenteredRMSProp."""
from nbflow.framework.graph import Tensor
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.training_ops import (
    ApplyCenteredRMSProp, ApplyKerasCenteredRMSProp, ApplyKerasRMSProp, ApplyRMSProp,
)
from nbflow.keras.optimizers.optimizer_v2 import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``ms = rho * ms + (1 - rho) * g^2``; without momentum
    ``var -= lr * g / (sqrt(ms) + epsilon)``; with momentum
    ``mom = momentum * mom + lr * g / sqrt(ms + epsilon); var -= mom``; centered
    subtracts ``mg^2`` (``mg = rho * mg + (1 - rho) * g``) from ``ms`` under the root."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name="RMSprop",
                 **kwargs):
        super().__init__(name, **kwargs)
        self._set_hyper("learning_rate", kwargs.get("lr", learning_rate))
        self._set_hyper("decay", self._initial_decay)
        self._set_hyper("rho", rho)
        self._momentum = isinstance(momentum, Tensor) or callable(momentum) or momentum > 0
        if isinstance(momentum, (int, float)) and (momentum < 0 or momentum > 1):
            raise ValueError("`momentum` must be between [0, 1].")
        self._set_hyper("momentum", momentum)
        self.epsilon = epsilon if epsilon is not None else 1e-7
        self.centered = centered

    def _create_slots(self, var_list):
        for var in var_list:
            self.add_slot(var, "rms")
        if self._momentum:
            for var in var_list:
                self.add_slot(var, "momentum")
        if self.centered:
            for var in var_list:
                self.add_slot(var, "mg")

    def _prepare_local(self, var_dtype, coefficients):
        super()._prepare_local(var_dtype, coefficients)
        coefficients.update(rho=self._get_hyper("rho", var_dtype), momentum=self._get_hyper("momentum", var_dtype),
                            epsilon=convert_to_tensor(self.epsilon, dtype=var_dtype))

    def _resource_apply_dense(self, grad, var, coefficients):
        c = coefficients
        rms = self.get_slot(var, "rms")
        if self._momentum:
            mom = self.get_slot(var, "momentum")
            hyper = [c["lr_t"], c["rho"], c["momentum"], c["epsilon"], grad]
            if self.centered:
                return self._apply_op(ApplyCenteredRMSProp, [var, self.get_slot(var, "mg"), rms, mom] + hyper)
            return self._apply_op(ApplyRMSProp, [var, rms, mom] + hyper)
        hyper = [c["lr_t"], c["rho"], c["epsilon"], grad]
        if self.centered:
            return self._apply_op(ApplyKerasCenteredRMSProp, [var, self.get_slot(var, "mg"), rms] + hyper)
        return self._apply_op(ApplyKerasRMSProp, [var, rms] + hyper)

    def get_config(self):
        config = super().get_config()
        config.update({
            "learning_rate": self._serialize_hyperparameter("learning_rate"),
            "decay": self._serialize_hyperparameter("decay"),
            "rho": self._serialize_hyperparameter("rho"),
            "momentum": self._serialize_hyperparameter("momentum"),
            "epsilon": self.epsilon,
            "centered": self.centered,
        })
        return config
