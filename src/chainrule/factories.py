"""Making tensors the way torch code does: ``zeros``, ``linspace``, ``randn``, ``cat``, …

Every factory takes ``dtype=`` (default: ``get_default_dtype()``, float64 unless
``set_default_dtype`` changed it; torch's is float32),
``requires_grad=`` and ``device=`` (the CPU). Random numbers come from one NumPy generator that
``manual_seed`` resets: runs are repeatable, but the numbers are not torch's (its generator is
another algorithm), so code compared against torch sets its initial values from NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.dtypes import get_default_dtype
from chainrule.errors import OperandError, ShapeError
from chainrule.i18n import _
from chainrule.surface import _shape_args, as_dtype
from chainrule.tensor import Tensor, _apply, _constant, _lift, _one_axis, tensor

__all__ = [
    "arange", "cat", "concatenate", "empty", "eye", "from_numpy", "full", "full_like",
    "generator", "linspace", "manual_seed", "ones", "ones_like", "rand", "rand_like", "randint",
    "randn", "randn_like", "stack", "where", "zeros", "zeros_like",
]


def _float(dtype: Any) -> np.dtype[Any]:
    """``dtype``, or the default floating-point dtype when none is given."""
    return get_default_dtype() if dtype is None else as_dtype(dtype)


class _Random:
    # Made on first use: NumPy's random module is not loaded by `import chainrule`.
    generator: np.random.Generator | None = None


def manual_seed(seed: int) -> np.random.Generator:
    """Reset chainrule's random numbers (``rand``, ``randn``, ``nn.Linear``'s initial weights)."""
    _Random.generator = np.random.default_rng(int(seed))
    return _Random.generator


def generator() -> np.random.Generator:
    """The generator behind every random factory and default initialisation."""
    if _Random.generator is None:
        _Random.generator = np.random.default_rng()
    return _Random.generator


def _make(array: np.ndarray, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    if device is not None:
        from chainrule.device import device as as_device

        as_device(device)
    if dtype is not None:
        array = array.astype(as_dtype(dtype), copy=False)
    return Tensor(array, requires_grad=requires_grad, dtype=array.dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
          ) -> Tensor:
    return _make(np.zeros(_shape_args(size), dtype=_float(dtype)), None, requires_grad, device)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
         ) -> Tensor:
    return _make(np.ones(_shape_args(size), dtype=_float(dtype)), None, requires_grad, device)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
          ) -> Tensor:
    """Zeros (torch leaves the memory uninitialised; reading it is never meaningful)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad, device=device)


def full(size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """As torch: the dtype follows ``fill_value`` (bool, int64, else the default float)."""
    if dtype is None:
        value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
        dtype = np.bool_ if isinstance(value, (bool, np.bool_)) else \
            np.int64 if isinstance(value, (int, np.integer)) else None
    array = np.full(_shape_args((size,)), fill_value, dtype=_float(dtype))
    return _make(array, None, requires_grad, device)


def _like(t: Any, dtype: Any) -> tuple[tuple[int, ...], Any]:
    data = t.data if isinstance(t, Tensor) else np.asarray(t)
    return data.shape, as_dtype(dtype) if dtype is not None else data.dtype


def zeros_like(t: Any, *, dtype: Any = None, requires_grad: bool = False, device: Any = None
               ) -> Tensor:
    shape, kind = _like(t, dtype)
    return _make(np.zeros(shape, dtype=kind), None, requires_grad, device)


def ones_like(t: Any, *, dtype: Any = None, requires_grad: bool = False, device: Any = None
              ) -> Tensor:
    shape, kind = _like(t, dtype)
    return _make(np.ones(shape, dtype=kind), None, requires_grad, device)


def full_like(t: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    shape, kind = _like(t, dtype)
    return _make(np.full(shape, fill_value, dtype=kind), None, requires_grad, device)


def rand_like(t: Any, *, dtype: Any = None, requires_grad: bool = False, device: Any = None
              ) -> Tensor:
    shape, kind = _like(t, dtype)
    return rand(shape, dtype=kind, requires_grad=requires_grad, device=device)


def randn_like(t: Any, *, dtype: Any = None, requires_grad: bool = False, device: Any = None
               ) -> Tensor:
    shape, kind = _like(t, dtype)
    return randn(shape, dtype=kind, requires_grad=requires_grad, device=device)


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    return _make(np.eye(n, m, dtype=_float(dtype)), None, requires_grad, device)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None,
           requires_grad: bool = False, device: Any = None) -> Tensor:
    """Integers give int64 (as torch); any float argument gives the default float dtype."""
    if end is None:
        start, end = 0, start
    integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    array = np.arange(start, end, step, dtype=np.int64 if integral else _float(None))
    return _make(array, dtype, requires_grad, device)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None,
             requires_grad: bool = False, device: Any = None) -> Tensor:
    n = int(steps)
    if n < 0:
        raise ShapeError(_("linspace: steps must be ≥ 0, got {steps}").format(steps=steps))
    # As torch's kernel, in the result's dtype: the first half counts up from start, the
    # second down from end, so both ends are exact (the values agree with torch's to an ulp).
    target = _float(dtype)
    work = target.type if target.kind == "f" else np.float64
    lo, hi = work(start), work(end)
    i = np.arange(n, dtype=work)
    step = (hi - lo) / work(n - 1) if n > 1 else work(0)
    array = np.where(i < n // 2, lo + i * step, hi - (work(n - 1) - i) * step)
    if n == 1:
        array = np.array([lo])
    return _make(array.astype(target), None, requires_grad, device)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
         ) -> Tensor:
    """Uniform on [0, 1)."""
    return _make(generator().random(_shape_args(size)), _float(dtype), requires_grad, device)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
          ) -> Tensor:
    """Standard normal."""
    return _make(generator().standard_normal(_shape_args(size)), _float(dtype), requires_grad,
                 device)


