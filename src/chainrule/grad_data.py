"""The ``.data`` of a tensor's ``.grad``: the stored gradient array, with torch's in-place methods.

In torch ``w.grad.data`` is a tensor, so ``w.grad.data.zero_()`` clears the gradient (older
tutorials and hand-written optimizers do exactly that). chainrule's ``.data`` is an ndarray; for a
gradient it is this view of the stored array, which adds the in-place methods and otherwise is
the array: NumPy arithmetic on it gives plain ndarrays, and the engine's own paths never see it
(they keep the plain array).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["GradData"]


class GradData(np.ndarray):
    """A view of a stored gradient with ``zero_``, ``fill_``, ``add_``, ``sub_``, ``mul_``,
    ``div_``, ``clamp_`` and ``copy_`` (each writes into the gradient and returns the view),
    and ``norm(p)``."""

    # Below an exact ndarray's 0: with one as the other operand NumPy keeps its own plain
    # result and never calls the Python __array_wrap__ below (a hand-written update's cost).
    __array_priority__ = -1.0

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Any:
        # Results of arithmetic are plain arrays (or scalars), not more gradient views.
        if return_scalar:
            return array[()]
        return array.view(np.ndarray) if isinstance(array, np.ndarray) else array

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def zero_(self) -> GradData:
        self[...] = 0
        return self

    def fill_(self, value: Any) -> GradData:
        self[...] = np.asarray(value)
        return self

    def copy_(self, src: Any) -> GradData:
        self[...] = np.asarray(src)
        return self

    def add_(self, other: Any, alpha: float = 1.0) -> GradData:
        other = np.asarray(other)
        np.add(self, other if alpha == 1.0 else alpha * other, out=self.view(np.ndarray))
        return self

    def sub_(self, other: Any, alpha: float = 1.0) -> GradData:
        other = np.asarray(other)
        np.subtract(self, other if alpha == 1.0 else alpha * other, out=self.view(np.ndarray))
        return self

    def mul_(self, other: Any) -> GradData:
        np.multiply(self, np.asarray(other), out=self.view(np.ndarray))
        return self

    def div_(self, other: Any) -> GradData:
        np.divide(self, np.asarray(other), out=self.view(np.ndarray))
        return self

    def clamp_(self, min: Any = None, max: Any = None) -> GradData:  # noqa: A002
        # The old DQN tutorial's param.grad.data.clamp_(-1, 1).
        np.clip(self, min, max, out=self.view(np.ndarray))
        return self

    def norm(self, p: float = 2) -> np.floating[Any]:
        """The p-norm of all elements, a NumPy number (``.item()`` gives the float), as in
        ``total += p.grad.data.norm(2).item() ** 2``."""
        return np.linalg.norm(self.view(np.ndarray).ravel(), ord=p)

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray)
