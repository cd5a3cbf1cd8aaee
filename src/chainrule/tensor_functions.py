"""torch's tensor functions beyond arithmetic: scans, flips, sorting, splitting, padding,
triangles, diagonals and contractions (``einsum`` and the products written with it).

Each is a catalogue op (``cumsum``, ``flip``, ``sort``, ``pad``, ``einsum``, …) or a composition
of them and of indexing, so no derivative is written here; this module checks the arguments
the way torch does (one-line errors; a dimension out of range is an ``IndexError``) and puts
them in the form the op takes. ``dot``, ``inner``, ``outer``, ``tensordot`` and ``kron`` are
``einsum`` nodes; ``split``, ``chunk``, ``tensor_split`` and ``repeat_interleave`` are indexing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from chainrule import ops
from chainrule.errors import IndexOutOfRangeError, OperandError, ShapeError
from chainrule.i18n import _
from chainrule.tensor import Tensor, _apply, _constant, tensor

__all__ = [
    "SortResult", "argsort", "chunk", "cumprod", "cumsum", "diag", "diagonal", "dot", "einsum",
    "flip", "fliplr", "flipud", "inner", "kron", "outer", "pad", "repeat_interleave", "roll",
    "sort", "split", "tensor_split", "tensordot", "trace", "tril", "triu",
]


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else a new tensor of it (the module functions' argument
    rule, also torch_api's)."""
    return x if isinstance(x, Tensor) else tensor(x)


def _dim(dim: Any, ndim: int, name: str) -> int:
    """``dim`` as an axis in 0..ndim−1; a 0-d tensor takes 0 and −1 (torch's rule)."""
    span = max(ndim, 1)
    if isinstance(dim, Tensor):
        dim = int(dim)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise OperandError(_("{name}: dim must be an integer, got {value}").format(
            name=name, value=repr(dim)))
    if not -span <= dim < span:
        raise IndexOutOfRangeError(_(
            "{name}: dimension out of range (expected to be in range of [{low}, {high}], but "
            "got {dim})").format(name=name, low=-span, high=span - 1, dim=dim))
    return int(dim) % span


def _dims(dims: Any, ndim: int, name: str) -> tuple[int, ...]:
    items = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    axes = tuple(_dim(d, ndim, name) for d in items)
    if len(set(axes)) != len(axes):
        raise ShapeError(_("{name}: dim {dim} appears more than once in {dims}").format(
            name=name, dim=next(d for d in axes if axes.count(d) > 1), dims=list(items)))
    return axes


def _flat_scalar(x: Tensor, fn: Any) -> Tensor:
    """``fn`` on a 0-d tensor seen as one element along dim 0 (torch treats it so)."""
    return fn(x.reshape(1), 0).reshape(())


# ---------------------------------------------------------------------- scans


def cumsum(input: Any, dim: Any = None, *, dtype: Any = None,  # noqa: A002 - torch's names
           axis: Any = None) -> Tensor:
    """Running sums along ``dim``: outₖ = Σ_{i≤k} aᵢ."""
    return _scan(ops.CUMSUM, "cumsum", input, dim, dtype, axis)


def cumprod(input: Any, dim: Any = None, *, dtype: Any = None,  # noqa: A002
            axis: Any = None) -> Tensor:
    """Running products along ``dim``: outₖ = Π_{i≤k} aᵢ (its gradient is right with zeros)."""
    return _scan(ops.CUMPROD, "cumprod", input, dim, dtype, axis)


def _scan(op: ops.Op, name: str, input: Any, dim: Any, dtype: Any,  # noqa: A002
          axis: Any) -> Tensor:
    x = as_tensor(input)
    d = dim if axis is None else axis
    if d is None:
        raise OperandError(_("{name}: give the dimension to accumulate along (dim=)").format(
            name=name))
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "biu":
        x = x.to(np.int64)  # torch accumulates integers and booleans in int64
    axis_ = _dim(d, x.ndim, name)
    if x.ndim == 0:
        return _flat_scalar(x, lambda t, a: _apply(op, t, None, (a,)))
    return _apply(op, x, None, (axis_,))