def randint(low: int, high: int | None = None, size: Any = (), *, dtype: Any = None,
            device: Any = None) -> Tensor:
    if high is None:
        low, high = 0, low
    array = generator().integers(low, high, _shape_args((size,)), dtype=np.int64)
    return _make(array, dtype, False, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (changes to one show in the other), as torch's."""
    if not isinstance(array, np.ndarray):
        raise OperandError(_("from_numpy: expected a NumPy array, got {kind}").format(
            kind=type(array).__name__))
    t = Tensor(array, dtype=array.dtype)
    assert t.data is array or np.shares_memory(t.data, array)
    return t


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join along an existing axis; each input gets its slice of the gradient back."""
    items = [x if isinstance(x, Tensor) else tensor(x) for x in tensors]
    if not items:
        raise ShapeError(_("cat: expected at least one tensor"))
    d = dim if axis is None else axis
    # torch's legacy rule: empty 1-D tensors are skipped when joining others.
    kept = [x for x in items if not (x.ndim == 1 and x.shape[0] == 0)] or items[:1]
    first = kept[0]
    axis_ = _one_axis(d, first.ndim, "cat")
    out = first
    for x in kept[1:]:
        if x.ndim != first.ndim or any(
                a != b for i, (a, b) in enumerate(zip(x.shape, first.shape, strict=True))
                if i != axis_):
            raise ShapeError(_("cat: shapes {first} and {other} differ outside dim {dim}").format(
                first=first.shape, other=x.shape, dim=d))
        out = _apply(ops.CONCAT, out, _lift(x, out, "cat"), (axis_,))
    return out


concatenate = cat


def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join along a new axis ``dim``."""
    items = [x if isinstance(x, Tensor) else tensor(x) for x in tensors]
    if not items:
        raise ShapeError(_("stack: expected at least one tensor"))
    shapes = {x.shape for x in items}
    if len(shapes) > 1:
        raise ShapeError(_("stack: every tensor must have the same shape, got {shapes}").format(
            shapes=sorted(shapes)))
    return cat([x.unsqueeze(dim) for x in items], dim if dim >= 0 else dim + items[0].ndim + 1)


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002 - torch's name
    """``input`` where ``condition`` holds, ``other`` elsewhere (broadcast together)."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    if isinstance(input, Tensor):
        like = input
    elif isinstance(other, Tensor):
        like = other
    else:
        return _constant(np.where(cond, input, other))
    a = _lift(input, like, "where")
    b = _lift(other, like, "where")
    try:
        shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ShapeError(_("where: shapes {condition}, {input} and {other} cannot be "
                           "broadcast together").format(
                               condition=cond.shape, input=a.shape, other=b.shape)) from None
    return _apply(ops.WHERE, a, b, (np.broadcast_to(cond, shape),))

