"""SGD as the paper's framework computed it (paper 3.1).

The paper trains with "stochastic gradient descent, accompanied by momentum
term of 0.6 and an l2 weight decay of 1e-5", in Torch7's conventions, whose
`optim.sgd` (and PyTorch's `torch.optim.SGD`, which follows it) differ
from Keras' `SGD` in two ways:

- Weight decay is L2 coupled to the gradient: `g = grad + wd * w`, before
  the momentum, on every parameter (biases too). Keras' `weight_decay`
  is decoupled: `w -= lr * wd * w` beside the step, outside the momentum,
  and here on kernels only. With momentum 0.6 the coupled decay, carried by
  the momentum, is 1 / (1 - 0.6) = 2.5 times as strong at a steady state.
- The momentum buffer holds gradients, not steps: `b = m * b + (1 - d) * g`,
  `w -= lr * b`, with the first step's buffer the gradient itself. With
  dampening `d = 0` (PyTorch's default) this is Keras' undampened momentum
  at a constant learning rate (steady step `lr * g / (1 - m)`, 2.5 lr g at
  0.6); Torch7's `optim.sgd` defaults to `d = m` (steady step `lr * g`,
  what undampened momentum gives at `lr * (1 - m)`). A learning-rate decay
  scales the whole next step here, where Keras' buffer keeps the old rate's
  steps and fades them out.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["TorchSGD"]


@keras.saving.register_keras_serializable(package="overfeat_tf")
class TorchSGD(keras.optimizers.Optimizer):
    """SGD with momentum, dampening and coupled L2, as Torch7's `optim.sgd`.

    Per variable `w` with gradient `grad`, at learning rate `lr`:

        g = grad + l2 * w
        b = g                                  (first step)
        b = momentum * b + (1 - dampening) * g (later steps)
        w = w - lr * b                         (w - lr * g without momentum)

    Args:
        learning_rate: float or a `LearningRateSchedule`.
        momentum: float in [0, 1).
        dampening: float in [0, 1]. 0: undampened (PyTorch's default, Keras'
            form); `momentum`: Torch7 `optim.sgd`'s default.
        l2: float. Coupled weight decay on every variable the optimizer
            updates (biases too, as Torch7 decays its flat parameter vector).
        **kwargs: `keras.optimizers.Optimizer`'s (a decoupled `weight_decay`
            among them: `w -= lr * weight_decay * w`, Keras' own).
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        dampening=0.0,
        l2=0.0,
        name="torch_sgd",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1). Received: {momentum}")
        if not 0.0 <= dampening <= 1.0:
            raise ValueError(f"dampening must be in [0, 1]. Received: {dampening}")
        if l2 < 0.0:
            raise ValueError(f"l2 must be >= 0. Received: {l2}")
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.l2 = float(l2)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        if self.l2:
            g = ops.add(g, ops.multiply(ops.cast(self.l2, variable.dtype), variable))
        if self.momentum:
            b = self.momentums[self._get_variable_index(variable)]
            later = ops.add(
                ops.multiply(b, ops.cast(self.momentum, variable.dtype)),
                ops.multiply(g, ops.cast(1.0 - self.dampening, variable.dtype)),
            )
            self.assign(b, ops.where(ops.equal(self.iterations, 0), g, later))
            g = b
        self.assign_sub(variable, ops.multiply(g, lr))

    def get_config(self):
        config = super().get_config()
        config.update(
            {"momentum": self.momentum, "dampening": self.dampening, "l2": self.l2}
        )
        return config