# ---------------------------------------------------------------------- flips and rolls


def flip(input: Any, dims: Any) -> Tensor:  # noqa: A002
    """The elements in reverse order along each of ``dims``."""
    x = as_tensor(input)
    axes = _dims(dims, x.ndim, "flip")
    if x.ndim == 0 or not axes:
        return _apply(ops.FLIP, x, None, ((),))
    return _apply(ops.FLIP, x, None, (axes,))


def fliplr(input: Any) -> Tensor:  # noqa: A002
    """Columns in reverse order (dim 1); needs at least 2 dimensions."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ShapeError(_("fliplr: input must be at least 2-d, got shape {shape}").format(
            shape=x.shape))
    return flip(x, (1,))


def flipud(input: Any) -> Tensor:  # noqa: A002
    """Rows in reverse order (dim 0); needs at least 1 dimension."""
    x = as_tensor(input)
    if x.ndim < 1:
        raise ShapeError(_("flipud: input must be at least 1-d, got shape {shape}").format(
            shape=x.shape))
    return flip(x, (0,))


def roll(input: Any, shifts: Any, dims: Any = None) -> Tensor:  # noqa: A002
    """Elements shifted cyclically by ``shifts`` along ``dims`` (no dims: over the flattened
    tensor, shape kept)."""
    x = as_tensor(input)
    steps = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if not all(isinstance(s, (int, np.integer)) for s in steps):
        raise OperandError(_("roll: shifts must be integers, got {shifts}").format(
            shifts=repr(shifts)))
    if dims is None:
        if len(steps) != 1:
            raise ShapeError(_("roll: {count} shifts need {count} dims").format(
                count=len(steps)))
        return _apply(ops.ROLL, x, None, (tuple(int(s) for s in steps), None))
    axes = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(axes) != len(steps):
        raise ShapeError(_("roll: {shifts} shifts but {dims} dims; give one shift per dim")
                         .format(shifts=len(steps), dims=len(axes)))
    if x.ndim == 0:  # torch rolls a 0-d tensor only without dims
        raise IndexOutOfRangeError(_("roll: dimension specified as {dim} but the tensor has no "
                                     "dimensions; call roll without dims").format(dim=axes[0]))
    normal = tuple(_dim(d, x.ndim, "roll") for d in axes)
    return _apply(ops.ROLL, x, None, (tuple(int(s) for s in steps), normal))


# ---------------------------------------------------------------------- sorting


class SortResult(NamedTuple):
    """``(values, indices)``, as torch's ``sort`` returns."""

    values: Tensor
    indices: Tensor


def sort(input: Any, dim: int = -1, descending: bool = False,  # noqa: A002
         stable: bool = False) -> SortResult:
    """Values sorted along ``dim`` and the indices they came from. Ties keep their order
    (torch's ``stable=True``; its default may order ties otherwise)."""
    x = as_tensor(input)
    axis = _dim(dim, x.ndim, "sort")
    if x.ndim == 0:
        return SortResult(x * 1, _constant(np.zeros((), dtype=np.int64)))
    values = _apply(ops.SORT, x, None, (axis, bool(descending)))
    indices = values.ctx[-1].astype(np.int64, copy=False)
    return SortResult(values, _constant(indices))


