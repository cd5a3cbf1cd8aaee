"""chainrule: backpropagation you can see.

Two engines share one op catalogue and one backward traversal: :class:`Value` (one Python
float per node, micrograd-compatible) and :class:`Tensor` (NumPy arrays with broadcasting).
``import chainrule`` loads NumPy and nothing heavier; ``chainrule.nn``, ``chainrule.optim``,
``chainrule.data``, ``chainrule.utils`` (``utils.data``: ``DataLoader``, as torch's) and the lab
load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from chainrule.allocator import steady_malloc
from chainrule.autodiff import grad
from chainrule.compiler import compile
from chainrule.errors import (
    ChainruleError,
    GradcheckError,
    GraphError,
    NumericError,
    OperandError,
    ShapeError,
)
from chainrule.functions import abs, exp, log, maximum, minimum, relu, sigmoid, sqrt, tanh
from chainrule.gradcheck import gradcheck
from chainrule.graph import BackwardEvent, grad_enabled, listen, no_grad, toposort
from chainrule.tensor import Tensor, tensor
from chainrule.torch_api import *  # noqa: F403 - torch's module-level names, listed there
from chainrule.torch_api import __all__ as _torch_names
from chainrule.value import Value

__version__ = "0.1.0"

steady_malloc()  # a training step's temporaries at the same speed in every process

__all__ = [
    "BackwardEvent",
    "ChainruleError",
    "GradcheckError",
    "GraphError",
    "NumericError",
    "OperandError",
    "ShapeError",
    "Tensor",
    "Value",
    "abs",
    "compile",
    "exp",
    "grad",
    "gradcheck",
    "listen",
    "log",
    "maximum",
    "minimum",
    "no_grad",
    "relu",
    "sigmoid",
    "sqrt",
    "tanh",
    "tensor",
    "toposort",
    "grad_enabled",
    *_torch_names,
]

_LAZY_SUBMODULES = {"nn", "optim", "data", "lab", "viz", "expr", "circuit", "ops", "graph",
                    "autograd", "anomaly", "torch", "utils"}
_LAZY_ATTRIBUTES = {"diagnose": "chainrule.lab.diagnosis"}


def __getattr__(name: str) -> Any:
    # Submodules with heavier imports load on first attribute access.
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"chainrule.{name}")
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    # untranslated: Python's own wording for a missing module attribute, which tools match
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
