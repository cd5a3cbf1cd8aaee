"""torch's module-level names, so code written for PyTorch runs with ``import chainrule as torch``.

dtypes (``float32`` = ``float``, ``float64`` = ``double``, ``int64`` = ``long``, ``bool``) are
NumPy dtypes; the factories and devices live in :mod:`chainrule.factories` and
:mod:`chainrule.device`; the functions below call the Tensor method of the same name.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.device import accelerator, backends, cuda, device, mps
from chainrule.dtypes import get_default_dtype, set_default_dtype
from chainrule.errors import GraphError, OperandError
from chainrule.factories import (
    arange,
    cat,
    concatenate,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    stack,
    where,
    zeros,
    zeros_like,
)
from chainrule.graph import _GradMode, no_grad
from chainrule.i18n import _
from chainrule.printing import set_printoptions
from chainrule.surface import Size
from chainrule.tensor import Tensor, tensor
from chainrule.tensor_functions import (
    SortResult,
    argsort,
    as_tensor,
    chunk,
    cumprod,
    cumsum,
    diag,
    diagonal,
    dot,
    einsum,
    flip,
    fliplr,
    flipud,
    inner,
    kron,
    outer,
    pad,
    repeat_interleave,
    roll,
    sort,
    split,
    tensor_split,
    tensordot,
    trace,
    tril,
    triu,
)
from chainrule.value import Value

__all__ = [
    "accelerator", "add", "allclose", "arange", "argmax", "argmin", "backends", "bool", "cat",
    "clamp",
    "clip", "concatenate", "cos", "cuda", "device", "div", "double", "empty", "enable_grad",
    "equal", "eye", "flatten", "float", "float16", "float32", "float64", "from_numpy", "full",
    "full_like", "inference_mode", "int", "int32", "int64", "is_grad_enabled", "isclose",
    "is_tensor",
    "linspace", "log1p", "log_softmax", "long", "manual_seed", "max", "mean", "min", "mm",
    "mps", "mul", "neg", "norm", "numel", "ones", "ones_like", "permute", "pow", "prod",
    "rand", "rand_like", "randint", "randn", "randn_like", "reshape", "load", "save",
    "set_grad_enabled", "sin", "softmax", "softplus", "square", "squeeze", "stack", "std",
    "sub", "sum", "transpose", "unsqueeze", "var", "where", "zeros", "zeros_like",
    "get_default_dtype", "set_default_dtype", "Size", "matmul", "set_printoptions",
    # elementwise math (chainrule.math_methods), for a Tensor or a Value
    "absolute", "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
    "arctanh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "cosh", "deg2rad", "degrees",
    "exp2", "expm1", "fabs", "fix", "floor", "fmax", "fmin", "fmod", "hypot", "log10", "log2",
    "logaddexp", "logaddexp2", "mod", "rad2deg", "radians", "reciprocal", "remainder", "round",
    "rsqrt", "sign", "sinc", "sinh", "tan", "trunc",
]

# torch's scans, flips, sorting, splitting, triangles, diagonals and products
# (chainrule.tensor_functions); pad is torch.nn.functional.pad (also in chainrule.nn.functional).
__all__ += [
    "SortResult", "argsort", "chunk", "cumprod", "cumsum", "diag", "diagonal", "dot", "einsum",
    "flip", "fliplr", "flipud", "inner", "kron", "outer", "pad", "repeat_interleave", "roll",
    "sort", "split", "tensor_split", "tensordot", "trace", "tril", "triu",
]

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
float = float32  # noqa: A001 - torch.float is float32
double = float64
int = int32  # noqa: A001 - torch.int is int32
long = int64
bool = np.dtype(np.bool_)  # noqa: A001


def is_tensor(x: object) -> builtins.bool:
    return isinstance(x, Tensor)


def numel(x: Tensor) -> builtins.int:
    return as_tensor(x).numel()


def sin(x: Any) -> Tensor:
    return as_tensor(x).sin()


def _into(result: Tensor, out: Any, name: str) -> Tensor:
    """torch's ``out=``: the result written into ``out`` (resized if its shape differs)."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise OperandError(_("{name}: out= must be a tensor, got {kind}").format(
            name=name, kind=type(out).__name__))
    if result.requires_grad and is_grad_enabled():
        raise GraphError(_("{name}: out= records no graph, and an input requires grad; write "
                           "y = {name}(...) instead").format(name=name))
    if out.shape != result.shape:
        out.data = np.empty(result.shape, dtype=out.dtype)
    return out.copy_(result)


def add(input: Any, other: Any, *, alpha: builtins.float = 1, out: Any = None  # noqa: A002
        ) -> Tensor:
    """input + alpha·other."""
    return _into(as_tensor(input) + (other if alpha == 1 else other * alpha), out, "add")


