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


# ---------------------------------------------------------------- torch.nn.init's in-place fills
# torch's names for filling an existing tensor (a layer's weight) in place, without recording a
# graph; the random ones draw from chainrule.manual_seed's generator.


def _fill(tensor: Any, values: Any) -> Any:
    from chainrule.graph import no_grad

    with no_grad():
        tensor.copy_(np.broadcast_to(np.asarray(values, dtype=tensor.dtype), tensor.shape))
    return tensor


def _draw() -> np.random.Generator:
    from chainrule.factories import generator

    return generator()


def _fans(tensor: Any) -> tuple[int, int]:
    shape = tensor.shape
    if len(shape) < 2:
        raise ConfigError(_("init: fan in and fan out need a tensor of at least 2 dimensions, "
                            "got shape {shape}").format(shape=shape))
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch's recommended gain for a nonlinearity (linear, sigmoid: 1; tanh: 5/3; relu: √2;
    leaky_relu: √(2/(1 + slope²)), slope 0.01 unless ``param``; selu: 3/4)."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ConfigError(_("calculate_gain: unknown nonlinearity {name}").format(
        name=repr(nonlinearity)))


def zeros_(tensor: Any) -> Any:
    return _fill(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    return _fill(tensor, 1.0)


def constant_(tensor: Any, val: float) -> Any:
    return _fill(tensor, val)


def eye_(tensor: Any) -> Any:
    if len(tensor.shape) != 2:
        raise ConfigError(_("eye_: needs a 2-D tensor, got shape {shape}").format(
            shape=tensor.shape))
    return _fill(tensor, np.eye(*tensor.shape))


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0) -> Any:
    return _fill(tensor, _draw().normal(mean, std, tensor.shape))


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0) -> Any:
    return _fill(tensor, _draw().uniform(a, b, tensor.shape))


def xavier_uniform_(tensor: Any, gain: float = 1.0) -> Any:
    """U(−a, a), a = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _fans(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Any, gain: float = 1.0) -> Any:
    """N(0, std²), std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor: Any, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ConfigError(_("kaiming init: mode must be 'fan_in' or 'fan_out', got {mode}")
                          .format(mode=repr(mode)))
    fan_in, fan_out = _fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Any, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Any:
    """U(−b, b), b = gain·√(3 / fan) (He et al. 2015)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Any, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Any:
    """N(0, std²), std = gain / √fan."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))