def argsort(input: Any, dim: int = -1, descending: bool = False,  # noqa: A002
            stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (no gradient: they are integers)."""
    return sort(input, dim, descending, stable).indices


# ---------------------------------------------------------------------- splitting


def _cut(x: Tensor, bounds: Sequence[int], axis: int) -> tuple[Tensor, ...]:
    before = (slice(None),) * axis
    edges = [0, *bounds, x.shape[axis]]
    pairs = zip(edges, edges[1:], strict=False)
    return tuple(x[before + (slice(lo, max(lo, hi)),)] for lo, hi in pairs)


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size_or_sections`` elements along ``dim`` (the last may be shorter),
    or of the listed sizes, which must add up to the length."""
    x = as_tensor(tensor)
    if x.ndim == 0:
        raise ShapeError(_("split: a 0-d tensor cannot be split"))
    axis = _dim(dim, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0 and not (size == 0 and n == 0):
            raise ShapeError(_("split: split_size must be positive, got {size}").format(
                size=size))
        bounds = list(range(size, n, size)) if size else []
        return _cut(x, bounds, axis)
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise ShapeError(_("split: sizes {sizes} must be non-negative and add up to {n}, the "
                           "length of dim {dim}").format(sizes=sizes, n=n, dim=dim))
    return _cut(x, list(np.cumsum(sizes[:-1], dtype=int)), axis)


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """At most ``chunks`` pieces of ⌈n/chunks⌉ elements along ``dim`` (torch's rule)."""
    x = as_tensor(input)
    if int(chunks) <= 0:
        raise ShapeError(_("chunk: chunks must be positive, got {chunks}").format(chunks=chunks))
    if x.ndim == 0:
        raise ShapeError(_("chunk: a 0-d tensor cannot be split"))
    n = x.shape[_dim(dim, x.ndim, "chunk")]
    if n == 0:  # torch gives as many empty pieces as were asked for
        return _cut(x, [0] * (int(chunks) - 1), _dim(dim, x.ndim, "chunk"))
    return split(x, max(1, math.ceil(n / int(chunks))), dim)


def tensor_split(input: Any, indices_or_sections: Any,  # noqa: A002
                 dim: int = 0) -> tuple[Tensor, ...]:
    """``sections`` pieces as equal as can be (the first ones one longer), or the pieces
    between the given indices."""
    x = as_tensor(input)
    if x.ndim == 0:
        raise ShapeError(_("tensor_split: a 0-d tensor cannot be split"))
    axis = _dim(dim, x.ndim, "tensor_split")
    n = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ShapeError(_("tensor_split: sections must be positive, got {sections}")
                             .format(sections=sections))
        size, extra = divmod(n, sections)
        lengths = [size + 1] * extra + [size] * (sections - extra)
        return _cut(x, list(np.cumsum(lengths[:-1], dtype=int)), axis)
    bounds = [min(max(int(i) if i >= 0 else int(i) + n, 0), n) for i in indices_or_sections]
    return _cut(x, bounds, axis)


def repeat_interleave(input: Any, repeats: Any, dim: int | None = None) -> Tensor:  # noqa: A002
    """Each element repeated ``repeats`` times along ``dim`` (no dim: the flattened tensor);
    ``repeats`` is a number or one count per element. The gradient adds the copies up."""
    x = as_tensor(input)
    if dim is None:
        x = x.reshape(-1)
        axis = 0
    else:
        axis = _dim(dim, x.ndim, "repeat_interleave")
        if x.ndim == 0:
            x = x.reshape(1)
    counts = np.asarray(repeats.data if isinstance(repeats, Tensor) else repeats)
    n = x.shape[axis]
    if counts.dtype.kind not in "iu" or np.any(counts < 0) or counts.ndim > 1 or (
            counts.ndim == 1 and len(counts) not in (1, n)):
        raise ShapeError(_("repeat_interleave: repeats must be non-negative integers, one or "
                           "one per element ({n}), got {repeats}").format(n=n,
                                                                         repeats=counts.tolist()))
    picks = np.repeat(np.arange(n), counts.reshape(-1) if counts.ndim else int(counts))
    return x[(slice(None),) * axis + (picks,)]


# ---------------------------------------------------------------------- padding


def pad(input: Any, pad: Sequence[int], mode: str = "constant",  # noqa: A002
        value: float | None = None) -> Tensor:
    """``torch.nn.functional.pad``: ``pad`` lists (before, after) amounts starting from the
    LAST dimension ((left, right) of the last, then (top, bottom) of the one before, …);
    negative amounts crop. Only ``mode="constant"`` (filled with ``value``, default 0)."""
    x = as_tensor(input)
    if mode != "constant":
        raise OperandError(_("pad: only mode='constant' is supported, got {mode}").format(
            mode=repr(mode)))
    amounts = [int(p) for p in pad]
    if len(amounts) % 2 or len(amounts) // 2 > x.ndim:
        raise ShapeError(_("pad: the padding length must be even and at most twice the number "
                           "of dimensions ({ndim}), got {count}").format(ndim=x.ndim,
                                                                         count=len(amounts)))
    widths = [(0, 0)] * x.ndim
    for k in range(len(amounts) // 2):
        widths[x.ndim - 1 - k] = (amounts[2 * k], amounts[2 * k + 1])
    if any(lo < 0 or hi < 0 for lo, hi in widths):  # crop first (an indexing node)
        for axis, (lo, hi) in enumerate(widths):
            if x.shape[axis] + min(lo, 0) + min(hi, 0) < 0:
                raise ShapeError(_("pad: cropping {lo} and {hi} from dim {dim} of size {n} "
                                   "leaves nothing").format(lo=-min(lo, 0), hi=-min(hi, 0),
                                                            dim=axis, n=x.shape[axis]))
        x = x[tuple(slice(-min(lo, 0), n + min(hi, 0))
                    for (lo, hi), n in zip(widths, x.shape, strict=True))]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    fill = 0.0 if value is None else float(value)
    return _apply(ops.PAD, x, None, (tuple(widths), fill))


# ---------------------------------------------------------------------- triangles, diagonals


def _matrix(x: Tensor, name: str) -> None:
    if x.ndim < 2:
        raise ShapeError(_("{name}: input must be at least 2-d, got shape {shape}").format(
            name=name, shape=x.shape))


def tril(input: Any, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle (on and below ``diagonal``) of the last two dims; zeros above."""
    x = as_tensor(input)
    _matrix(x, "tril")
    return _apply(ops.TRIL, x, None, (int(diagonal),))


def triu(input: Any, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle (on and above ``diagonal``) of the last two dims; zeros below."""
    x = as_tensor(input)
    _matrix(x, "triu")
    return _apply(ops.TRIU, x, None, (int(diagonal),))


def diag(input: Any, diagonal: int = 0) -> Tensor:  # noqa: A002
    """``torch.diag``: a vector → the square matrix with it on ``diagonal``; a matrix → its
    ``diagonal`` as a vector."""
    x = as_tensor(input)
    if x.ndim == 1:
        return _apply(ops.DIAG, x, None, (int(diagonal),))
    if x.ndim == 2:
        return _apply(ops.DIAGONAL, x, None, (int(diagonal), 0, 1))
    raise ShapeError(_("diag: input must be 1-d or 2-d, got shape {shape}").format(
        shape=x.shape))


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The diagonal ``offset`` of the matrices in dims ``dim1`` and ``dim2``, as a last dim."""
    x = as_tensor(input)
    _matrix(x, "diagonal")
    d1, d2 = _dim(dim1, x.ndim, "diagonal"), _dim(dim2, x.ndim, "diagonal")
    if d1 == d2:
        raise ShapeError(_("diagonal: dim1 and dim2 cannot be the same dimension ({dim})")
                         .format(dim=dim1))
    return _apply(ops.DIAGONAL, x, None, (int(offset), d1, d2))


def trace(input: Any) -> Tensor:  # noqa: A002
    """The sum of the main diagonal of a matrix."""
    x = as_tensor(input)
    if x.ndim != 2:
        raise ShapeError(_("trace: expected a matrix, got shape {shape}").format(shape=x.shape))
    return _apply(ops.TRACE, x)


# ---------------------------------------------------------------------- einsum and products

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum(equation: str, *operands: Any) -> Tensor:
    """``torch.einsum``: the sum of products the subscripts name ("ij,jk->ik" is a matrix
    product, "ii->" a trace, "...i,...i->..." a batched dot product; without "->" the output
    is the letters used once, in alphabetical order). Operands may also come as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    items = [as_tensor(x) for x in operands]
    if not items:
        raise ShapeError(_("einsum: expected at least one operand"))
    subs, result = _parse(equation, [x.ndim for x in items])
    sizes: dict[str, int] = {}
    for k, (s, x) in enumerate(zip(subs, items, strict=True)):
        for letter, n in zip(s, x.shape, strict=True):
            # A size-1 dimension broadcasts against the others (torch's rule and NumPy's); the
            # traversal sums its gradient back to size 1.
            m = sizes.setdefault(letter, n)
            if m != n and 1 not in (m, n):
                raise ShapeError(_("einsum: subscript {letter} has size {n} for operand {k} but "
                                   "{m} before").format(letter=letter, n=n, k=k,
                                                        m=sizes[letter]))
            sizes[letter] = max(m, n)
    items = _same_dtype(items, "einsum")
    if len(items) <= 2:
        return _einsum_node(subs, result, items)
    # Left to right, two operands at a time; each step keeps the letters still needed.
    acc, acc_subs = items[0], subs[0]
    for k in range(1, len(items)):
        later = result + "".join(subs[k + 1:])
        keep = "".join(c for c in dict.fromkeys(acc_subs + subs[k]) if c in later)
        acc = _einsum_node([acc_subs, subs[k]], keep if k < len(items) - 1 else result,
                           [acc, items[k]])
        acc_subs = keep
    return acc


def _einsum_node(subs: list[str], result: str, items: list[Tensor]) -> Tensor:
    spec = ",".join(subs) + "->" + result
    if len(items) == 1:
        return _apply(ops.EINSUM, items[0], None, (spec,))
    return _apply(ops.EINSUM, items[0], items[1], (spec,))


def _parse(equation: Any, ndims: list[int]) -> tuple[list[str], str]:
    """Explicit subscripts: "..." spelled out in letters of its own, the output written."""
    if not isinstance(equation, str):
        raise OperandError(_("einsum: the equation must be a string, got {kind}").format(
            kind=type(equation).__name__))
    text = equation.replace(" ", "")
    inputs, arrow, result = text.partition("->")
    subs = inputs.split(",")
    if len(subs) != len(ndims):
        raise ShapeError(_("einsum: the equation has {terms} operands' subscripts but {count} "
                           "operands were given").format(terms=len(subs), count=len(ndims)))
    plain = text.replace("...", "").replace(",", "").replace("->", "")
    bad = [c for c in plain if c not in _LETTERS]
    if bad:
        raise ShapeError(_("einsum: subscripts must be letters, got {char}").format(
            char=repr(bad[0])))
    spare = iter(c for c in _LETTERS if c not in plain)
    width = max((n - len(s.replace("...", ""))
                 for s, n in zip(subs, ndims, strict=True) if "..." in s),
                default=0)
    ellipsis = "".join(next(spare) for _k in range(max(width, 0)))
    out = []
    for s, n in zip(subs, ndims, strict=True):
        own = len(s.replace("...", ""))
        if "..." in s:
            if own > n:
                raise ShapeError(_("einsum: subscripts {subs} name more dimensions than the "
                                   "operand's {ndim}").format(subs=s, ndim=n))
            s = s.replace("...", ellipsis[len(ellipsis) - (n - own):])
        elif own != n:
            raise ShapeError(_("einsum: subscripts {subs} name {count} dimensions but the "
                               "operand has {ndim}").format(subs=s, count=own, ndim=n))
        out.append(s)
    letters = "".join(out)
    if arrow:
        result = result.replace("...", ellipsis)
    else:
        result = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                           and c not in ellipsis))
    for c in result:
        if c not in letters:
            raise ShapeError(_("einsum: output subscript {letter} appears in no operand")
                             .format(letter=c))
        if result.count(c) > 1:
            raise ShapeError(_("einsum: output subscript {letter} appears more than once")
                             .format(letter=c))
    return out, result


def _same_dtype(items: list[Tensor], name: str) -> list[Tensor]:
    """Integers meeting floats are promoted (as elsewhere); two float dtypes are refused, as
    torch refuses them."""
    kinds = {x.dtype for x in items}
    if len(kinds) == 1:
        return items
    floats = sorted({x.dtype for x in items if x.dtype.kind == "f"}, key=str)
    if len(floats) > 1:
        raise OperandError(_("{name}: operands have dtypes {a} and {b}; convert one first "
                             "(.to({a}))").format(name=name, a=floats[0], b=floats[1]))
    target = floats[0] if floats else np.result_type(*kinds)
    return [x if x.dtype == target else x.to(target) for x in items]


def dot(input: Any, tensor: Any) -> Tensor:  # noqa: A002
    """The dot product of two 1-d tensors of the same length."""
    a, b = as_tensor(input), as_tensor(tensor)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(_("dot: 1-d tensors expected, but got {a}-d and {b}-d tensors").format(
            a=a.ndim, b=b.ndim))
    if a.shape != b.shape:
        raise ShapeError(_("dot: inconsistent tensor size, expected tensors of the same length, "
                           "got {a} and {b}").format(a=a.shape[0], b=b.shape[0]))
    return einsum("i,i->", a, b)


def inner(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Sums over the last dims of both (a 0-d operand multiplies): shape a[:-1] + b[:-1]."""
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(_("inner: the last dimensions differ: {a} and {b}").format(
            a=a.shape, b=b.shape))
    la, lb = _LETTERS[:a.ndim - 1], _LETTERS[a.ndim - 1:a.ndim + b.ndim - 2]
    return einsum(f"{la}z,{lb}z->{la}{lb}", a, b)


def outer(input: Any, vec2: Any) -> Tensor:  # noqa: A002
    """The outer product of two 1-d tensors: out[i, j] = a[i]·b[j]."""
    a, b = as_tensor(input), as_tensor(vec2)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(_("outer: 1-d tensors expected, but got {a}-d and {b}-d tensors")
                         .format(a=a.ndim, b=b.ndim))
    return einsum("i,j->ij", a, b)


def tensordot(a: Any, b: Any, dims: Any = 2) -> Tensor:
    """Contract the last ``dims`` dims of a with the first ``dims`` of b, or the dims listed
    as ``([a's], [b's])``."""
    x, y = as_tensor(a), as_tensor(b)
    if isinstance(dims, (int, np.integer)):
        if not 0 <= dims <= min(x.ndim, y.ndim):
            raise ShapeError(_("tensordot: dims must be between 0 and {most}, got {dims}")
                             .format(most=min(x.ndim, y.ndim), dims=dims))
        da = list(range(x.ndim - int(dims), x.ndim))
        db = list(range(int(dims)))
    else:
        first, second = dims
        da = [_dim(d, x.ndim, "tensordot") for d in ([first] if isinstance(first, int) else first)]
        db = [_dim(d, y.ndim, "tensordot")
              for d in ([second] if isinstance(second, int) else second)]
        if len(da) != len(db):
            raise ShapeError(_("tensordot: both operands need as many contracted dims, got "
                               "{a} and {b}").format(a=len(da), b=len(db)))
    for i, j in zip(da, db, strict=True):
        if x.shape[i] != y.shape[j]:
            raise ShapeError(_("tensordot: contracted dimension {i} of a has size {n} but "
                               "dimension {j} of b has {m}").format(i=i, n=x.shape[i], j=j,
                                                                    m=y.shape[j]))
    sa = list(_LETTERS[:x.ndim])
    sb = list(_LETTERS[x.ndim:x.ndim + y.ndim])
    for i, j in zip(da, db, strict=True):
        sb[j] = sa[i]
    free = [c for k, c in enumerate(sa) if k not in da] + \
        [c for k, c in enumerate(sb) if k not in db]
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(free), x, y)


def kron(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The Kronecker product: every element of a times the whole of b, in blocks."""
    a, b = as_tensor(input), as_tensor(other)
    n = max(a.ndim, b.ndim)
    a = a.reshape((1,) * (n - a.ndim) + a.shape)
    b = b.reshape((1,) * (n - b.ndim) + b.shape)
    sa, sb = _LETTERS[:n], _LETTERS[n:2 * n]
    pairs = "".join(p + q for p, q in zip(sa, sb, strict=True))
    blocks = einsum(f"{sa},{sb}->{pairs}", a, b)
    return blocks.reshape(tuple(p * q for p, q in zip(a.shape, b.shape, strict=True)))
