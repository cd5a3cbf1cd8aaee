"""The lab: the experiments of CS231n's backprop notes and Nielsen's chapter 5, one module each.

- `chainrule.lab.chain` — the chain network: one sigmoid neuron per layer, ∂C/∂b_j by autodiff
  and as Nielsen's product of w·σ'(z) factors, the regimes (vanishing, exploding), Monte-Carlo.
- `chainrule.lab.flow` — per-layer gradient flow in real MLPs on MNIST: the book's table and its
  speed-of-learning curves.
- `chainrule.lab.diagnosis` — `diagnose(model, x, y)`: per-layer evidence, a verdict, suggestions.
- `chainrule.lab.studies` — input scale and learning-rate sweeps.

Submodules load on first use (``chainrule.lab.flow`` needs ``chainrule.nn`` and the data).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["chain", "diagnosis", "flow", "studies"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"chainrule.lab.{name}")
    # untranslated: Python's own wording for a missing module attribute, which tools match
    raise AttributeError(f"module 'chainrule.lab' has no attribute {name!r}")