def sub(input: Any, other: Any, *, alpha: builtins.float = 1, out: Any = None  # noqa: A002
        ) -> Tensor:
    """input − alpha·other."""
    return _into(as_tensor(input) - (other if alpha == 1 else other * alpha), out, "sub")


def mul(input: Any, other: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    return _into(as_tensor(input) * other, out, "mul")


def div(input: Any, other: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    return _into(as_tensor(input) / other, out, "div")


def matmul(input: Any, other: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    return _into(as_tensor(input) @ other, out, "matmul")


def neg(input: Any) -> Tensor:  # noqa: A002
    return -as_tensor(input)


def cos(x: Any) -> Tensor:
    return as_tensor(x).cos()


def log1p(x: Any) -> Tensor:
    return as_tensor(x).log1p()


def softplus(x: Any) -> Tensor:
    return as_tensor(x).softplus()


def square(x: Any) -> Tensor:
    return as_tensor(x).square()


def pow(x: Any, exponent: Any) -> Tensor:  # noqa: A001 - torch's name
    if not isinstance(x, Tensor) and isinstance(exponent, Tensor):
        return x ** exponent
    return as_tensor(x) ** exponent


def clamp(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    return as_tensor(x).clamp(min, max)


clip = clamp


def sum(x: Any, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:  # noqa: A001
    return as_tensor(x).sum(dim, keepdim)


def mean(x: Any, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    return as_tensor(x).mean(dim, keepdim)


def prod(x: Any, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    return as_tensor(x).prod(dim, keepdim)


def max(x: Any, dim: Any = None, keepdim: builtins.bool = False) -> Any:  # noqa: A001
    return as_tensor(x).max(dim, keepdim)


def min(x: Any, dim: Any = None, keepdim: builtins.bool = False) -> Any:  # noqa: A001
    return as_tensor(x).min(dim, keepdim)


def argmax(x: Any, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    return as_tensor(x).argmax(dim, keepdim)


def argmin(x: Any, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    return as_tensor(x).argmin(dim, keepdim)


def var(x: Any, dim: Any = None, unbiased: builtins.bool = True,
        keepdim: builtins.bool = False) -> Tensor:
    return as_tensor(x).var(dim, unbiased, keepdim)


def std(x: Any, dim: Any = None, unbiased: builtins.bool = True,
        keepdim: builtins.bool = False) -> Tensor:
    return as_tensor(x).std(dim, unbiased, keepdim)


def norm(x: Any, p: Any = 2, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    return as_tensor(x).norm(p, dim, keepdim)


def reshape(x: Any, shape: Any) -> Tensor:
    return as_tensor(x).reshape(shape)


def flatten(x: Any, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
    return as_tensor(x).flatten(start_dim, end_dim)


def unsqueeze(x: Any, dim: builtins.int) -> Tensor:
    return as_tensor(x).unsqueeze(dim)


def squeeze(x: Any, dim: builtins.int | None = None) -> Tensor:
    return as_tensor(x).squeeze(dim)


def transpose(x: Any, dim0: builtins.int, dim1: builtins.int) -> Tensor:
    return as_tensor(x).transpose(dim0, dim1)


def permute(x: Any, dims: Any) -> Tensor:
    return as_tensor(x).permute(dims)


def mm(a: Any, b: Any, *, out: Any = None) -> Tensor:
    return _into(as_tensor(a).mm(b), out, "mm")


def softmax(x: Any, dim: builtins.int) -> Tensor:
    return as_tensor(x).softmax(dim)


def log_softmax(x: Any, dim: builtins.int) -> Tensor:
    return as_tensor(x).log_softmax(dim)


def allclose(input: Any, other: Any, rtol: builtins.float = 1e-05,  # noqa: A002
             atol: builtins.float = 1e-08, equal_nan: builtins.bool = False) -> builtins.bool:
    """Whether |input − other| ≤ atol + rtol·|other| everywhere (broadcast), as torch."""
    return builtins.bool(np.allclose(_values(input), _values(other), rtol=rtol, atol=atol,
                                     equal_nan=equal_nan))


def isclose(input: Any, other: Any, rtol: builtins.float = 1e-05,  # noqa: A002
            atol: builtins.float = 1e-08, equal_nan: builtins.bool = False) -> Tensor:
    """Elementwise ``allclose`` as a bool tensor."""
    return tensor(np.isclose(_values(input), _values(other), rtol=rtol, atol=atol,
                             equal_nan=equal_nan))


def equal(input: Any, other: Any) -> builtins.bool:  # noqa: A002
    """Whether both have the same shape and the same values."""
    return builtins.bool(np.array_equal(_values(input), _values(other)))


def _values(x: Any) -> np.ndarray:
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def is_grad_enabled() -> builtins.bool:
    from chainrule.graph import grad_enabled

    return grad_enabled()


class set_grad_enabled:  # noqa: N801 - torch's name
    """``with set_grad_enabled(mode):`` records a graph inside the block iff ``mode``."""

    def __init__(self, mode: builtins.bool) -> None:
        self._mode = builtins.bool(mode)

    def __enter__(self) -> None:
        _GradMode.saved.append(_GradMode.enabled)
        _GradMode.enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = _GradMode.saved.pop()


class enable_grad(set_grad_enabled):  # noqa: N801 - torch's name
    """Record inside the block, even within ``no_grad()``."""

    def __init__(self) -> None:
        super().__init__(True)


def save(obj: Any, f: Any) -> None:
    """``torch.save`` for what is saved in practice, a state dict (names → tensors or arrays),
    written as a ``.npz`` archive: loading it can never run code, unlike a pickle."""
    from chainrule.errors import OperandError
    from chainrule.nn.checkpoint import atomic_savez

    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise OperandError(_("save: chainrule saves a dict of named tensors or arrays, such as "
                             "model.state_dict() or optimizer.state_dict()"))
    arrays = {k: np.asarray(v.data if isinstance(v, Tensor) else v) for k, v in obj.items()}
    odd = next((k for k, a in arrays.items() if a.dtype.kind == "O"), None)
    if odd is not None:
        raise OperandError(_("save: entry {entry!r} is not a tensor, an array or a number; save "
                             "nested dicts as separate files").format(entry=odd))
    atomic_savez(f, arrays)


def load(f: Any, map_location: Any = None, weights_only: builtins.bool = True) -> dict[str, Any]:
    """Read what ``save`` wrote: a dict of NumPy arrays, ready for ``load_state_dict``."""
    if map_location is not None:
        device(map_location)  # the CPU is the only place to load to
    with np.load(f, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


inference_mode = no_grad  # torch's faster no_grad; here the same switch


# ---------------------------------------------------------------- elementwise math
# torch's functions (and NumPy's spellings) of the gates in chainrule.math_methods: a Value
# gives a Value; a Tensor, a number, a list or an array gives a Tensor, as in torch.


def _unary_math(name: str) -> Callable[..., Any]:
    def apply(input: Any, *, out: Any = None) -> Any:  # noqa: A002 - torch's name
        if isinstance(input, Value):
            return getattr(input, name)()
        return _into(getattr(as_tensor(input), name)(), out, name)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"``input.{name}()``, for a Tensor or a Value."
    return apply


def _binary_math(name: str, op: ops.Op) -> Callable[..., Any]:
    def apply(input: Any, other: Any, *, out: Any = None) -> Any:  # noqa: A002
        if isinstance(input, Value):
            return getattr(input, name)(other)
        if isinstance(other, Value):  # a number op a Value
            return other._gate2(op, input, reflected=True)
        if not isinstance(input, Tensor) and isinstance(other, Tensor):
            return _into(other._gate2(op, input, reflected=True), out, name)
        return _into(getattr(as_tensor(input), name)(other), out, name)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"``input.{name}(other)``, for Tensors, Values and numbers."
    return apply


tan = _unary_math("tan")
sinh = _unary_math("sinh")
cosh = _unary_math("cosh")
asin = arcsin = _unary_math("asin")
acos = arccos = _unary_math("acos")
atan = arctan = _unary_math("atan")
asinh = arcsinh = _unary_math("asinh")
acosh = arccosh = _unary_math("acosh")
atanh = arctanh = _unary_math("atanh")
exp2 = _unary_math("exp2")
expm1 = _unary_math("expm1")
log2 = _unary_math("log2")
log10 = _unary_math("log10")
sign = _unary_math("sign")
floor = _unary_math("floor")
ceil = _unary_math("ceil")
trunc = fix = _unary_math("trunc")
fabs = _unary_math("fabs")
absolute = _unary_math("absolute")
reciprocal = _unary_math("reciprocal")
rsqrt = _unary_math("rsqrt")
deg2rad = radians = _unary_math("deg2rad")
rad2deg = degrees = _unary_math("rad2deg")
sinc = _unary_math("sinc")
remainder = mod = _binary_math("remainder", ops.REMAINDER)
fmod = _binary_math("fmod", ops.FMOD)
atan2 = arctan2 = _binary_math("atan2", ops.ATAN2)
hypot = _binary_math("hypot", ops.HYPOT)
logaddexp = _binary_math("logaddexp", ops.LOGADDEXP)
logaddexp2 = _binary_math("logaddexp2", ops.LOGADDEXP2)
fmax = _binary_math("fmax", ops.FMAX)
fmin = _binary_math("fmin", ops.FMIN)


def round(input: Any, *, decimals: builtins.int = 0, out: Any = None) -> Any:  # noqa: A001, A002
    """Rounded half to even to ``decimals`` places (torch's ``round``), a Tensor or a Value."""
    if isinstance(input, Value):
        return input.round(decimals)
    return _into(as_tensor(input).round(decimals), out, "round")
