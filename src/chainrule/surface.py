"""The PyTorch names of ``Tensor``: shape methods, math, dtype and device, in-place methods.

Everything here is a composition of catalogue ops (``reshape``, ``transpose``, ``broadcast_to``,
``sum``, ``pow_const``, …) or an in-place update (:mod:`chainrule.inplace`), so no derivative is
written in this file. Views (``view``, ``expand``, ``permute``, …) are new nodes whose values may
be copies in NumPy's terms; their gradients are those of torch's views.
"""

from __future__ import annotations

import builtins
import importlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from chainrule import ops
from chainrule.errors import OperandError, ShapeError
from chainrule.i18n import _

if TYPE_CHECKING:
    from chainrule.ops import Op
    from chainrule.tensor import Tensor

# The module, not the function chainrule.tensor that shadows its name on the package.
_t : Any = importlib.import_module("chainrule.tensor")

__all__ = ["AccumulateGrad", "GradFn", "MaxMin", "Size", "TorchSurface", "as_dtype"]


def _shape_args(shape: Sequence[Any]) -> tuple[int, ...]:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean the shape (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def as_dtype(dtype: Any) -> np.dtype[Any]:
    """A NumPy dtype from ``chainrule.float32``, ``np.float32``, ``"float32"`` or ``float``."""
    try:
        return np.dtype(dtype)
    except TypeError:
        raise OperandError(_("unknown dtype {dtype}; use chainrule.float32, float64, int64 or "
                             "bool").format(dtype=repr(dtype))) from None


class Size(tuple[int, ...]):
    """torch's ``Size``: a tuple of lengths (``x.size() == Size([2, 3])``, ``== (2, 3)``)."""

    __slots__ = ()

    def numel(self) -> builtins.int:
        return math.prod(self)

    def __repr__(self) -> str:
        return f"Size({list(self)})"


class GradFn:
    """What ``t.grad_fn`` returns for a non-leaf: the op that made ``t`` (its ``name``,
    ``rule``, … read through) and, as torch's, ``next_functions``: one ``(fn, 0)`` per input,
    ``fn`` the input's own ``GradFn``, an ``AccumulateGrad`` for a leaf that requires grad,
    or ``None``."""

    __slots__ = ("node",)

    def __init__(self, node: Any) -> None:
        self.node = node

    def __getattr__(self, name: str) -> Any:
        return getattr(self.node.op, name)

    @property
    def next_functions(self) -> tuple[tuple[Any, builtins.int], ...]:
        out: list[tuple[Any, builtins.int]] = []
        for x in self.node.inputs:
            if not x.requires_grad:
                out.append((None, 0))
            elif x.is_leaf:
                out.append((AccumulateGrad(x), 0))
            else:
                out.append((GradFn(x), 0))
        return tuple(out)

    def __eq__(self, other: object) -> builtins.bool:
        return isinstance(other, GradFn) and other.node is self.node

    def __hash__(self) -> builtins.int:
        return id(self.node)

    def __repr__(self) -> str:
        name = "".join(part.capitalize() for part in self.node.op.name.split("_"))
        return f"<{name}Backward>"


class AccumulateGrad:
    """The end of a ``next_functions`` chain: the leaf ``variable`` whose ``.grad`` receives
    the gradient."""

    __slots__ = ("variable",)

    def __init__(self, variable: Any) -> None:
        self.variable = variable

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


class TorchSurface:
    """Mixin of ``Tensor`` with torch's method names; ``self`` is always a Tensor."""

    __slots__ = ()

    # ------------------------------------------------------------------ facts

    def size(self: Any, dim: builtins.int | None = None) -> Any:
        """The shape (torch's ``torch.Size`` is a tuple too), or one dimension's length."""
        if dim is None:
            return Size(self.data.shape)
        return self.data.shape[_t._one_axis(dim, self.ndim, "size")]

    def dim(self: Any) -> builtins.int:
        return self.data.ndim

    def numel(self: Any) -> builtins.int:
        return builtins.int(self.data.size)

    @property
    def is_leaf(self: Any) -> builtins.bool:
        """True for tensors made by the user (and for results that need no gradient)."""
        return not self.requires_grad or self.op is None

    @property
    def grad_fn(self: Any) -> Any:
        """The op that made this tensor (``None`` for a leaf), as torch's ``grad_fn``."""
        return None if self.is_leaf else GradFn(self)

    @property
    def device(self: Any) -> Any:
        from chainrule.device import CPU

        return CPU

    @property
    def is_cuda(self: Any) -> builtins.bool:
        return False

    def tolist(self: Any) -> Any:
        return self.data.tolist()

    # ------------------------------------------------------------------ dtype and device

    def to(self: Any, *args: Any, **kwargs: Any) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)``: the CPU is
        the only device, so only a dtype changes anything."""
        from chainrule.device import device as as_device

        dtype = kwargs.pop("dtype", None)
        for name in ("device", "non_blocking", "copy"):
            value = kwargs.pop(name, None)
            if name == "device" and value is not None:
                as_device(value)
        if kwargs:
            raise OperandError(_("to: unexpected argument {name}").format(
                name=repr(next(iter(kwargs)))))
        for arg in args:
            if isinstance(arg, _t.Tensor):
                dtype = arg.dtype
            elif _is_device(arg):
                as_device(arg)
            else:
                dtype = arg
        return self if dtype is None else self.type(dtype)

    def type(self: Any, dtype: Any) -> Tensor:
        target = as_dtype(dtype)
        if target == self.data.dtype:
            return self
        if target.kind != "f":  # integers and booleans carry no gradient (as torch)
            return _t._constant(self.data.astype(target))
        return _t._apply(ops.CAST, self, None, (target,))

    def float(self: Any) -> Tensor:
        return self.type(np.float32)

    def double(self: Any) -> Tensor:
        return self.type(np.float64)

    def long(self: Any) -> Tensor:
        return self.type(np.int64)

    def int(self: Any) -> Tensor:
        return self.type(np.int32)

    def bool(self: Any) -> Tensor:
        return self.type(np.bool_)

    def new_tensor(self: Any, data: Any, dtype: Any = None, requires_grad: builtins.bool = False,
                   device: Any = None) -> Tensor:
        """A tensor of ``data`` in this tensor's dtype (unless ``dtype``), as torch's."""
        return _t.tensor(data, dtype=self.dtype if dtype is None else dtype,
                         requires_grad=requires_grad, device=device)

    def new_zeros(self: Any, *size: Any, **kwargs: Any) -> Tensor:
        from chainrule.factories import zeros

        return zeros(*size, **{"dtype": self.dtype, **kwargs})

    def new_ones(self: Any, *size: Any, **kwargs: Any) -> Tensor:
        from chainrule.factories import ones

        return ones(*size, **{"dtype": self.dtype, **kwargs})

    def new_empty(self: Any, *size: Any, **kwargs: Any) -> Tensor:
        from chainrule.factories import empty

        return empty(*size, **{"dtype": self.dtype, **kwargs})

    def new_full(self: Any, size: Any, fill_value: Any, **kwargs: Any) -> Tensor:
        from chainrule.factories import full

        return full(size, fill_value, **{"dtype": self.dtype, **kwargs})

    def type_as(self: Any, other: Tensor) -> Tensor:
        return self.type(other.dtype)

    def cpu(self: Any) -> Tensor:
        return self

    def clone(self: Any) -> Tensor:
        """A copy that stays in the graph (∂clone/∂x = 1), as torch's ``clone``."""
        if not self.requires_grad:
            return _t.Tensor(self.data.copy())
        return self * 1.0

    # ------------------------------------------------------------------ shapes

    def view(self: Any, *shape: Any) -> Tensor:
        """``reshape`` (torch's view shares memory; here the values may be a copy, the gradient
        is the same)."""
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, builtins.int, np.integer)):
            raise OperandError(_("view(dtype) reinterprets the bytes in torch, which chainrule "
                                 "does not do; use .to(dtype) to convert the values"))
        return self.reshape(*shape)

    def contiguous(self: Any) -> Tensor:
        """The tensor itself: chainrule's values have no strides to make contiguous."""
        return self

    def view_as(self: Any, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def reshape_as(self: Any, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self: Any, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        start = _t._one_axis(start_dim, self.ndim, "flatten")
        end = _t._one_axis(end_dim, self.ndim, "flatten")
        if start > end:
            raise ShapeError(_("flatten: start_dim {start} comes after end_dim {end}").format(
                start=start_dim, end=end_dim))
        shape = self.shape
        return self.reshape(*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])

    def unsqueeze(self: Any, dim: builtins.int) -> Tensor:
        ndim = self.ndim + 1
        if not -ndim <= dim < ndim:
            raise ShapeError(_("unsqueeze: dim {dim} is out of range for a {ndim}-d tensor "
                               "(use {low}..{high})").format(dim=dim, ndim=self.ndim, low=-ndim,
                                                             high=ndim - 1))
        d = dim % ndim
        return self.reshape(*self.shape[:d], 1, *self.shape[d:])

    def squeeze(self: Any, dim: builtins.int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        if self.ndim == 0:
            return self
        d = _t._one_axis(dim, self.ndim, "squeeze")
        if self.shape[d] != 1:
            return self  # torch leaves a dimension that is not 1
        return self.reshape(*self.shape[:d], *self.shape[d + 1:])

    def permute(self: Any, *dims: Any) -> Tensor:
        perm = _shape_args(dims)
        if len(perm) != self.ndim:
            raise ShapeError(_("permute: {count} dims given for a {ndim}-d tensor").format(
                count=len(perm), ndim=self.ndim))
        axes = tuple(d % self.ndim for d in perm) if self.ndim else ()
        if sorted(axes) != list(range(self.ndim)):
            raise ShapeError(
                _("permute: {perm} is not a permutation of the axes of {shape}").format(
                    perm=perm, shape=self.shape))
        return _t._apply(ops.TRANSPOSE, self, None, (axes,))

    def t(self: Any) -> Tensor:
        if self.ndim > 2:
            raise ShapeError(_("t: expects a tensor of at most 2 dimensions, got {shape}; "
                               "use transpose(d0, d1)").format(shape=self.shape))
        return self.transpose() if self.ndim == 2 else self

    @property
    def mT(self: Any) -> Tensor:  # noqa: N802 - torch's name
        return self.transpose(-2, -1)

    def expand(self: Any, *sizes: Any) -> Tensor:
        """Broadcast to ``sizes`` (−1 keeps a dimension), as torch's ``expand``."""
        target = _shape_args(sizes)
        lead = len(target) - self.ndim
        if lead < 0:
            raise ShapeError(_("expand: {count} sizes for a {ndim}-d tensor").format(
                count=len(target), ndim=self.ndim))
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n
                      for i, n in enumerate(target))
        if any(n < 0 for n in shape):
            raise ShapeError(_("expand: -1 is only allowed for existing dimensions"))
        return self if shape == self.shape else self.broadcast_to(shape)

    def expand_as(self: Any, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def repeat(self: Any, *sizes: Any) -> Tensor:
        reps = _shape_args(sizes)
        if len(reps) < self.ndim:
            raise ShapeError(_("repeat: {count} repeats for a {ndim}-d tensor").format(
                count=len(reps), ndim=self.ndim))
        x = self.reshape((1,) * (len(reps) - self.ndim) + self.shape)
        # Tile as broadcast + reshape: (1, n) → (r, 1, n) → (r, n), axis by axis.
        for axis, r in enumerate(reps):
            if r != 1:
                shape = x.shape
                spread = x.unsqueeze(axis).expand(*shape[:axis], r, *shape[axis:])
                x = spread.reshape(*shape[:axis], r * shape[axis], *shape[axis + 1:])
        return x

    # ------------------------------------------------------------------ math

    def pow(self: Any, exponent: Any) -> Tensor:
        return self**exponent

    def square(self: Any) -> Tensor:
        return self**2

    def sin(self: Any) -> Tensor:
        return _t._apply(ops.SIN, self)

    def cos(self: Any) -> Tensor:
        return _t._apply(ops.COS, self)

    def log1p(self: Any) -> Tensor:
        return _t._apply(ops.LOG1P, self)

    def softplus(self: Any) -> Tensor:
        return _t._apply(ops.SOFTPLUS, self)

    def neg(self: Any) -> Tensor:
        return -self

    def add(self: Any, other: Any, alpha: builtins.float = 1.0) -> Tensor:
        return self + (other if alpha == 1.0 else other * alpha)

    def sub(self: Any, other: Any, alpha: builtins.float = 1.0) -> Tensor:
        return self - (other if alpha == 1.0 else other * alpha)

    def mul(self: Any, other: Any) -> Tensor:
        return self * other

    def div(self: Any, other: Any) -> Tensor:
        return self / other

    def matmul(self: Any, other: Any) -> Tensor:
        return self @ other

    def mm(self: Any, other: Any) -> Tensor:
        if self.ndim != 2 or getattr(other, "ndim", 0) != 2:
            raise ShapeError(_("mm: both operands must be 2-D; use matmul for other shapes"))
        return self @ other

    def clamp(self: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        if min is None and max is None:
            raise OperandError(_("clamp: give min, max or both"))
        return _t._apply(ops.CLAMP, self, None, (_bound(min), _bound(max)))

    clip = clamp

    def where(self: Any, condition: Any, other: Any) -> Tensor:
        from chainrule.factories import where

        return where(condition, self, other)

    def prod(self: Any, dim: builtins.int | None = None, keepdim: builtins.bool = False, *,
             axis: Any = None, keepdims: builtins.bool | None = None, dtype: Any = None,
             out: None = None) -> Tensor:
        t = _t.numpy_call(self, "prod", dtype, out)
        return _t._reduce(ops.PROD, t, _t._either(dim, axis), _t._either(keepdim, keepdims))

    def var(self: Any, dim: Any = None, unbiased: builtins.bool | None = None,
            keepdim: builtins.bool = False,
            *, correction: builtins.int | None = None) -> Tensor:
        """Σ(x − mean)²/(n − correction); torch's default correction is 1 (unbiased)."""
        c = correction if correction is not None else (0 if unbiased is False else 1)
        axes = _t._normalize_axis(dim, self.ndim, "var")
        n = self.data.size if axes is None else math.prod(self.shape[i] for i in axes)
        centred = self - self.mean(axis=axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = 1.0 / (n - c) if n - c > 0 else math.nan
        return (centred * centred).sum(axis=axes, keepdims=keepdim) * scale

    def std(self: Any, dim: Any = None, unbiased: builtins.bool | None = None,
            keepdim: builtins.bool = False,
            *, correction: builtins.int | None = None) -> Tensor:
        # norm_sqrt: at zero spread the gradient is 0 (torch's), not √'s ∞ times var's 0.
        return _t._apply(ops.NORM_SQRT, self.var(dim, unbiased, keepdim, correction=correction))

    def norm(self: Any, p: Any = 2, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        """The p-norm (2 by default; 1, inf, "fro"). At the zero vector the 2-norm's gradient is
        0, as torch's."""
        if p in (2, 2.0, "fro"):
            return _t._apply(ops.NORM_SQRT, (self * self).sum(axis=dim, keepdims=keepdim))
        if p in (1, 1.0):
            return self.abs().sum(axis=dim, keepdims=keepdim)
        if p == math.inf:
            return self.abs().max(axis=dim, keepdims=keepdim)
        q = builtins.float(p)
        return (self.abs() ** q).sum(axis=dim, keepdims=keepdim) ** (1.0 / q)

    def any(self: Any, dim: builtins.int | None = None) -> Tensor:
        return _t._constant(np.asarray(np.any(self.data, axis=dim)))

    def all(self: Any, dim: builtins.int | None = None) -> Tensor:
        return _t._constant(np.asarray(np.all(self.data, axis=dim)))

    # ------------------------------------------------------------------ comparisons, extremes


    # Comparisons give boolean tensors (as torch): constants, with no gradient.
    def __gt__(self: Any, other: Any) -> Tensor:
        return _compare(np.greater, self, other)

    def __ge__(self: Any, other: Any) -> Tensor:
        return _compare(np.greater_equal, self, other)

    def __lt__(self: Any, other: Any) -> Tensor:
        return _compare(np.less, self, other)

    def __le__(self: Any, other: Any) -> Tensor:
        return _compare(np.less_equal, self, other)

    # Elementwise like torch. The backward pass keys its dicts by node: they hash by identity
    # and dicts find a key by identity before ever calling __eq__, so this is safe there.
    def __eq__(self: Any, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.equal, self, other)

    def __ne__(self: Any, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.not_equal, self, other)

    def __invert__(self: Any) -> Tensor:
        if self.data.dtype != np.bool_:
            raise OperandError(_("~: only boolean tensors can be inverted, got {dtype}").format(
                dtype=self.dtype))
        return _t._constant(~self.data)

    def __and__(self: Any, other: Any) -> Tensor:
        return _compare(np.logical_and, self, other)

    def __or__(self: Any, other: Any) -> Tensor:
        return _compare(np.logical_or, self, other)

    def __xor__(self: Any, other: Any) -> Tensor:
        return _compare(np.logical_xor, self, other)


    def max(self: Any, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: builtins.bool | None = None, out: None = None) -> Any:
        """The largest element; with ``dim`` (torch) the pair ``(values, indices)`` along that
        axis, with ``axis`` (NumPy) only the values. ∂ goes to the maximal element."""
        _t.numpy_call(self, "max", None, out)
        return _extreme(self, ops.MAX, dim, keepdim, axis, keepdims, "max")

    def min(self: Any, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: builtins.bool | None = None, out: None = None) -> Any:
        """The smallest element, −max(−x); with ``dim`` the pair ``(values, indices)``."""
        _t.numpy_call(self, "min", None, out)
        return _extreme(self, ops.MAX, dim, keepdim, axis, keepdims, "min")

    def argmax(self: Any, dim: builtins.int | None = None,
               keepdim: builtins.bool = False) -> Tensor:
        return _arg(self, np.argmax, dim, keepdim, "argmax")

    def argmin(self: Any, dim: builtins.int | None = None,
               keepdim: builtins.bool = False) -> Tensor:
        return _arg(self, np.argmin, dim, keepdim, "argmin")

    # ------------------------------------------------------------------ scans, flips, sorting,
    # splitting, triangles, diagonals, products (chainrule.tensor_functions)

    def cumsum(self: Any, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
        return _tf().cumsum(self, dim, dtype=dtype, axis=axis)

    def cumprod(self: Any, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
        return _tf().cumprod(self, dim, dtype=dtype, axis=axis)

    def flip(self: Any, *dims: Any) -> Tensor:
        """``x.flip(0)``, ``x.flip(0, 1)`` or ``x.flip([0, 1])``."""
        return _tf().flip(self, dims[0] if len(dims) == 1 else dims)

    def fliplr(self: Any) -> Tensor:
        return _tf().fliplr(self)

    def flipud(self: Any) -> Tensor:
        return _tf().flipud(self)

    def roll(self: Any, shifts: Any, dims: Any = None) -> Tensor:
        return _tf().roll(self, shifts, dims)

    def sort(self: Any, dim: builtins.int = -1, descending: builtins.bool = False,
             stable: builtins.bool = False) -> Any:
        return _tf().sort(self, dim, descending, stable)

    def argsort(self: Any, dim: builtins.int = -1, descending: builtins.bool = False,
                stable: builtins.bool = False) -> Tensor:
        return _tf().argsort(self, dim, descending, stable)

    def split(self: Any, split_size: Any, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _tf().split(self, split_size, dim)

    def chunk(self: Any, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _tf().chunk(self, chunks, dim)

    def tensor_split(self: Any, indices_or_sections: Any,
                     dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _tf().tensor_split(self, indices_or_sections, dim)

    def repeat_interleave(self: Any, repeats: Any, dim: builtins.int | None = None) -> Tensor:
        return _tf().repeat_interleave(self, repeats, dim)

    def tril(self: Any, diagonal: builtins.int = 0) -> Tensor:
        return _tf().tril(self, diagonal)

    def triu(self: Any, diagonal: builtins.int = 0) -> Tensor:
        return _tf().triu(self, diagonal)

    def diag(self: Any, diagonal: builtins.int = 0) -> Tensor:
        return _tf().diag(self, diagonal)

    def diagonal(self: Any, offset: builtins.int = 0, dim1: builtins.int = 0,
                 dim2: builtins.int = 1) -> Tensor:
        return _tf().diagonal(self, offset, dim1, dim2)

    def trace(self: Any) -> Tensor:
        return _tf().trace(self)

    def dot(self: Any, other: Any) -> Tensor:
        return _tf().dot(self, other)

    def inner(self: Any, other: Any) -> Tensor:
        return _tf().inner(self, other)

    def outer(self: Any, other: Any) -> Tensor:
        return _tf().outer(self, other)

    def kron(self: Any, other: Any) -> Tensor:
        return _tf().kron(self, other)

    # ------------------------------------------------------------------ in place


    # x += y and friends modify x in place, as in torch (so `p -= lr * p.grad` under no_grad
    # updates the parameter the optimizer and the model hold, not a new tensor).
    def __iadd__(self: Any, other: Any) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.ADD, other, "add_")

    def __isub__(self: Any, other: Any) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.SUB, other, "sub_")

    def __imul__(self: Any, other: Any) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.MUL, other, "mul_")

    def __itruediv__(self: Any, other: Any) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.DIV, other, "div_")

    def __imod__(self: Any, other: Any) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.REMAINDER, other, "remainder_")


    def add_(self: Any, other: Any, alpha: builtins.float = 1.0) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.ADD, other if alpha == 1.0 else other * alpha, "add_")

    def sub_(self: Any, other: Any, alpha: builtins.float = 1.0) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.SUB, other if alpha == 1.0 else other * alpha, "sub_")

    def mul_(self: Any, other: Any) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.MUL, other, "mul_")

    def div_(self: Any, other: Any) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.DIV, other, "div_")

    def remainder_(self: Any, other: Any) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.REMAINDER, other, "remainder_")

    def fmod_(self: Any, other: Any) -> Tensor:
        from chainrule.inplace import inplace

        return inplace(self, ops.FMOD, other, "fmod_")

    def fill_(self: Any, value: Any) -> Tensor:
        from chainrule.inplace import setitem

        setitem(self, Ellipsis, value)
        return self

    def zero_(self: Any) -> Tensor:
        return self.fill_(0.0)

    def copy_(self: Any, src: Any) -> Tensor:
        from chainrule.inplace import setitem

        setitem(self, Ellipsis, src)
        return self

    def clamp_(self: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return self.copy_(self.clamp(min, max))

    def normal_(self: Any, mean: builtins.float = 0.0, std: builtins.float = 1.0) -> Tensor:
        from chainrule.factories import generator

        return self.copy_(generator().normal(mean, std, self.shape))

    def uniform_(self: Any, a: builtins.float = 0.0, b: builtins.float = 1.0) -> Tensor:
        from chainrule.factories import generator

        return self.copy_(generator().uniform(a, b, self.shape))



def _compare(fn: Any, a: Tensor, other: Any) -> Tensor:
    b = other.data if isinstance(other, _t.Tensor) else other
    try:
        return _t._constant(np.asarray(fn(a.data, b)))
    except TypeError:
        # Not something to compare elementwise (pytest.approx, a custom object): let the
        # other operand's reflected comparison answer, as torch does.
        return NotImplemented
    except ValueError:
        shape = getattr(b, "shape", ())
        raise ShapeError(_("compare: shapes {a} and {b} cannot be broadcast together").format(
            a=a.shape, b=shape)) from None


class MaxMin(NamedTuple):
    """``(values, indices)`` along a dimension, as torch's ``max(dim)``/``min(dim)``."""

    values: Tensor
    indices: Tensor


def _extreme(t: Tensor, op: Op, dim: Any, keepdim: bool, axis: Any, keepdims: bool | None,
             name: str) -> Any:
    if dim is not None and axis is not None:
        raise OperandError(_("{name}: give dim (torch) or axis (NumPy), not both").format(
            name=name))
    if t.data.size == 0:
        raise ShapeError((_("{name}: the tensor is empty, so it has no maximum") if name == "max"
                          else _("{name}: the tensor is empty, so it has no minimum")).format(
            name=name))
    keep = bool(keepdim if keepdims is None else keepdims)
    source = t if name == "max" else -t
    if dim is None:
        values = _t._reduce(op, source, axis, keep)
        return values if name == "max" else -values
    if isinstance(dim, _t.Tensor):  # torch.max(a, b): the elementwise maximum
        return t.maximum(dim) if name == "max" else t.minimum(dim)
    # Values picked at the indices (a getitem node), so the gradient goes to the element at the
    # returned index even among ties, as torch's max(dim) does.
    if t.ndim == 0:  # one number: it is its own maximum, at index 0
        return MaxMin(t * 1.0, _t._constant(np.asarray(0, dtype=np.int64)))
    indices = _arg(t, np.argmax if name == "max" else np.argmin, dim, True, name)
    source = t
    axis = _t._one_axis(dim, t.ndim, name)
    grids = np.indices(indices.shape, sparse=True)
    values = source[tuple(indices.data if i == axis else g for i, g in enumerate(grids))]
    if not keep:
        values = values.reshape(tuple(n for i, n in enumerate(values.shape) if i != axis))
        indices = _t._constant(indices.data.reshape(values.shape))
    return MaxMin(values, indices)


def _arg(t: Tensor, fn: Any, dim: int | None, keepdim: bool, name: str) -> Tensor:
    if t.data.size == 0:
        raise ShapeError(_("{name}: the tensor is empty").format(name=name))
    if dim is None:
        return _t._constant(np.asarray(fn(t.data)))
    axis = _t._one_axis(dim, t.ndim, name)
    if t.ndim == 0:
        return _t._constant(np.asarray(0, dtype=np.int64))
    return _t._constant(np.asarray(fn(t.data, axis=axis, keepdims=keepdim)))


def _bound(x: Any) -> builtins.float | None:
    return None if x is None else builtins.float(x.item() if isinstance(x, _t.Tensor) else x)


def _is_device(x: Any) -> builtins.bool:
    from chainrule.device import device

    return isinstance(x, device) or (isinstance(x, str) and x.split(":")[0] in
                                     ("cpu", "cuda", "mps", "xpu", "meta"))


def _tf() -> Any:
    # Imported on first use: chainrule.tensor_functions builds on chainrule.tensor, which
    # imports this module.
    return importlib.import_module("chainrule.tensor_functions")
