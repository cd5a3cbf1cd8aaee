"""Neural networks on the Tensor engine, with PyTorch's names.

``Module``, ``Linear`` (weight (out, in)), ``Sequential``, ``Sigmoid``, ``Tanh``, ``ReLU``,
``LeakyReLU``, ``Identity``, ``MLP``; losses and activations in ``nn.functional``; weight
initialisation schemes in ``nn.init``; ``.npz`` checkpoints in ``nn.checkpoint``.
"""

from chainrule.nn import functional, init, utils
from chainrule.nn.init import INITS, ConfigError
from chainrule.nn.layers import (
    ACTIVATIONS,
    MLP,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    activation,
    parse_sizes,
)
from chainrule.nn.module import Module, StateError
from chainrule.nn.torch_layers import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    L1Loss,
    ModuleList,
    MSELoss,
    Parameter,
    Softmax,
)

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "L1Loss",
    "MSELoss",
    "ModuleList",
    "Parameter",
    "Softmax",
    "utils",
    "ACTIVATIONS",
    "INITS",
    "MLP",
    "ConfigError",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "StateError",
    "Tanh",
    "activation",
    "functional",
    "init",
    "parse_sizes",
]
