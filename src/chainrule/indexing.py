"""torch's indexing rule, as one or two NumPy indexing steps.

NumPy and torch agree on every index but one kind: an integer together with an advanced index
(a list, an integer array or a bool mask). NumPy counts the integer as advanced too, so in
``x[3, 2:, [1, 3]]`` the integer and the list are "separated by a slice" and their result axis
goes first: shape (2, 3) for x of shape (5, 5, 5). torch applies integers first, as ``select``,
and indexes what is left: ``x[3][2:, [1, 3]]``, shape (3, 2). :func:`steps` returns that
order as NumPy indices; the Tensor engine applies each as a ``getitem`` node of the catalogue,
so the gradient of the composition is the composition of the catalogue's gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.errors import IndexOutOfRangeError, ShapeError
from chainrule.i18n import _

__all__ = ["apply_steps", "checked", "refusal", "show", "steps"]

Step = Any  # a NumPy index: int, slice, None, Ellipsis, ndarray or a tuple of those


def steps(shape: tuple[int, ...], index: Any, opname: str) -> tuple[Step, ...]:
    """The NumPy indices that, applied one after the other, select what torch's
    ``t[index]`` selects from a tensor of ``shape``. Raises ``IndexError`` (an
    ``IndexOutOfRangeError``) for an index torch refuses with one."""
    kind = type(index)
    if kind is int or kind is slice:  # the common cases, as NumPy has them
        return (index,)
    if kind is tuple and all(type(i) is int or type(i) is slice for i in index):
        return (index,)  # basic indexing: NumPy's rule is torch's
    if getattr(kind, "_shaped", False):  # a Tensor: its array
        index = index.data
        kind = np.ndarray
    if kind is np.ndarray and index.ndim and index.dtype.kind in "iu":
        return (index,)  # one integer array: nothing to reorder
    items = tuple(_clean(i, shape, index, opname) for i in
                  (index if kind is tuple else (index,)))
    advanced = any(_advanced(item) for item in items)
    dots = sum(item is Ellipsis for item in items)
    if (advanced and dots) or dots > 1:
        items = _expand_ellipses(items, len(shape), index, shape, opname)
    if advanced:
        _check_masks(items, shape, index, opname)
    if not advanced or not any(type(item) is int for item in items):
        return (items,)
    picked = [i for i, item in enumerate(items) if type(item) is int or _advanced(item)]
    if picked[-1] - picked[0] + 1 == len(picked):
        return (items,)  # side by side, NumPy puts the result where torch does
    # Integers first (a basic index: views, no copy), then the rest on what they left.
    first: list[Step] = []
    rest: list[Step] = []
    for item in items:
        if type(item) is int:
            first.append(item)
        else:
            rest.append(item)
            first.extend([slice(None)] * _consumed(item))
    return (tuple(first), tuple(rest))


def apply_steps(data: np.ndarray, index_steps: tuple[Step, ...], index: Any, opname: str
                ) -> np.ndarray:
    """``data`` indexed by every step but the last, as a view (the first steps are basic
    indices); what the last step selects from it is then ``view[index_steps[-1]]``."""
    view = data
    for step in index_steps[:-1]:  # integers and ":" only; the ... keeps a 0-d result a view
        view = checked(view, (*step, Ellipsis), index, data.shape, opname)
    return view


def checked(data: np.ndarray, step: Step, index: Any, shape: tuple[int, ...], opname: str
            ) -> np.ndarray:
    """``data[step]`` with NumPy's refusal turned into chainrule's one-line error."""
    try:
        return data[step]
    except (IndexError, ValueError) as exc:
        raise refusal(opname, index, shape, exc) from None


def refusal(opname: str, index: Any, shape: tuple[int, ...], exc: Exception) -> ShapeError:
    """The error for NumPy's refusal ``exc`` of ``index``: an ``IndexError`` as torch raises
    (a slice step of zero stays a ``ValueError``, as in torch and NumPy)."""
    if isinstance(exc, IndexError):
        return _refused(opname, index, shape, str(exc))
    return ShapeError(_("{op}: index {index} does not fit shape {shape}: {reason}").format(
        op=opname, index=show(index), shape=shape, reason=exc))


def show(index: Any) -> str:
    if isinstance(index, tuple):
        return "(" + ", ".join(_show_one(i) for i in index) + ")"
    return _show_one(index)


def _show_one(i: Any) -> str:
    if isinstance(i, slice):
        parts = ["" if v is None else str(v) for v in (i.start, i.stop)]
        return ":".join(parts) + ("" if i.step is None else f":{i.step}")
    if i is Ellipsis:
        return "..."
    data = getattr(i, "data", i) if getattr(type(i), "_shaped", False) else i
    if isinstance(data, np.ndarray):
        return _("{dtype} array of shape {shape}").format(dtype=data.dtype, shape=data.shape)
    return f"{i!r:.40}"


def _refused(opname: str, index: Any, shape: tuple[int, ...], reason: str
             ) -> IndexOutOfRangeError:
    return IndexOutOfRangeError(_("{op}: index {index} does not fit shape {shape}: {reason}")
                                .format(op=opname, index=show(index), shape=shape, reason=reason))


def _clean(item: Any, shape: tuple[int, ...], index: Any, opname: str) -> Step:
    """One entry of an index as NumPy takes it, with torch's reading: a 0-d integer tensor or
    array is an integer, a list is an integer (or bool) array, a float index is refused."""
    kind = type(item)
    if kind is int or kind is slice:
        return item
    if getattr(kind, "_shaped", False):  # a Tensor
        item = item.data
    elif isinstance(item, list):
        item = _list_array(item)
    elif isinstance(item, range):  # input[range(n), target], as in torch's tutorials
        item = np.arange(item.start, item.stop, item.step, dtype=np.intp)
    if isinstance(item, np.ndarray):
        if item.dtype.kind in "iu":
            return int(item) if item.ndim == 0 else item
        if item.dtype.kind == "b":
            return item
        raise _refused(opname, index, shape, _(
            "tensors used as indices must be integer or bool, got {dtype}; convert with .long()"
        ).format(dtype=item.dtype))
    if isinstance(item, (bool, np.bool_)):
        return bool(item)
    if isinstance(item, (int, np.integer)):
        return int(item)
    if item is None or item is Ellipsis or isinstance(item, slice):
        return item
    raise _refused(opname, index, shape, _(
        "only integers, slices (:), ellipsis (...), None and integer or bool tensors are valid "
        "indices, got {kind}").format(kind=type(item).__name__))


def _list_array(items: list[Any]) -> np.ndarray:
    if not items:
        return np.zeros(0, dtype=np.intp)  # torch reads [] as an empty integer index
    array = np.asarray([_list_array(i) if isinstance(i, list) else getattr(i, "data", i)
                        if getattr(type(i), "_shaped", False) else i for i in items])
    return array


def _expand_ellipses(items: tuple[Step, ...], ndim: int, index: Any, shape: tuple[int, ...],
                     opname: str) -> tuple[Step, ...]:
    """Each ellipsis written out as the ":"s it stands for, as torch reads it: the axes no
    other entry names. An ellipsis of no axes then no longer separates two advanced indices
    (NumPy's rule would move their axis to the front), and several ellipses, which NumPy
    refuses, each stand for those axes (a second runs past the last axis: harmless when only
    more of them follow)."""
    spread = ndim - sum(_consumed(item) for item in items if item is not Ellipsis)
    if spread < 0:
        raise _refused(opname, index, shape, _("too many indices for a tensor of dimension "
                                               "{ndim}").format(ndim=ndim))
    full = slice(None)
    expanded = [x for item in items for x in ([full] * spread if item is Ellipsis else [item])]
    while expanded and isinstance(expanded[-1], slice) and expanded[-1] == full:
        expanded.pop()  # trailing ":" selects everything anyway
    return tuple(expanded)


def _check_masks(items: tuple[Step, ...], shape: tuple[int, ...], index: Any, opname: str
                 ) -> None:
    """A bool mask must have the shape of the axes it covers (NumPy lets an empty one pass)."""
    dim = 0
    for item in items:
        if isinstance(item, np.ndarray) and item.dtype == np.bool_ and item.ndim:
            covered = shape[dim:dim + item.ndim]
            if item.shape != covered:
                raise _refused(opname, index, shape, _(
                    "a bool mask of shape {mask} does not match the axes {axes} it covers"
                ).format(mask=item.shape, axes=covered))
        dim += _consumed(item)


def _advanced(item: Step) -> bool:
    return isinstance(item, (np.ndarray, bool))


def _consumed(item: Step) -> int:
    """How many axes of the indexed array one index entry uses up."""
    if item is None or type(item) is bool:
        return 0
    if isinstance(item, np.ndarray) and item.dtype == np.bool_:
        return item.ndim
    return 1
