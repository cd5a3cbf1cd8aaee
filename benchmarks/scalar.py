"""Scalar graphs of n nodes, built and backpropagated one node at a time.

Two shapes, the same in every system (chainrule ``Value``, micrograd ``Value``, torch 0-d
float64 tensors; every leaf asks for its gradient):

``chain``
    A leaf x₀ = 0.5 followed by n − 1 unary gates, xᵢ = relu(xᵢ₋₁): n nodes, n − 1 deep.
    relu is the one unary gate all three systems have; on a positive input it passes the
    gradient unchanged, so ∂xₙ₋₁/∂x₀ = 1 is the check. micrograd sorts the graph recursively and
    fails with RecursionError on this shape past ~1,000 nodes: the benchmark records "fails".

``dag`` (wide)
    q = n // 4 leaf pairs (xₖ, wₖ) with xₖ = (k mod 1000)/1000 and wₖ = 0.5, the q products
    pₖ = xₖ·wₖ, and a pairwise sum tree over the products: each level adds neighbours
    (p₀+p₁, p₂+p₃, …), an odd last element moves up unchanged, until one root is left
    (q − 1 additions). 4q − 1 ≈ n nodes, about log₂ q deep, with fan-in everywhere: the shape of
    a wide layer's cost. The checks: ∂root/∂xₖ = wₖ and ∂root/∂wₖ = xₖ.

The worker times building (leaves included) and ``backward()`` separately, with the garbage
collector on (as users run it), and reports the peak resident memory the graph added (the
process's peak RSS after backward minus before building) divided by n.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

SHAPES = ("chain", "dag")
SYSTEMS = ("chainrule", "micrograd", "torch")
SIZES = (10_000, 100_000, 1_000_000)


def _value_class(system: str) -> tuple[Callable[[float], Any], Callable[[Any], float]]:
    """(make a leaf, read a leaf's gradient) for the system."""
    if system == "chainrule":
        from chainrule import Value

        return Value, lambda v: float(v.grad)
    if system == "micrograd":
        from micrograd.engine import Value as MicroValue

        return MicroValue, lambda v: float(v.grad)
    if system == "torch":
        import torch

        def leaf(x: float) -> Any:
            return torch.tensor(x, dtype=torch.float64, requires_grad=True)

        return leaf, lambda v: float(v.grad)
    raise ValueError(f"unknown scalar system {system!r}")


def build_chain(leaf: Callable[[float], Any], n: int) -> tuple[list[Any], Any]:
    x = leaf(0.5)
    y = x
    for _ in range(n - 1):
        y = y.relu()
    return [x], y


def build_dag(leaf: Callable[[float], Any], n: int) -> tuple[list[Any], Any]:
    q = max(n // 4, 1)
    xs = [leaf((k % 1000) / 1000.0) for k in range(q)]
    ws = [leaf(0.5) for _ in range(q)]
    level = [x * w for x, w in zip(xs, ws, strict=True)]
    while len(level) > 1:
        pairs = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            pairs.append(level[-1])
        level = pairs
    return xs + ws, level[0]


def _check(shape: str, leaves: list[Any], grad_of: Callable[[Any], float]) -> bool:
    if shape == "chain":
        return abs(grad_of(leaves[0]) - 1.0) < 1e-12
    q = len(leaves) // 2
    picks = [0, 1, q // 2, q - 1]
    ok = all(abs(grad_of(leaves[k]) - 0.5) < 1e-12 for k in picks)
    return ok and all(abs(grad_of(leaves[q + k]) - (k % 1000) / 1000.0) < 1e-12 for k in picks)


def _peak_rss_bytes() -> int:
    """This process's peak resident memory so far.

    Linux's VmHWM belongs to the process's own address space; ``ru_maxrss`` would also count
    the parent's memory at fork time, which an exec does not reset.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def run(system: str, shape: str, n: int) -> dict[str, Any]:
    """Build and backpropagate one graph; times in seconds, memory in bytes per node."""
    try:
        leaf, grad_of = _value_class(system)
    except ImportError as exc:
        return {"skipped": f"{system} is not installed ({exc.name})"}
    build = build_chain if shape == "chain" else build_dag
    build(leaf, 100)[1].backward()  # warm up the code paths, not the clock
    before = _peak_rss_bytes()
    start = time.perf_counter()
    leaves, root = build(leaf, n)
    built = time.perf_counter()
    try:
        root.backward()
    except RecursionError:
        return {"fails": "RecursionError in backward()", "build": built - start}
    done = time.perf_counter()
    after = _peak_rss_bytes()
    return {
        "build": built - start,
        "backward": done - built,
        "total": done - start,
        "bytes_per_node": (after - before) / n,
        "check": _check(shape, leaves, grad_of),
    }
