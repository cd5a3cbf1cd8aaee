"""Adapters from the page's controls to the lab: the chain network and the diagnosis.

The vanishing panel has one set of controls (depth, activation, init, weight scale, input
scaling); these functions turn them into the arguments the lab's functions take, and add the
few fields the page draws (layer numbers, the product of factors).
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.i18n import _

__all__ = [
    "activation_chain", "activation_slope", "chain_for", "diagnose_for", "max_slope", "path_for",
]


def chain_weights(depth: int, init: str, scale: float, seed: int,
                  chain: Any) -> tuple[list[float], list[float]]:
    """Weights and biases of a ``depth``-neuron chain drawn with ``init`` (one input per neuron).

    Nielsen's schemes draw N(0, 1) weights and biases for a one-input neuron, which is the lab's
    own ``random_chain`` (the same draws as ``chainrule chain``); the other schemes use the
    layer initialiser of :mod:`chainrule.nn.init` with n_in = n_out = 1. Weights are then
    multiplied by ``scale``.
    """
    if init in ("nielsen", "nielsen-large"):
        ws, bs = chain.random_chain(depth, seed)
    else:
        import numpy as np

        from chainrule.nn.init import linear_weights

        rng = np.random.default_rng(seed)
        pairs = [linear_weights(1, 1, init, rng) for _ in range(depth)]
        ws = [float(w.reshape(())) for w, _ in pairs]
        bs = [float(b.reshape(())) for _, b in pairs]
    return [w * scale for w in ws], list(bs)


def activation_slope(activation: str, z: float) -> float:
    """φ'(z) for the network's activation φ, from the engine's backward pass (no formula here)."""
    from chainrule.nn.layers import activation as make_activation
    from chainrule.tensor import tensor

    zt = tensor([z], requires_grad=True)  # one element, not 0-d: the array ops' common case
    make_activation(activation)(zt).sum().backward()
    assert zt._grad is not None
    return float(zt._grad[0])


def max_slope(activation: str) -> float:
    """The largest φ'(z): at z = 0 for sigmoid (1/4) and tanh (1), for z > 0 for the relus (1)."""
    return max(activation_slope(activation, z) for z in (-1.0, 0.0, 1.0))


def activation_chain(ws: list[float], bs: list[float], activation: str,
                     x: float = 1.0) -> dict[str, Any]:
    """A chain of one-neuron layers with activation φ: z_j = w_j·a_{j−1} + b_j, a_j = φ(z_j).

    Each layer's factor w_j·φ'(z_j) is what it does to the gradient passing back through it
    (Nielsen's product with σ replaced by φ).
    """
    from chainrule.nn.layers import activation as make_activation
    from chainrule.tensor import tensor

    phi = make_activation(activation)
    a = float(x)
    layers = []
    for w, b in zip(ws, bs, strict=True):
        z = w * a + b
        a = float(phi(tensor([z])).data[0])
        slope = activation_slope(activation, z)
        layers.append({"w": w, "b": b, "z": z, "a": a, "slope": slope, "factor": w * slope})
    return {"x": x, "layers": layers}


def chain_for(chain: Any, depth: int, activation: str, init: str, scale: float,
              seed: int) -> dict[str, Any]:
    """A chain as deep as the network (at least 2 neurons), with the network's activation.

    With sigmoid units this is the lab's ``chain.run_chain`` (Nielsen's chain, checked against
    autodiff there); with another activation φ the factors are w·φ'(z) of
    :func:`activation_chain`. ``product`` is the product of the factors of layers 2 … L,
    which the gradient of the first bias passes through; ``max_slope`` is the largest φ'.
    """
    layers = max(2, depth)
    ws, bs = chain_weights(layers, init, scale, seed, chain)
    if activation == "sigmoid":
        result: dict[str, Any] = chain.run_chain(ws, bs)
        for layer in result["layers"]:
            layer["slope"] = layer["sigma_prime"]
    else:
        result = activation_chain(ws, bs, activation)
        sizes = [abs(layer["factor"]) for layer in result["layers"][1:]]
        result["regime"] = ("vanishing" if all(s < 1 for s in sizes)
                            else "exploding" if all(s > 1 for s in sizes) else "mixed")
    for j, layer in enumerate(result["layers"], start=1):
        layer["layer"] = j
    result["product"] = math.prod(layer["factor"] for layer in result["layers"][1:])
    result["max_slope"] = max_slope(activation)
    result["activation"] = activation
    result["settings"] = {"layers": layers, "init": init, "weight_scale": scale, "seed": seed,
                          "activation": activation, "network_activation": activation}
    return result


