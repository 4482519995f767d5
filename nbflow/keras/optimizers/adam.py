"""``tf.keras.optimizers.Adam`` (ApplyAdam, or ApplyAdamWithAmsgrad, with the beta
powers computed from ``iterations``); slots ``m``, ``v`` (and ``vhat`` with amsgrad)."""
from nbflow.framework import dtypes
from nbflow.ops import array_ops, math_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.training_ops import ApplyAdam, ApplyAdamWithAmsgrad
from nbflow.keras.optimizers.optimizer_v2 import Optimizer

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam as TF 2: at step ``t = iterations + 1``,
    ``m = beta_1 * m + (1 - beta_1) * g``, ``v = beta_2 * v + (1 - beta_2) * g^2``,
    ``var -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)``; with
    ``amsgrad`` the denominator uses ``vhat = max(vhat, v)``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name="Adam",
                 **kwargs):
        super().__init__(name, **kwargs)
        self._set_hyper("learning_rate", kwargs.get("lr", learning_rate))
        self._set_hyper("decay", self._initial_decay)
        self._set_hyper("beta_1", beta_1)
        self._set_hyper("beta_2", beta_2)
        self.epsilon = epsilon if epsilon is not None else 1e-7
        self.amsgrad = amsgrad

    def _create_slots(self, var_list):
        for var in var_list:
            self.add_slot(var, "m")
        for var in var_list:
            self.add_slot(var, "v")
        if self.amsgrad:
            for var in var_list:
                self.add_slot(var, "vhat")

    def _prepare_local(self, var_dtype, coefficients):
        super()._prepare_local(var_dtype, coefficients)
        beta_1_t = array_ops.identity(self._get_hyper("beta_1", var_dtype))
        beta_2_t = array_ops.identity(self._get_hyper("beta_2", var_dtype))
        # beta^t in float64, rounded once to the variable's dtype: powf's (correctly rounded)
        # value in graphs and eagerly alike (eager Pow sees t and would compute beta^3 as
        # beta * beta * beta, an ulp away, which 1 - beta_2^t magnifies ~1000 times)
        local_step = math_ops.cast(self.iterations + 1, dtypes.float64)

        def power(beta_t):
            return math_ops.cast(math_ops.pow(math_ops.cast(beta_t, dtypes.float64), local_step), var_dtype)

        coefficients.update(
            beta_1_t=beta_1_t, beta_2_t=beta_2_t, beta_1_power=power(beta_1_t), beta_2_power=power(beta_2_t),
            epsilon=convert_to_tensor(self.epsilon, dtype=var_dtype))

    def _resource_apply_dense(self, grad, var, coefficients):
        c = coefficients
        slots = [self.get_slot(var, "m"), self.get_slot(var, "v")]
        rest = [c["beta_1_power"], c["beta_2_power"], c["lr_t"], c["beta_1_t"], c["beta_2_t"], c["epsilon"], grad]
        if self.amsgrad:
            return self._apply_op(ApplyAdamWithAmsgrad, [var] + slots + [self.get_slot(var, "vhat")] + rest)
        return self._apply_op(ApplyAdam, [var] + slots + rest, {"use_nesterov": False})

    def get_config(self):
        config = super().get_config()
        config.update({
            "learning_rate": self._serialize_hyperparameter("learning_rate"),
            "decay": self._serialize_hyperparameter("decay"),
            "beta_1": self._serialize_hyperparameter("beta_1"),
            "beta_2": self._serialize_hyperparameter("beta_2"),
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        })
        return config
