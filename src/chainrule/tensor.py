"""The array engine: NumPy arrays with broadcasting, same ops and traversal as ``Value``.

A ``Tensor`` records history only when some input has ``requires_grad``; leaves keep ``.grad``
after ``backward()``, intermediates only when ``retain_grad()`` was called (their gradients are
freed as soon as they have been passed on). Shapes are checked where NumPy would fail, so the
error names the op and both shapes.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from sys import getrefcount
from typing import Any

import numpy as np

from chainrule import blas, indexing, ops
from chainrule.display import CircuitDisplay
from chainrule.dtypes import _Default
from chainrule.errors import (
    ConfigError,
    GraphError,
    OperandError,
    ShapeError,
)
from chainrule.grad_data import GradData
from chainrule.graph import _GradMode, backward_pass, listen
from chainrule.i18n import _
from chainrule.math_methods import MathMethods
from chainrule.ops import NO_GRAD, Op
from chainrule.printing import format_tensor
from chainrule.surface import TorchSurface

__all__ = ["Tensor", "tensor"]

Axis = int | Sequence[int] | None
_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_REDUCTIONS = ("mean", "sum", "none")


class Tensor(CircuitDisplay, TorchSurface, MathMethods):
    """An n-dimensional array node: ``data`` (ndarray), ``grad`` (a Tensor or None)."""

    # _g and _n are the backward pass's scratch (running gradient, uses left; see
    # chainrule.graph._propagate): None and 0 between passes. _grad is the stored gradient,
    # a plain ndarray that the engine's own paths (backward, compiled plans, optimizers) read
    # and write; ``.grad`` shows it as a Tensor sharing its memory, cached in _grad_tensor
    # (left unset until first asked for, so making a node costs nothing more).
    __slots__ = ("data", "_grad", "requires_grad", "op", "_a", "_b", "ctx", "label", "_retain",
                 "_version", "_made", "_g", "_n", "_grad_tensor")

    _is_node = True
    _shaped = True

    data: np.ndarray
    _grad: np.ndarray | None
    _grad_tensor: tuple[Any, Any]  # (the array viewed, its Tensor)
    requires_grad: bool
    op: Op | None
    _a: Tensor | None
    _b: Tensor | None
    ctx: tuple[Any, ...]
    label: str
    _retain: bool
    # In-place bookkeeping (see chainrule.inplace): the in-place clock at this tensor's last
    # modification (0: never; it only grows, like torch's _version) and when it was made, so a
    # backward pass can tell a node whose input changed after it was used.
    _version: int
    _made: int
    _g: Any
    _n: int

    def __init__(
        self, data: Any, requires_grad: bool = False, dtype: Any = None, label: str = ""
    ) -> None:
        if not isinstance(requires_grad, (bool, np.bool_)):
            # torch.Tensor(2, 3) makes a 2×3 tensor; here the 3 would silently mean True.
            raise OperandError(_(
                "Tensor(data, requires_grad): requires_grad must be True or False, got "
                "{value}; for a tensor of a given shape use chainrule.zeros(*shape)"
            ).format(value=repr(requires_grad)))
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise GraphError(_(
                "tensor: only floating-point tensors can require gradients, got {dtype}"
            ).format(dtype=self.data.dtype))
        self._grad = None
        self.requires_grad = bool(requires_grad)
        self.op = None
        self._a = None
        self._b = None
        self.ctx = ()
        self.label = label
        self._retain = False
        self._version = 0
        self._made = _CLOCK.now
        self._g = None
        self._n = 0

    # ------------------------------------------------------------------ array facts

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        """The nodes this one was computed from, in argument order (empty for a leaf)."""
        a, b = self._a, self._b
        return () if a is None else (a,) if b is None else (a, b)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise OperandError(_("len() of a 0-d tensor: it holds one number, use .item()"))
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        # Rows along the first axis, as torch and NumPy iterate (each row a node of the graph).
        if self.data.ndim == 0:
            raise OperandError(_("iteration over a 0-d tensor: it holds one number, use .item()"))
        return (self[i] for i in range(len(self.data)))

    def item(self) -> Any:
        """The one number this tensor holds, as a Python float (int or bool for those dtypes)."""
        if self.data.size != 1:
            raise ShapeError(_("item: only a one-element tensor has an item, shape is {shape}")
                             .format(shape=self.shape))
        return self.data.reshape(()).item()

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ShapeError(_("bool: the truth value of a tensor of shape {shape} is "
                               "ambiguous; use .any() or .all()").format(shape=self.shape))
        return bool(self.data.reshape(()))

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise OperandError(_("only a one-element integer tensor can be used as an index"))
        return int(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        data = self.data
        return data if type(data) is np.ndarray else data.view(np.ndarray)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        # np.asarray(t), np.allclose(t, a), np.testing on tensors: the values, no copy if possible.
        data = self.numpy()
        if dtype is not None and np.dtype(dtype) != data.dtype:
            if copy is False:
                raise ShapeError(_("asarray: a {dtype} tensor as {target} needs a copy, but "
                                   "copy=False was asked").format(dtype=data.dtype,
                                                                  target=np.dtype(dtype)))
            return data.astype(dtype)
        return data.copy() if copy else data

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy meets a Tensor. ``array ⊗ tensor`` is the tensor's reflected operator (a
        Tensor, as ``tensor ⊗ array`` is); an in-place ``array -= tensor`` (any ``out=``
        array) writes the values into the array; other ufuncs (``np.abs(t)``,
        ``np.isfinite(t)``) compute on the values and give an array."""
        out = kwargs.get("out")
        if out is not None and len(inputs) == 2 and len(kwargs) == 1 and method == "__call__" \
                and type(out[0]) is np.ndarray:
            # array -= tensor (p.data -= lr * p.grad), taken first: it is a training step's.
            a, b = inputs
            return ufunc(a.data if isinstance(a, Tensor) else a,
                         b.data if isinstance(b, Tensor) else b, out=out)
        from chainrule.numpy_interop import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __float__(self) -> float:
        return float(self.item())

    def __repr__(self) -> str:
        return format_tensor(self.data, self.requires_grad)

    # ------------------------------------------------------------------ elementwise

    def __add__(self, other: Any) -> Tensor:
        return _binary(ops.ADD, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _binary(ops.ADD, _lift(other, self, "add"), self)

    def __sub__(self, other: Any) -> Tensor:
        return _binary(ops.SUB, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _binary(ops.SUB, _lift(other, self, "sub"), self)

    def __mul__(self, other: Any) -> Tensor:
        if self.op is not None and self.op.scaled:
            folded = _fold_scale(self, other, divide=False)
            if folded is not None:
                return folded
        return _binary(ops.MUL, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        if self.op is not None and self.op.scaled:
            folded = _fold_scale(self, other, divide=False)
            if folded is not None:
                return folded
        return _binary(ops.MUL, _lift(other, self, "mul"), self)

    def __truediv__(self, other: Any) -> Tensor:
        if self.op is not None and self.op.scaled:
            folded = _fold_scale(self, other, divide=True)
            if folded is not None:
                return folded
        return _binary(ops.DIV, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _binary(ops.DIV, _lift(other, self, "div"), self)

    def __pow__(self, other: Any) -> Tensor:
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            # An integer tensor to an integer power stays integer, as in torch.
            whole = type(other) is int and self.data.dtype.kind in "iu" and other >= 0
            return _apply(ops.POW_CONST, self, None, (other if whole else float(other),))
        return _binary(ops.POW, self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _binary(ops.POW, _lift(other, self, "pow"), self)

    def __neg__(self) -> Tensor:
        return _apply(ops.NEG, self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _apply(ops.ABS, self)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other if type(other) is Tensor else _lift(other, self, "matmul"))

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(_lift(other, self, "matmul"), self)

    __hash__ = object.__hash__

    def exp(self) -> Tensor:
        return _apply(ops.EXP, self)

    def log(self) -> Tensor:
        return _apply(ops.LOG, self)

    def sigmoid(self) -> Tensor:
        return _apply(ops.SIGMOID, self)

    def tanh(self) -> Tensor:
        return _apply(ops.TANH, self)

    def relu(self) -> Tensor:
        return _apply(ops.RELU, self)

    def abs(self) -> Tensor:
        return _apply(ops.ABS, self)

    def sqrt(self) -> Tensor:
        return _apply(ops.SQRT, self)

    def maximum(self, other: Any) -> Tensor:
        return _binary(ops.MAXIMUM, self, other)

    def minimum(self, other: Any) -> Tensor:
        return _binary(ops.MINIMUM, self, other)

    # The gates of chainrule.math_methods (tan, atan2, remainder, ...) on this engine.
    def _gate1(self, op: Op, ctx: tuple[Any, ...] = ()) -> Tensor:
        return _apply(op, self, None, ctx)

    def _gate2(self, op: Op, other: Any, reflected: bool = False) -> Tensor:
        if reflected:
            return _binary(op, _lift(other, self, op.name), self)
        return _binary(op, self, other)

    # ------------------------------------------------------------------ shape and reductions

    # axis/keepdims (NumPy) and dim/keepdim (torch) are the same arguments.
    # dtype and out: what np.sum(t) / np.mean(t) pass on to the method (and torch's dtype=).
    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None, dtype: Any = None, out: None = None) -> Tensor:
        t = numpy_call(self, "sum", dtype, out)
        return _reduce(ops.SUM, t, _either(axis, dim), _either(keepdims, keepdim))

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
             keepdim: bool | None = None, dtype: Any = None, out: None = None) -> Tensor:
        t = numpy_call(self, "mean", dtype, out)
        return _reduce(ops.MEAN, t, _either(axis, dim), _either(keepdims, keepdim))

    def logsumexp(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
                  keepdim: bool | None = None) -> Tensor:
        return _reduce(ops.LOGSUMEXP, self, _either(axis, dim), _either(keepdims, keepdim))

    def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        if self.ndim == 0:  # one number: its own row
            return self.reshape(1).log_softmax(0).reshape(())
        axis = axis if dim is None else dim
        return _apply(ops.LOG_SOFTMAX, self, None, (_one_axis(axis, self.ndim, "log_softmax"),))

    def softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1).softmax(0).reshape(())
        axis = axis if dim is None else dim
        return _apply(ops.SOFTMAX, self, None, (_one_axis(axis, self.ndim, "softmax"),))

    def cross_entropy(self, target: Any, reduction: str = "mean") -> Tensor:
        """Softmax cross-entropy of logits (n, C), one node: −ln softmax(z)ᵢ[yᵢ] for integer
        class targets y (n,), or −Σ_c yᵢ_c·ln softmax(z)ᵢ_c for probability targets (n, C).

        ``reduction``: ``"mean"`` (over examples), ``"sum"`` or ``"none"`` (one loss per
        example). Targets are constants; probability targets that require grad are
        differentiated through log_softmax instead.
        """
        if reduction not in _REDUCTIONS:
            raise ConfigError(_("unknown reduction {name}; choose one of: {choices}").format(
                name=repr(reduction), choices=", ".join(_REDUCTIONS)))
        if self.data.ndim != 2:
            raise ShapeError(_("cross_entropy: logits must be (n, classes), got {shape}").format(
                shape=self.shape))
        n, classes = self.data.shape
        y = target.data if isinstance(target, Tensor) else np.asarray(target)
        if y.ndim == 1:
            if y.dtype.kind not in "iu":
                raise ShapeError(_("cross_entropy: class targets must be integers, got {dtype}")
                                 .format(dtype=y.dtype))
            if y.shape != (n,):
                raise ShapeError(_("cross_entropy: {n} examples but {targets} targets").format(
                    n=n, targets=y.shape[0]))
            # Seen as unsigned, a negative target is huge: one maximum checks both ends.
            if y.size and int(np.maximum.reduce(y.view(_UNSIGNED[y.dtype.itemsize]))) >= classes:
                raise ShapeError(_("cross_entropy: targets must be in 0..{last}").format(
                    last=classes - 1))
        else:
            if y.shape != self.data.shape:
                raise ShapeError(_("cross_entropy: input has shape {shape}, target has shape "
                                   "{target}").format(shape=self.shape, target=y.shape))
            if isinstance(target, Tensor) and target.requires_grad:
                # The fused op treats targets as constants; a target that is itself being
                # learned needs its own gradient, which the composed form provides.
                per_example = -(target * self.log_softmax(axis=1)).sum(axis=1)
                return per_example if reduction == "none" else (
                    per_example.mean() if reduction == "mean" else per_example.sum())
            y = y.astype(self.data.dtype, copy=False)  # float32 logits keep float32
        scale = None if reduction == "none" else 1.0 if reduction == "sum" else \
            (1.0 / n if n else np.nan)
        return _apply(ops.CROSS_ENTROPY, self, None, (y, scale))

    def reshape(self, *shape: Any) -> Tensor:
        target = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) \
            else tuple(shape)
        try:
            new_shape = self.data.reshape(target).shape
        except ValueError:
            raise ShapeError(_(
                "reshape: cannot reshape {shape} ({size} elements) into {target}"
            ).format(shape=self.shape, size=self.data.size, target=target)) from None
        if new_shape == self.shape:
            return self
        return _apply(ops.RESHAPE, self, None, (new_shape,))

    def transpose(self, *axes: int) -> Tensor:
        """No argument: all axes reversed (NumPy's ``.T``); two: those two swapped (torch's
        ``transpose(d0, d1)``); more: a full permutation (NumPy's)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if len(axes) == 2 and self.ndim != 0:
            d0, d1 = (_one_axis(d, self.ndim, "transpose") for d in axes)
            swapped = list(range(self.ndim))
            swapped[d0], swapped[d1] = d1, d0
            axes = tuple(swapped)
        perm = tuple(axes) if axes else tuple(range(self.ndim - 1, -1, -1))
        if sorted(perm) != list(range(self.ndim)):
            raise ShapeError(_("transpose: {perm} is not a permutation of the axes of {shape}")
                             .format(perm=perm, shape=self.shape))
        return _apply(ops.TRANSPOSE, self, None, (perm,))

    @property
    def T(self) -> Tensor:  # noqa: N802 - NumPy's and torch's name
        return self.transpose()

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        try:
            np.broadcast_shapes(self.shape, shape)
        except ValueError:
            raise ShapeError(_("broadcast_to: cannot broadcast {shape} to {target}").format(
                shape=self.shape, target=shape)) from None
        return _apply(ops.BROADCAST_TO, self, None, (tuple(shape),))

    def __getitem__(self, index: Any) -> Tensor:
        """torch's indexing (integers are applied first, see :mod:`chainrule.indexing`); each
        step is a ``getitem`` node."""
        out = self
        for step in indexing.steps(self.data.shape, index, "getitem"):
            try:
                out = _apply(ops.GETITEM, out, None, (step,))
            except (IndexError, ValueError) as exc:
                raise indexing.refusal("getitem", index, self.data.shape, exc) from None
        return out

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value`` in place (torch's rule: not on a leaf that requires grad)."""
        from chainrule.inplace import setitem

        setitem(self, index, value)

    def scatter_add(self, index: Any, shape: tuple[int, ...]) -> Tensor:
        """A zero tensor of ``shape`` with this tensor added at ``index`` (repeats add up)."""
        return _apply(ops.SCATTER_ADD, self, None, (_clean_index(index), tuple(shape)))

    # ------------------------------------------------------------------ gradients

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, *, grad: Any = None) -> None:
        """Accumulate ∂self/∂leaf into ``.grad`` of every leaf with ``requires_grad``.

        ``gradient`` (∂loss/∂self; also accepted as ``grad=``) may be omitted only when this
        tensor holds a single number. ``retain_graph`` is accepted for torch code (a chainrule
        graph is never freed by backward); for gradients of gradients use ``chainrule.grad``
        with ``create_graph=True``.
        """
        if create_graph:
            raise GraphError(_("backward(create_graph=True) is not supported; use "
                               "chainrule.grad(output, inputs, create_graph=True)"))
        grad = gradient if grad is None else grad
        if not self.requires_grad:
            if self.op is NO_GRAD:
                backward_pass(self, None)  # raises the no_grad explanation
            raise GraphError(_(
                "backward: this tensor does not require grad: no input it was computed from "
                "has requires_grad=True"
            ))
        if _CLOCK.now:  # some tensor was modified in place since the process started
            from chainrule.inplace import check_versions

            check_versions(self)
        seed = _seed(self, grad)
        # Left in the dict: the leaves' gradients and those of nodes with retain_grad().
        if anomaly_mode():  # every edge is checked
            from chainrule.anomaly import check_event

            with listen(check_event):
                grads = backward_pass(self, seed, drop_intermediate=True)
        else:
            grads = backward_pass(self, seed, drop_intermediate=True)
        _store_grads(grads.items(), seed)

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        # Copies and pickles leave out the cached .grad Tensor: a copy of that view would not
        # view the copied gradient. It is rebuilt on first use.
        slots = {}
        for cls in type(self).__mro__:
            for name in cls.__dict__.get("__slots__", ()):
                if name != "_grad_tensor" and hasattr(self, name):
                    slots[name] = getattr(self, name)
        return None, slots

    @property
    def grad(self) -> Tensor | None:
        """∂/∂self from the last ``backward()`` (accumulated), as a Tensor without history that
        shares memory with the stored gradient: ``t.grad.zero_()`` clears it, as in torch.
        ``None`` until a backward pass reaches this tensor."""
        g = self._grad
        if g is None:
            return None
        cached = getattr(self, "_grad_tensor", None)
        if cached is not None and cached[0] is g:
            return cached[1]
        view = _new(Tensor)
        _fill_leaf(view, g.view(GradData))
        self._grad_tensor = (g, view)
        return view

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self.zero_grad()
            return
        cached = getattr(self, "_grad_tensor", None)
        if cached is not None and value is cached[1] and cached[0] is self._grad:
            return  # t.grad += x: already written into the stored array
        self._grad = _assigned_grad(self, value)

    def retain_grad(self) -> Tensor:
        """Keep this intermediate's ``.grad`` after backward (leaves always keep theirs)."""
        self._retain = True
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradient: ``None`` (torch's default), or zeros written into the stored
        array with ``set_to_none=False`` (as torch's ``grad.zero_()``, so a ``.grad`` held by
        the caller reads the zeros)."""
        grad = self._grad
        if set_to_none or grad is None:
            self._grad = None
            self._grad_tensor = _NO_GRAD_TENSOR  # lets go of the array the cached view viewed
        elif grad.flags.writeable:
            grad[...] = 0
        else:  # an array assigned by the caller that cannot be written (a broadcast view)
            self.grad = np.zeros_like(grad)

    def detach(self) -> Tensor:
        """The same array as a new leaf that does not require grad (no copy)."""
        return Tensor(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if self.op is not None and self.op is not NO_GRAD:
            raise GraphError(_("requires_grad_: only leaf tensors can change requires_grad"))
        self.requires_grad = flag
        return self


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None
           ) -> Tensor:
    """A leaf tensor holding a copy of ``data``: nested lists, a number, an ndarray or a Tensor
    (integers become int64 and other numbers the default dtype, float64 unless
    ``set_default_dtype`` changed it, as in torch; booleans stay boolean; an array keeps its
    dtype). Like ``torch.tensor`` it copies; ``from_numpy`` shares the array. A temporary
    nobody else can reach, such as the batch ``X[idx]`` in ``tensor(X[idx])``, is taken
    instead of copied: the caller cannot tell the difference, and the step saves a copy.
    """
    if type(data) is np.ndarray and dtype is None and device is None and not requires_grad \
            and data.dtype.kind in "fbiu":
        # A batch of a training loop, once per step: the fields, no checks left to make (an
        # array keeps its dtype), and the copy unless no one else can ever see the array.
        count = getrefcount(data)  # read first: pushing data as an argument counts too
        t = _new(Tensor)
        _fill_leaf(t, data if _sole_owner(data, count) else data.copy())
        return t
    if device is not None:
        from chainrule.device import device as _device

        _device(device)  # refuses anything but the CPU
    if isinstance(data, Tensor):
        data = data.data
    elif dtype is None and isinstance(data, (int, list, tuple, np.integer)) \
            and not isinstance(data, bool) and np.asarray(data).dtype.kind in "iu":
        dtype = np.int64  # Python integers make an int64 tensor, as in torch
    t = Tensor(data, requires_grad=requires_grad, dtype=dtype)
    if isinstance(data, np.ndarray) and np.shares_memory(t.data, data):
        t.data = t.data.copy()
    return t


def _refcount_tells_sole_owner() -> bool:
    # CPython 3.11 to 3.13 move a call's arguments from the caller's stack into the callee's
    # frame, so a temporary (``tensor(X[idx])``) is referenced by this frame alone, while a
    # name, a list item or a C caller holds one more reference. 3.14 may pass a name's
    # reference borrowed (so the count would lie), older versions keep one on the caller's
    # stack, and a free-threaded build counts differently: all of those always copy.
    free_threaded = not getattr(sys, "_is_gil_enabled", lambda: True)()
    return (sys.implementation.name == "cpython" and (3, 11) <= sys.version_info[:2] < (3, 14)
            and not free_threaded)


_SOLE_OWNER_COUNT = 2 if _refcount_tells_sole_owner() else -1  # this frame + getrefcount's


def _sole_owner(data: np.ndarray, count: int) -> bool:
    """Whether ``data`` is a temporary no one else can reach (``tensor(X[idx])``), so taking
    it is the same as copying it: it owns its memory (no view, no buffer exported: those
    hold a reference), and the only reference is the caller's argument (``count``, read
    by ``sys.getrefcount`` in the caller's frame). NumPy elides temporaries by the same
    rule (``a + b + c`` writes into ``a + b``)."""
    return count == _SOLE_OWNER_COUNT and data.base is None and data.flags.owndata \
        and data.flags.writeable and data.flags.c_contiguous


# ---------------------------------------------------------------------- building nodes


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    elif getattr(type(data), "_is_node", False):
        raise OperandError(_("tensor: cannot make a Tensor from a Value; use value.data"))
    if dtype is not None:
        try:
            return np.asarray(data, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise OperandError(_("tensor: cannot convert {kind} to {dtype}: {reason}").format(
                kind=type(data).__name__, dtype=dtype, reason=exc)) from None
    if isinstance(data, np.ndarray) and data.dtype.kind in "fbiu":
        # An array keeps its dtype (integer class labels stay integers); a subclass (a
        # gradient's .data) is seen as the plain array it views.
        return data if type(data) is np.ndarray else data.view(np.ndarray)
    if isinstance(data, (bool, np.bool_)) or _all_bools(data):
        return np.asarray(data, dtype=np.bool_)
    try:
        array = np.asarray(data, dtype=_Default.dtype)
    except (TypeError, ValueError):
        raise OperandError(_(
            "tensor: expected numbers or nested lists of numbers, got {kind} {value}"
        ).format(kind=type(data).__name__, value=f"{data!r:.60}")) from None
    return array


def _all_bools(data: Any) -> bool:
    # [True, False] (and nested lists of them) is a mask, as in torch, not the numbers 1 and 0.
    while isinstance(data, (list, tuple)) and data:
        if not all(type(x) is type(data[0]) for x in data):
            return False
        data = data[0]
    return isinstance(data, (bool, np.bool_))


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _lift(other: Any, like: Tensor, opname: str) -> Tensor:
    """A constant operand as a leaf tensor in ``like``'s dtype; anything else is refused."""
    if isinstance(other, Tensor):
        return other
    if isinstance(other, (int, float, np.integer, np.floating)) and not isinstance(other, bool):
        kind = like.data.dtype
        if kind.kind != "f" and isinstance(other, (float, np.floating)):
            kind = _Default.dtype  # int tensor ⊗ 0.5 computes in floats, as torch
        return _constant(np.asarray(other, dtype=kind))
    if isinstance(other, np.ndarray) and other.dtype.kind in "biuf":
        kind = like.data.dtype if other.dtype.kind != "f" else other.dtype
        return _constant(other.astype(kind, copy=False))
    if getattr(type(other), "_is_node", False):
        raise OperandError(_(
            "{op}: cannot combine a Tensor (array engine) with a Value (scalar engine); "
            "use chainrule.tensor for both, or pass value.data"
        ).format(op=opname))
    if isinstance(other, (list, tuple)):
        return _constant(_to_array(other, like.data.dtype))
    raise OperandError(_(
        "{op}: unsupported operand {kind} {value}; expected a number, an array or a Tensor"
    ).format(op=opname, kind=type(other).__name__, value=f"{other!r:.40}"))


def _store_grads(pairs: Iterable[tuple[Any, Any]], seed: Any) -> None:
    """Add each ``(node, g)`` gradient into ``node._grad``: what ``backward()`` and a compiled
    plan's backward both end with. Several nodes may have received the very same array (add
    hands it on as is), a view or the seed itself; each must own its ``.grad``. One C-level
    pass tells whether any array is shared at all."""
    pairs = list(pairs)
    shared = len({id(g) for _, g in pairs}) < len(pairs)
    assigned: set[int] = set()
    for node, g in pairs:
        if type(g) is not np.ndarray:  # a 0-d result of NumPy arithmetic is a scalar
            g = np.asarray(g)
        if node._grad is None:
            # (g.base is not None: a view; cheaper to ask than g.flags.owndata)
            if g.base is not None or g is seed or (shared and id(g) in assigned):
                g = g.copy()
            if shared:
                assigned.add(id(g))
            node._grad = g
        else:
            node._grad = node._grad + g


# A cache entry that matches no gradient (an array is never None).
_NO_GRAD_TENSOR: tuple[Any, Any] = (None, None)


def _assigned_grad(t: Tensor, value: Any) -> np.ndarray:
    """The array ``t.grad = value`` stores: ``value``'s own (shared, as torch keeps the assigned
    tensor), refused unless it has ``t``'s shape and dtype (torch's rule)."""
    if isinstance(value, Tensor):
        array = value.numpy()
    elif isinstance(value, np.ndarray):
        array = value if type(value) is np.ndarray else value.view(np.ndarray)
    else:
        raise OperandError(_("grad: assign a Tensor, an array or None, got {kind}").format(
            kind=type(value).__name__))
    if array.shape != t.data.shape:
        raise ShapeError(_("grad: the assigned gradient has shape {shape}, but the tensor has "
                           "shape {target}").format(shape=array.shape, target=t.data.shape))
    if array.dtype != t.data.dtype:
        raise OperandError(_("grad: the assigned gradient is {dtype}, but the tensor is "
                             "{target}; convert it first (.to({target}))").format(
            dtype=array.dtype, target=t.data.dtype))
    return array


def _constant(array: np.ndarray) -> Tensor:
    t = _new(Tensor)
    _fill_leaf(t, array)
    return t


def _fill_leaf(t: Tensor, array: np.ndarray) -> None:
    """Set every field of a leaf that needs no gradient, skipping ``Tensor.__init__``'s checks
    (``array`` is already an array of the right dtype). Also used by ``chainrule.compile``'s
    result, a Tensor subclass, so the list of fields lives in one place."""
    t.data = array
    t._grad = None
    t.requires_grad = False
    t.op = None
    t._a = t._b = None
    t.ctx = ()
    t.label = ""
    t._retain = False
    t._version = 0
    t._made = _CLOCK.now
    t._g = None
    t._n = 0


_new = object.__new__


class _Clock:
    """Ticks once per in-place modification; 0 while no tensor has ever been modified (then a
    backward pass skips the version check altogether)."""

    now = 0


_CLOCK = _Clock()


def _node(data: np.ndarray, op: Op, a: Tensor, b: Tensor | None, ctx: tuple[Any, ...]) -> Tensor:
    t = _new(Tensor)
    t.data = data if type(data) is np.ndarray else np.asarray(data)
    t._grad = None
    t.ctx = ctx
    t.label = ""
    t._retain = False
    t._version = 0
    t._made = _CLOCK.now
    t._g = None
    t._n = 0
    if _GradMode.enabled and (a.requires_grad or (b is not None and b.requires_grad)
                              or (a in _GradMode.traced or b in _GradMode.traced)):
        t.requires_grad = True
        t.op = op
        t._a = a
        t._b = b
    else:
        t.requires_grad = False
        t.op = None if _GradMode.enabled else NO_GRAD
        t._a = t._b = None
    return t


_plain_node = _node  # anomaly mode swaps _node for a checking one while it is on


def anomaly_mode() -> bool:
    """Whether anomaly mode is on (its checking constructor is in place)."""
    return _node is not _plain_node


def _fold_scale(loss: Tensor, c: Any, divide: bool) -> Tensor | None:
    """``loss / c`` (or ``loss · c``) for a fused loss as one node: the same loss with its scale
    multiplied by 1/c (or c), as the training loop's ``loss / len(batch)`` is written.

    A separate ``/ c`` node would cost a constant tensor, a node and a local gradient per step.
    The gradient is the same product (upstream · 1/c · scale), the value the same division.
    ``None`` (not folded) for anything but a finite nonzero Python number or a loss that was
    not reduced; ``loss`` itself is left as it was, so it may still be used elsewhere.
    """
    kind = type(c)
    if (kind is not int and kind is not float) or not c or not math.isfinite(c) \
            or loss.ctx[1] is None or loss._a is None:
        return None
    target, scale, *saved = loss.ctx
    data = loss.data / c if divide else loss.data * c
    factor = 1.0 / c if divide else float(c)
    return _node(data, loss.op, loss._a, None, (target, factor * scale, *saved))  # type: ignore[arg-type]


def _binary(op: Op, a: Tensor, other: Any) -> Tensor:
    b = other if isinstance(other, Tensor) else _lift(other, a, op.name)
    if a.data.dtype is not b.data.dtype:  # (builtin dtypes are singletons: a cheap test)
        a, b = _promote(a, b)
    try:
        data = op.array(a.data, b.data)  # type: ignore[misc]
    except ValueError:
        raise ShapeError(_("{op}: shapes {a} and {b} cannot be broadcast together").format(
            op=op.name, a=a.shape, b=b.shape)) from None
    return _node(data, op, a, b, ())


def _promote(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """torch's promotion where NumPy's differs: an integer or bool tensor meeting a float one
    takes the float's dtype (NumPy makes int64 ⊗ float32 float64)."""
    # A cast node, not a constant: chainrule.compile traces it from the input it reads.
    ka, kb = a.data.dtype.kind, b.data.dtype.kind
    if ka == "f" and kb in "iub":
        return a, _apply(ops.CAST, b, None, (a.data.dtype,))
    if kb == "f" and ka in "iub":
        return _apply(ops.CAST, a, None, (b.data.dtype,)), b
    return a, b


def _apply(op: Op, a: Tensor, b: Tensor | None = None, ctx: tuple[Any, ...] = ()) -> Tensor:
    data = op.array(a.data, *ctx) if b is None else op.array(a.data, b.data, *ctx)  # type: ignore
    if op.saves:  # intermediates the vjp reuses travel at the end of ctx
        data, saved = data
        ctx = (*ctx, saved)
    if type(data) is not np.ndarray:  # a full reduction gives a NumPy scalar
        data = np.asarray(data)
    return _node(data, op, a, b, ctx)


def _normalize_axis(axis: Axis, ndim: int, opname: str) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if ndim == 0 and all(ax in (0, -1) for ax in axes):
        return ()  # torch lets dim 0 / −1 name the one "axis" of a 0-d tensor
    out = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ShapeError(_("{op}: axis {axis} is out of range for a {ndim}-d tensor").format(
                op=opname, axis=ax, ndim=ndim))
        out.append(int(ax) % ndim)
    return tuple(sorted(set(out)))


def _one_axis(axis: int, ndim: int, opname: str) -> int:
    axes = _normalize_axis(axis, max(ndim, 1), opname)
    assert axes is not None
    return axes[0]


def numpy_call(t: Tensor, name: str, dtype: Any, out: Any) -> Tensor:
    """``t`` in ``dtype`` for a reduction NumPy called (``np.sum(t)`` hands ``dtype`` and
    ``out`` to the method); an ``out=`` array cannot take a tensor's result."""
    if out is not None:
        raise OperandError(_("{name}: out= is not supported for tensors; use the returned "
                             "tensor (or apply NumPy to t.numpy())").format(name=name))
    return t if dtype is None else t.to(dtype)


def _either(numpy_style: Any, torch_style: Any) -> Any:
    return numpy_style if torch_style is None else torch_style


def _reduce(op: Op, a: Tensor, axis: Axis, keepdims: bool) -> Tensor:
    return _apply(op, a, None, (_normalize_axis(axis, a.ndim, op.name), bool(keepdims)))


def _clean_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        if index.data.dtype.kind == "f":
            if index.data.size and not np.all(np.mod(index.data, 1) == 0):
                raise OperandError(_("index: a float tensor with fractional values cannot "
                                     "index; use integers or a boolean mask"))
            return index.data.astype(np.intp)
        return index.data
    if isinstance(index, tuple):
        return tuple(_clean_index(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b``; 1-D operands are promoted to matrices (NumPy's rule) through reshapes."""
    ad, bd = a.data, b.data
    if ad.ndim == 2 and bd.ndim == 2 and ad.shape[1] == bd.shape[0]:
        # The layers' case, taken first: one check instead of the general path's dozen
        # property lookups, which cost as much as a small batch's matmul.
        return _node(blas.matmul(ad, bd), ops.MATMUL, a, b, ())
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(_("matmul: {a} @ {b}: matmul needs at least 1-D operands, use * for "
                           "scalars").format(a=a.shape, b=b.shape))
    inner_a = a.shape[-1]
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        raise ShapeError(_(
            "matmul: {a} @ {b}: inner dimensions {inner_a} and {inner_b} differ"
        ).format(a=a.shape, b=b.shape, inner_a=inner_a, inner_b=inner_b))
    a2 = a.reshape(1, inner_a) if a.ndim == 1 else a
    b2 = b.reshape(inner_b, 1) if b.ndim == 1 else b
    try:
        data = np.matmul(a2.data, b2.data)
    except ValueError:
        raise ShapeError(_(
            "matmul: {a} @ {b}: batch dimensions cannot be broadcast"
        ).format(a=a.shape, b=b.shape)) from None
    out = _node(data, ops.MATMUL, a2, b2, ())
    if a.ndim == 1 and b.ndim == 1:
        return out.reshape(())
    if a.ndim == 1:
        return out.reshape(out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        return out.reshape(out.shape[:-1])
    return out


def matmul_t(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b.T`` for 2-D ``a`` (n, k) and ``b`` (m, k), as one node: a layer's x·Wᵀ with W
    kept as (out, in)."""
    ad, bd = a.data, b.data
    if ad.ndim != 2 or bd.ndim != 2 or ad.shape[1] != bd.shape[1]:
        raise ShapeError(_("matmul_t: {a} @ {b}ᵀ: needs (n, k) and (m, k) operands").format(
            a=a.shape, b=b.shape))
    return _node(blas.matmul(ad, bd.T), ops.MATMUL_T, a, b, ())


def _seed(root: Tensor, grad: Any) -> np.ndarray:
    if grad is None:
        if root.data.size != 1:
            raise GraphError(_(
                "backward: the output has shape {shape}; pass grad= (∂loss/∂output, same "
                "shape) or reduce it to one number first (e.g. .sum())"
            ).format(shape=root.shape))
        shape = root.data.shape
        # np.array is one C call; np.ones (and ones_like) are Python-level.
        return np.array(1.0, dtype=root.data.dtype) if shape == () else \
            np.ones(shape, dtype=root.data.dtype)
    seed = np.asarray(_raw(grad), dtype=root.data.dtype)
    if seed.shape != root.shape:
        raise ShapeError(_("backward: grad has shape {shape} but the output has {output}").format(
            shape=seed.shape, output=root.shape))
    return seed