def path_for(flow: Any, settings: dict[str, Any], layer: int) -> dict[str, Any]:
    """One path of the backward pass from the output back to hidden layer ``layer``, as a
    product of factors: Nielsen's chain inside a real network.

    On the first training image, ∂C/∂z of unit u in hidden layer l is φ'(z_u) · Σ_j W_ju ·
    ∂C/∂z_j of the next layer: a sum over paths. This follows the one path that carries most:
    from the unit of layer ``layer`` with the largest |∂C/∂z|, each next unit is the one whose
    term |W_ju · ∂C/∂z_j| is largest, up to an output unit. Returns the path's ``expression``
    ``s1 * (w2 * s2) * … * wL * d`` (s = φ'(z) of the path's unit, w = the weight on the path,
    d = ∂C/∂z of the output unit), its variables' ``values``, the ``units`` it passes and the
    unit's full ``gradient`` ∂C/∂z (all paths), to compare with the path's product.
    """
    import numpy as np

    from chainrule.autodiff import grad

    sizes = settings["sizes"]
    hidden = len(sizes) - 2
    if not 1 <= layer <= hidden:
        raise ValueError(_("layer must be a hidden layer, 1 to {hidden}; got {layer}").format(
            hidden=hidden, layer=layer))
    model = flow.make_model(sizes, settings["activation"], settings["init"], settings["seed"],
                            settings["weight_scale"])
    x, y, _labels = flow.load_inputs(sizes, 1, settings["preprocess"])
    a, zs = x, []
    for module in model.layers:
        a = module(a)
        if module in model.linears:
            zs.append(a)
    deltas = [np.asarray(g.data)[0] for g in grad(flow.cost(a, y), zs)]
    weights = [np.asarray(lin.weight.data) for lin in model.linears]  # (out, in) each
    units = [int(np.argmax(np.abs(deltas[layer - 1])))]
    for k in range(layer, hidden + 1):  # 0-based index of the next layer's linear
        terms = np.abs(weights[k][:, units[-1]] * deltas[k])
        units.append(int(np.argmax(terms)))
    z_of = [np.asarray(z.data)[0] for z in zs]
    values: dict[str, float] = {
        f"s{layer}": activation_slope(settings["activation"], float(z_of[layer - 1][units[0]]))}
    parts = [f"s{layer}"]
    for step, k in enumerate(range(layer + 1, hidden + 2), start=1):  # 1-based layer numbers
        w = float(weights[k - 1][units[step], units[step - 1]])
        values[f"w{k}"] = w
        if k <= hidden:
            slope = activation_slope(settings["activation"], float(z_of[k - 1][units[step]]))
            values[f"s{k}"] = slope
            parts.append(f"(w{k} * s{k})")
        else:
            parts.append(f"w{k}")
    values["d"] = float(deltas[hidden][units[-1]])
    parts.append("d")
    return {"expression": " * ".join(parts), "values": values, "layer": layer, "units": units,
            "gradient": float(deltas[layer - 1][units[0]]),
            "product": math.prod(values.values())}


def diagnose_for(diagnosis: Any, settings: dict[str, Any], lr: float) -> dict[str, Any]:
    """``diagnosis.diagnose`` on a freshly initialised network of the panel's settings.

    The network and the examples are the ones the gradient-norm chart measures
    (:func:`chainrule.lab.flow.make_model` and :func:`~chainrule.lab.flow.load_inputs`).
    """
    from chainrule.lab import flow

    sizes = settings["sizes"]
    model = flow.make_model(sizes, settings["activation"], settings["init"], settings["seed"],
                            settings["weight_scale"])
    x, y, _ = flow.load_inputs(sizes, settings["samples"], settings["preprocess"])
    result: dict[str, Any] = diagnosis.diagnose(
        model, x, y, lr=lr, init=settings["init"], preprocess=settings["preprocess"],
        weight_scale=settings["weight_scale"],
    ).to_dict()
    result["settings"] = {**settings, "lr": lr}
    return result
