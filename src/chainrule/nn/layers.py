"""Layers: `Linear`, the activations as modules, `Sequential` and Nielsen's `MLP`.

``Linear`` computes z = x·Wᵀ + b for a batch x of shape (n, in): W has shape (out, in) as in
PyTorch (row j holds the weights into unit j, Nielsen's w_jk), b has shape (out,).
``MLP(sizes)`` stacks Linear layers with an activation after each: for sizes (784, 30, 10),
a¹ = σ(W¹x + b¹), a² = σ(W²a¹ + b²), exactly Nielsen's ``network.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from chainrule.i18n import _
from chainrule.nn import functional as F
from chainrule.nn.init import INITS, ConfigError, check_name, linear_weights
from chainrule.nn.module import Module
from chainrule.nn.torch_layers import Parameter
from chainrule.tensor import Tensor, tensor

DTYPES: dict[str, Any] = {"float64": np.float64, "float32": np.float32}


def _dtype(dtype: Any) -> np.dtype[Any]:
    dt = np.dtype(DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype)
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ConfigError(_("dtype must be float64 or float32, got {dtype}").format(dtype=dt))
    return dt


class Linear(Module):
    """z = x·Wᵀ + b; ``weight`` (out, in), ``bias`` (out,)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = None,
        init: str = "nielsen",
        rng: np.random.Generator | int | None = None,
        device: Any = None,
    ) -> None:
        if device is not None:
            from chainrule.device import device as as_device

            as_device(device)
        if in_features < 1 or out_features < 1:
            raise ConfigError(_("Linear needs positive sizes, got ({inputs}, {outputs})").format(
                inputs=in_features, outputs=out_features))
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        if rng is None:  # chainrule.manual_seed makes the initial weights repeatable
            from chainrule.factories import generator

            rng = generator()
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        if dtype is None:  # torch's rule: the default dtype (float64 unless changed)
            from chainrule.dtypes import get_default_dtype

            dtype = get_default_dtype()
        w, b = linear_weights(self.in_features, self.out_features, init, gen, _dtype(dtype))
        # Parameters (not plain tensors): a frozen one is still listed, saved and loaded.
        self.weight: Tensor = Parameter(w)
        self.bias: Tensor | None = Parameter(b) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:  # torch's wording
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Sigmoid(Module):
    """σ(z) = 1/(1 + e^−z); σ' = σ(1 − σ) ≤ 1/4."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh z; tanh' = 1 − tanh² ≤ 1."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(Module):
    """max(0, z); derivative 1 for z > 0, 0 otherwise."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """max(slope·z, z); derivative 1 for z > 0, slope otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        F.leaky_relu(tensor(0.0), negative_slope)  # validate the slope now, not at first use
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Identity(Module):
    """z unchanged (a linear output: logits)."""

    def forward(self, x: Tensor) -> Tensor:
        return x


ACTIVATIONS: dict[str, type[Module]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "linear": Identity,
}


def activation(name: str) -> Module:
    """An activation module by name; unknown names list the valid ones."""
    return ACTIVATIONS[check_name("activation", name, list(ACTIVATIONS))]()


class Sequential(Module):
    """Applies its modules in order: ``Sequential(a, b)(x) = b(a(x))``."""

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def _children(self) -> Iterator[tuple[str, Any]]:
        # Named 0, 1, 2, … as in torch.nn.Sequential, so state dicts line up.
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __setitem__(self, i: int, layer: Module) -> None:
        self.layers[i] = layer

    def __len__(self) -> int:
        return len(self.layers)


def parse_sizes(sizes: str | Sequence[int]) -> tuple[int, ...]:
    """``"784,30,10"`` or a sequence → a tuple of at least two positive integers."""
    if isinstance(sizes, str):
        parts = [p.strip() for p in sizes.split(",")]
        if any(not p for p in parts):
            raise ConfigError(
                _("sizes {sizes} has an empty layer; give sizes like 784,30,10").format(
                    sizes=repr(sizes)))
        try:
            values = tuple(int(p) for p in parts)
        except ValueError:
            raise ConfigError(_(
                "sizes must be comma-separated integers like 784,30,10, got {sizes}"
            ).format(sizes=repr(sizes))) from None
    else:
        values = tuple(int(s) for s in sizes)
    if len(values) < 2:
        raise ConfigError(
            _("sizes need at least two layers (inputs and outputs), got {sizes}").format(
                sizes=values))
    if any(v < 1 for v in values):
        raise ConfigError(_("every layer size must be positive, got {sizes}").format(sizes=values))
    return values


class MLP(Module):
    """A fully connected network: Linear → activation for each consecutive pair of ``sizes``.

    ``activation`` is used after every hidden layer; ``output_activation`` after the last
    (default: the same, as in Nielsen's book where every layer is sigmoid; ``"linear"`` gives
    logits for softmax or logit losses). Weights are drawn with ``init`` from ``seed``,
    layer by layer (weights, then biases).
    """

    def __init__(
        self,
        sizes: str | Sequence[int],
        activation: str = "sigmoid",
        init: str = "nielsen",
        output_activation: str | None = None,
        dtype: Any = np.float64,
        seed: int | None = 0,
    ) -> None:
        self.sizes = parse_sizes(sizes)
        check_name("activation", activation, list(ACTIVATIONS))
        output_activation = output_activation or activation
        check_name("output activation", output_activation, list(ACTIVATIONS))
        check_name("init scheme", init, INITS)
        self.activation = activation
        self.output_activation = output_activation
        self.init = init
        self.dtype = _dtype(dtype)
        rng = np.random.default_rng(seed)
        layers: list[Module] = []
        pairs = list(zip(self.sizes[:-1], self.sizes[1:], strict=True))
        for i, (n_in, n_out) in enumerate(pairs):
            layers.append(Linear(n_in, n_out, dtype=self.dtype, init=init, rng=rng))
            last = i == len(pairs) - 1
            layers.append(ACTIVATIONS[output_activation if last else activation]())
        self.layers = layers

    @property
    def linears(self) -> list[Linear]:
        return [m for m in self.layers if isinstance(m, Linear)]

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def forward_trace(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Every layer's (weighted input z, activation a): what the lab plots per layer."""
        out: list[tuple[Tensor, Tensor]] = []
        layers = self.layers
        for i in range(0, len(layers), 2):
            z = layers[i](x)
            x = layers[i + 1](z)
            out.append((z, x))
        return out

    def config(self) -> dict[str, Any]:
        """What rebuilds this architecture (stored in checkpoints)."""
        return {
            "sizes": list(self.sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "init": self.init,
            "dtype": str(self.dtype),
        }

    def extra_repr(self) -> str:
        sizes = ",".join(map(str, self.sizes))
        return f"sizes={sizes}, activation={self.activation}, output={self.output_activation}"
