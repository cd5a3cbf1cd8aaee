"""In-place modification of tensors (``x += y``, ``add_``, ``t[i] = v``) with torch's rules.

- A leaf that requires grad cannot be modified in place while gradients are recorded: its
  ``.grad`` would then belong to values it no longer holds. Under ``no_grad()`` it can (that is
  how a hand-written optimizer step updates a parameter).
- Otherwise the array is overwritten in place (so every holder of the tensor sees the change)
  and, when a graph is being recorded, the tensor becomes the node ``op(old, other)``, where
  ``old`` is a snapshot of what it was: gradients flow through the modification.
- Every modification stamps the tensor with the in-place clock. A backward pass refuses a node
  whose input was modified after the node used it, when the node's gradient reads that value
  (``mul`` does, ``add`` does not) or when the input has become another node since: the
  gradient would otherwise be computed from values the forward pass never saw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import indexing
from chainrule.errors import GraphError, ShapeError
from chainrule.graph import grad_enabled
from chainrule.i18n import _
from chainrule.ops import NO_GRAD, Op
from chainrule.tensor import _CLOCK, Tensor, _binary, _lift, _new

__all__ = ["check_versions", "inplace", "setitem"]


def inplace(t: Tensor, op: Op, other: Any, name: str) -> Tensor:
    """``t = op(t, other)`` written into ``t`` itself; returns ``t``."""
    _refuse_leaf(t, name)
    b = _lift(other, t, name)
    if grad_enabled() and (t.requires_grad or b.requires_grad):
        new = _binary(op, _snapshot(t), b)
        _write(t, new.data, name)
        _become(t, new)
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            result = _binary(op, _plain(t), b).data
        _write(t, result, name)
    return t


def setitem(t: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value`` (torch's indexing rule, see :mod:`chainrule.indexing`); recorded as
    ``old·keep + scatter(value)`` when a graph is built, so ``old`` gets the gradient outside
    ``index`` and ``value`` the gradient at ``index``."""
    _refuse_leaf(t, "setitem")
    v = _lift(value, t, "setitem")
    plan = indexing.steps(t.data.shape, index, "setitem")
    last = plan[-1]
    outer = indexing.apply_steps(t.data, plan, index, "setitem")
    target_shape = indexing.checked(outer, last, index, t.data.shape, "setitem").shape
    try:
        fits = np.broadcast_shapes(v.shape, target_shape) == target_shape
    except ValueError:
        fits = False
    # Leading axes of length 1 in the value are dropped, as torch's copy_ does.
    extra = v.ndim - len(target_shape)
    if not fits and extra > 0 and all(n == 1 for n in v.shape[:extra]):
        v = v.reshape(v.shape[extra:])
        fits = np.broadcast_shapes(v.shape, target_shape) == target_shape
    if not fits:
        raise ShapeError(_("setitem: a value of shape {shape} does not fit the {selected} "
                           "elements selected").format(
            shape=v.shape, selected=target_shape))
    data = t.data.copy()
    indexing.apply_steps(data, plan, index, "setitem")[last] = v.data
    if grad_enabled() and (t.requires_grad or v.requires_grad):
        keep = np.ones(t.shape, dtype=t.dtype)
        indexing.apply_steps(keep, plan, index, "setitem")[last] = 0
        spread = v.broadcast_to(target_shape) if v.shape != target_shape else v
        for step, shape in reversed(_shapes_before(t.shape, plan)):
            spread = spread.scatter_add(step, shape)
        new = _snapshot(t) * keep + spread
        # The values are the assignment's: where an index repeats, the last write wins (as
        # in torch and NumPy), where scatter would add; the gradients are the same.
        _write(t, data, "setitem")
        _become(t, new)
    else:
        _write(t, data, "setitem")


def _shapes_before(shape: tuple[int, ...], plan: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """Each step of ``plan`` with the shape of the array it indexes."""
    out = []
    probe = np.broadcast_to(np.False_, shape)  # no memory: every element is the one False
    for step in plan:
        out.append((step, probe.shape))
        probe = probe[step]
    return out


def check_versions(root: Tensor) -> None:
    """Raise ``GraphError`` if a node of ``root``'s graph would differentiate values that were
    modified in place after the forward pass used them."""
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        op = node.op
        if node._a is None or op is None or op is NO_GRAD:
            continue
        if node._version > node._made and op.reads_values:
            raise _modified(op, _("its output"))
        for i, x in enumerate(node.inputs):
            if x._made > node._made or (x._version > node._made and op.reads_values):
                raise _modified(op, _("its input {index}").format(index=i + 1))
            if id(x) not in seen:
                seen.add(id(x))
                stack.append(x)


def _modified(op: Op, what: str) -> GraphError:
    return GraphError(_(
        "backward: {what} of {op} was modified in place after {op} used it, so its "
        "gradient cannot be computed; write x = x + y instead of x += y (or add_), or modify "
        ".clone() of the tensor"
    ).format(what=what, op=op.name))


def _refuse_leaf(t: Tensor, name: str) -> None:
    if t.requires_grad and t.op is None and grad_enabled():
        raise GraphError(_(
            "{name}: a leaf tensor that requires grad cannot be modified in place; update it "
            "inside `with chainrule.no_grad():` (as an optimizer step does), or write x = x + y "
            "for a new tensor"
        ).format(name=name))


def _snapshot(t: Tensor) -> Tensor:
    """What ``t`` is now, as a node of its own with a copy of its values (they are about to be
    overwritten)."""
    old = _new(Tensor)
    old.data = t.data.copy()
    old._grad = None
    old.requires_grad = t.requires_grad
    old.op, old._a, old._b, old.ctx = t.op, t._a, t._b, t.ctx
    old.label = t.label
    old._retain = False
    old._version = t._version
    old._made = t._made
    old._g = None
    old._n = 0
    return old


def _plain(t: Tensor) -> Tensor:
    """``t``'s values as a constant, so an unrecorded update builds no history."""
    return Tensor(t.data)


def _write(t: Tensor, values: np.ndarray, name: str) -> None:
    if values.shape != t.data.shape:
        raise ShapeError(_("{name}: the result has shape {shape}, but the tensor modified in place "
                           "has shape {target}; in-place ops cannot change a shape").format(
            name=name, shape=values.shape, target=t.shape))
    try:
        np.copyto(t.data, values, casting="same_kind")
    except TypeError:
        raise ShapeError(_("{name}: a {dtype} result cannot be written into a {target} tensor in "
                           "place").format(name=name, dtype=values.dtype, target=t.dtype)) from None
    except ValueError:  # a read-only array (a broadcast view from expand)
        raise ShapeError(_("{name}: this tensor's memory is shared by broadcasting (expand); "
                           ".clone() it before modifying it in place").format(name=name)) from None
    _CLOCK.now += 1
    t._version = _CLOCK.now


def _become(t: Tensor, new: Tensor) -> None:
    """``t`` takes the place of the node ``new`` in the graph (its array stays ``t``'s own)."""
    t.op, t._a, t._b, t.ctx = new.op, new._a, new._b, new.ctx
    t.requires_grad = new.requires_grad
    t._grad = None
    t._made = _CLOCK.now

