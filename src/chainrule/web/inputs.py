"""What a request may ask for: the server's limits, its refusals, and readers for JSON fields.

Shared by the server and the services it uses (:mod:`chainrule.web.training`), which is why it
lives apart from both: services never import the server.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from chainrule.i18n import _
from chainrule.i18n import number as i18n_number

__all__ = [
    "ACTIVATIONS", "LOSSES", "PREPROCESSINGS", "ApiError", "Limits",
    "choice", "integer", "number", "real",
]

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
"""Activations offered by the vanishing panel and the training view."""
PREPROCESSINGS = ("raw", "scale", "standardize")
LOSSES = ("quadratic", "bce", "softmax")


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what one request may ask for; exceeding one is a 4xx with a message."""

    max_body: int = 16_384
    """Bytes in a request body (413 beyond)."""
    max_expression: int = 400
    """Characters in an expression."""
    max_terms: int = 150
    """Numbers, variables and operators in an expression (≈ gates)."""
    max_nesting: int = 20
    """Parenthesis depth of an expression."""
    max_variables: int = 24
    max_drawn: int = 80
    """Nodes drawn in the circuit picture (the rest are folded, as in ``circuit --svg``)."""
    max_depth: int = 30
    """Hidden layers in the vanishing panel."""
    max_width: int = 100
    """Units per hidden layer."""
    max_samples: int = 500
    """Examples averaged over for the per-layer gradient norms."""
    max_weight_scale: float = 10.0
    max_train_depth: int = 8
    """Hidden layers of a training run."""
    max_epochs: int = 10
    max_examples: int = 4_000
    """Training examples of a run (the embedded sample has 4,000)."""
    max_train_seconds: float = 300.0
    """A run still going after this long is stopped."""
    max_queue: int = 8
    """Long computations (vanishing, diagnose) running or waiting; more get a 503 "busy"."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ApiError(Exception):
    """A request the API refuses: HTTP ``status``, a message for people, and extra fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def number(value: Any, what: str) -> float:
    """``value`` as a finite float (a JSON number, or text that ``float`` reads)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ApiError(400, _("{what} must be a number").format(what=what))
    try:
        x = float(value)  # a string goes through float(), never through eval
    except (ValueError, OverflowError):
        raise ApiError(400, _("{what}: {value!r} is not a number").format(
            what=what, value=value)) from None
    if not math.isfinite(x):
        raise ApiError(400, _("{what} must be a finite number").format(what=what))
    return x


def integer(body: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    """``body[key]`` (or ``default``) as a whole number in [low, high]."""
    value = body.get(key, default)
    x = number(value, key)
    if not x.is_integer():
        raise ApiError(400, _("{key} must be a whole number, got {value!r}").format(
            key=key, value=value))
    if not low <= x <= high:
        raise ApiError(422, _("{key} must be between {low} and {high}, got {got}").format(
            key=key, low=low, high=high, got=int(x)))
    return int(x)


def real(body: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    """``body[key]`` (or ``default``) as a finite number in [low, high]."""
    x = number(body.get(key, default), key)
    if not low <= x <= high:
        raise ApiError(422, _("{key} must be between {low} and {high}, got {got}").format(
            key=key, low=i18n_number(low, "g"), high=i18n_number(high, "g"),
            got=i18n_number(x, "g")))
    return x


def choice(body: Mapping[str, Any], key: str, default: str, valid: tuple[str, ...]) -> str:
    """``body[key]`` (or ``default``), which must be one of ``valid``."""
    value = body.get(key, default)
    if not isinstance(value, str) or value not in valid:
        raise ApiError(400, _("unknown {key} {value!r}; choose one of: {valid}").format(
            key=key, value=value, valid=", ".join(valid)))
    return value
