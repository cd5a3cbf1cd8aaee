"""Jupyter shows an engine node as its circuit (rendered by ``chainrule.viz``, loaded lazily)."""

from __future__ import annotations


class CircuitDisplay:
    """Mixin for ``Value`` and ``Tensor``: ``_repr_svg_`` / ``_repr_html_`` draw the graph."""

    __slots__ = ()

    def _repr_svg_(self) -> str | None:
        try:
            from chainrule.viz import repr_svg
        except ImportError:  # viz's renderer is optional at display time
            return None
        result: str | None = repr_svg(self)
        return result

    def _repr_html_(self) -> str | None:
        try:
            from chainrule.viz import repr_html
        except ImportError:
            return None
        result: str | None = repr_html(self)
        return result
