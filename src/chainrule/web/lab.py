"""Adapters from the page's controls to the lab: the chain network and the diagnosis.

The vanishing panel has one set of controls (depth, activation, init, weight scale, input
scaling); these functions turn them into the arguments the lab's functions take, and add the
few fields the page draws (layer numbers, the product of factors).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["chain_for", "diagnose_for"]


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


def chain_for(chain: Any, depth: int, activation: str, init: str, scale: float,
              seed: int) -> dict[str, Any]:
    """``chain.run_chain`` on a chain as deep as the network (at least 2 neurons).

    The chain is Nielsen's: sigmoid neurons, whatever the activation chosen for the network
    (its factors w·σ'(z) are the point: σ' ≤ 1/4). ``product`` is the product of the factors
    of layers 2 … L, which the gradient of the first bias passes through.
    """
    layers = max(2, depth)
    ws, bs = chain_weights(layers, init, scale, seed, chain)
    result: dict[str, Any] = chain.run_chain(ws, bs)
    for j, layer in enumerate(result["layers"], start=1):
        layer["layer"] = j
    result["product"] = math.prod(layer["factor"] for layer in result["layers"][1:])
    result["settings"] = {"layers": layers, "init": init, "weight_scale": scale, "seed": seed,
                          "activation": "sigmoid", "network_activation": activation}
    return result


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
