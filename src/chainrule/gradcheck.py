"""``gradcheck``: analytic gradients against central differences, in float64.

The numerical gradient of f at x is (f(x+ε) − f(x−ε)) / 2ε, with error O(ε²) from the
Taylor series and O(machine ε / ε) from rounding; ε = 1e-6 balances both in float64. A
non-scalar output is reduced to ⟨v, f⟩ with a fixed random v, so every output element counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autodiff import grad
from chainrule.errors import GradcheckError, OperandError
from chainrule.graph import no_grad
from chainrule.i18n import _
from chainrule.tensor import Tensor
from chainrule.value import Value

__all__ = ["gradcheck", "numerical_gradient", "relative_error"]


def relative_error(analytic: Any, numeric: Any) -> Any:
    """|a − n| / max(|a|, |n|) elementwise (0 where both are 0), as in CS231n's notes."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    scale = np.maximum(np.abs(a), np.abs(n))
    diff = np.abs(a - n)
    return np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)


def _scalar_output(out: Any, projection: dict[str, np.ndarray]) -> Any:
    if isinstance(out, Value):
        return out
    if not isinstance(out, Tensor):
        raise OperandError(_("gradcheck: fn must return a Value or a Tensor, got "
                             "{kind}").format(kind=type(out).__name__))
    if out.data.size == 1:
        return out.sum()
    if "v" not in projection:
        projection["v"] = np.random.default_rng(0).standard_normal(out.shape)
    return (out * projection["v"]).sum()


def numerical_gradient(
    fn: Callable[..., Any], inputs: Sequence[Any], index: int, eps: float = 1e-6
) -> np.ndarray | float:
    """Central-difference gradient of ``fn(*inputs)`` (reduced to a scalar) w.r.t. one input."""
    projection: dict[str, np.ndarray] = {}
    x = inputs[index]

    def evaluate() -> float:
        with no_grad():
            out = _scalar_output(fn(*inputs), projection)
        return float(out.data)

    if isinstance(x, Value):
        saved = x.data
        x.data = saved + eps
        plus = evaluate()
        x.data = saved - eps
        minus = evaluate()
        x.data = saved
        return (plus - minus) / (2 * eps)
    data = x.data
    result = np.zeros(data.shape, dtype=np.float64)
    flat = data.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = evaluate()
        flat[i] = saved - eps
        minus = evaluate()
        flat[i] = saved
        result.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return result


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """True if every analytic gradient of ``fn(*inputs)`` matches central differences.

    Passes where |analytic − numeric| ≤ atol + rtol·|numeric|; otherwise raises
    ``GradcheckError`` naming the input, the element, both values and the relative error.
    Inputs must be float64 Tensors with ``requires_grad`` (or Values).
    """
    inputs = list(inputs)
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            if x.dtype != np.float64:
                raise OperandError(_(
                    "gradcheck: input {i} is {dtype}; central differences need float64 — "
                    "in {dtype} a step of {eps:g} is lost in rounding (machine epsilon "
                    "{machine:.1e}), so the comparison would be meaningless"
                ).format(i=i, dtype=x.dtype, eps=eps, machine=np.finfo(x.dtype).eps))
            if not x.data.flags.writeable or not x.data.flags.c_contiguous:
                x.data = np.ascontiguousarray(x.data).copy()
        elif not isinstance(x, Value):
            raise OperandError(_("gradcheck: input {i} is a {kind}; pass Tensors "
                                 "(float64, requires_grad=True) or Values").format(
                                     i=i, kind=type(x).__name__))
    projection: dict[str, np.ndarray] = {}
    out = _scalar_output(fn(*inputs), projection)
    targets = [x for x in inputs if isinstance(x, Value) or x.requires_grad]
    if not targets:
        raise OperandError(_("gradcheck: no input has requires_grad=True, nothing to check"))
    analytic = dict(zip(map(id, targets), grad(out, targets), strict=True))
    for i, x in enumerate(inputs):
        if id(x) not in analytic:
            continue
        a = np.asarray(analytic[id(x)].data, dtype=np.float64)
        n = np.asarray(numerical_gradient(fn, inputs, i, eps))
        bad = np.abs(a - n) > atol + rtol * np.abs(n)
        if np.any(bad):
            where = tuple(int(k) for k in np.argwhere(bad)[0])
            err = relative_error(a[where], n[where])
            name = _("input {i}").format(i=i) + (
                f" ({x.label!r})" if getattr(x, "label", "") else "")
            element = " " + _("element {where}").format(where=where) if where else ""
            raise GradcheckError(_(
                "gradcheck: {name}{element}: analytic {analytic:.10g} vs numerical "
                "{numeric:.10g} (relative error {error:.3g}; "
                "{bad} of {size} elements differ)"
            ).format(name=name, element=element, analytic=float(a[where]),
                     numeric=float(n[where]), error=float(err), bad=int(bad.sum()),
                     size=bad.size))
    return True
