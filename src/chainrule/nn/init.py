"""Weight initialisation schemes, by name, drawn from a seeded NumPy ``Generator``.

For a layer with n_in inputs and n_out outputs (weight shape (n_out, n_in)):

=================  ==========================================  ==========================
scheme             weights w                                   biases b
=================  ==========================================  ==========================
``nielsen-large``  N(0, 1)                                     N(0, 1)
``nielsen``        N(0, 1/n_in)  (std 1/√n_in)                 N(0, 1)
``xavier``         U(−a, a), a = √(6 / (n_in + n_out))         0
``he``             N(0, 2/n_in)  (std √(2/n_in))               0
``uniform``        U(−0.5, 0.5)                                0.1
=================  ==========================================  ==========================

``nielsen-large`` is the book's first network (chapter 1, network.py); ``nielsen`` is its
improved default (chapter 3, network2.py): with N(0, 1) weights the weighted input z of a unit
with n_in = 784 inputs has standard deviation ≈ √(784/2) ≈ 20, so σ(z) saturates and learning
slows; scaling by 1/√n_in keeps z of order 1. ``xavier`` (Glorot & Bengio 2010) keeps the
variance of activations and gradients equal across layers for tanh/sigmoid-like units; ``he``
(He et al. 2015) doubles it to make up for relu zeroing half its inputs. ``uniform`` is the
TensorFlow Playground's default (weights uniform in ±0.5, biases 0.1).

Initialisation is data preparation, so it uses NumPy directly; everything after it goes through
Tensor ops.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Defined with the other errors (Tensor.cross_entropy raises it too); still importable here.
from chainrule.errors import ConfigError
from chainrule.i18n import N_, _

INITS: tuple[str, ...] = ("nielsen-large", "nielsen", "xavier", "he", "uniform")


# The kinds of names check_name is given, for the catalog (they are shown translated).
_KINDS = (N_("activation"), N_("output activation"), N_("init scheme"), N_("loss"),
          N_("optimizer"), N_("preprocessing"), N_("dtype"))


def check_name(kind: str, name: str, valid: tuple[str, ...] | list[str]) -> str:
    """Return ``name`` if it is one of ``valid``, else raise `ConfigError` listing them."""
    if name not in valid:
        raise ConfigError(_("unknown {kind} {name}; choose one of: {choices}").format(
            kind=_(kind), name=repr(name), choices=", ".join(valid)))
    return name


def linear_weights(
    n_in: int, n_out: int, scheme: str, rng: np.random.Generator, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Draw (weight (n_out, n_in), bias (n_out,)) for one layer; weights first, then biases."""
    check_name("init scheme", scheme, INITS)
    shape = (n_out, n_in)
    if scheme == "nielsen-large":
        w = rng.standard_normal(shape)
        b = rng.standard_normal(n_out)
    elif scheme == "nielsen":
        w = rng.standard_normal(shape) / math.sqrt(n_in)
        b = rng.standard_normal(n_out)
    elif scheme == "xavier":
        a = math.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-a, a, shape)
        b = np.zeros(n_out)
    elif scheme == "he":
        w = rng.standard_normal(shape) * math.sqrt(2.0 / n_in)
        b = np.zeros(n_out)
    else:  # uniform
        w = rng.uniform(-0.5, 0.5, shape)
        b = np.full(n_out, 0.1)
    return w.astype(dtype), b.astype(dtype)
