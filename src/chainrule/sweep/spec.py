"""A sweep: a grid of settings, read from a TOML file or given as flags, expanded into cells.

A sweep file names fixed settings at the top level and the axes of the grid under ``[grid]``;
every combination of the axes' values is one cell::

    measure = "norms"          # what each cell measures (see chainrule.sweep.measures)
    samples = 100              # fixed: the same in every cell

    [grid]                     # axes: one cell per combination
    depth = [1, 2, 3, 4, 5]    # hidden layers of `width` units between `inputs` and `outputs`
    activation = ["sigmoid", "tanh", "relu"]
    init = ["nielsen", "xavier", "he"]
    seed = [0, 1, 2]

A cell's parameters are the settings its measure uses, with every default filled in, so that the
results file describes each number completely. Its key is a hash of those parameters as canonical
JSON: the same settings always give the same key, whatever the order of the file or the flags,
which is how a rerun recognises the cells it has already finished.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainrule.errors import ChainruleError
from chainrule.i18n import _, language
from chainrule.sweep.measures import MEASURES


class SweepError(ChainruleError, ValueError):
    """A sweep file or flag is invalid, or a results file cannot be used."""


MAX_CELLS = 10_000
"""Largest grid a sweep may expand to; larger ones are refused before anything is built."""
NAME_PATTERN = re.compile(r"\w[\w.+=@ -]{0,99}")
"""A sweep's name: it becomes a file name, so no folders, no leading dot or dash."""


def _to_int(key: str, value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise SweepError(_(
                "{key} must be an integer, got {value!r:.60}").format(
                    key=key, value=value)) from None
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or (isinstance(value, float) and not math.isfinite(value)) or value != int(value)):
        raise SweepError(_(
            "{key} must be an integer, got {value!r:.60}").format(
                key=key, value=value))
    return int(value)


def _to_float(key: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            raise SweepError(_(
                "{key} must be a number, got {value!r:.60}").format(
                    key=key, value=value)) from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SweepError(_(
            "{key} must be a number, got {value!r:.60}").format(
                key=key, value=value))
    else:
        try:
            out = float(value)
        except OverflowError:
            raise SweepError(_(
                "{key} must be a finite number, got {value!r:.60}").format(
                    key=key, value=value)) from None
    if not math.isfinite(out):
        raise SweepError(_(
            "{key} must be a finite number, got {value!r:.60}").format(
                key=key, value=value))
    return out


def check_name(name: str) -> str:
    """``name`` if it is a plain name (it names the results file), else a `SweepError`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or name.endswith(" "):
        raise SweepError(_(
            "the sweep's name must be a plain name (letters, digits, . _ - + = @ and spaces, "
            "no folders), got {name!r:.60}").format(
                name=name))
    return name


def _to_str(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SweepError(_("{key} must be a name, got {value!r}").format(key=key, value=value))
    return value.strip()


def _to_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise SweepError(_("{key} must be true or false, got {value!r}").format(key=key, value=value))


def _to_sizes(key: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        parts = value.replace(" ", "").split(",")
        if any(not p for p in parts):
            raise SweepError(_(
                "{key} {value!r} has an empty layer; give sizes like 784,30,10").format(
                    key=key, value=value))
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise SweepError(_(
            "{key} must be layer sizes like [784, 30, 10], got {value!r}").format(
                key=key, value=value))
    if len(parts) > 1001:
        raise SweepError(_(
            "{key}: {value0:,} layers; at most 1,000 hidden layers").format(
                key=key, value0=len(parts)))
    sizes = tuple(_to_int(key, p) for p in parts)
    if len(sizes) >= 3 and max(sizes) > 100_000:
        raise SweepError(_(
            "{key}: layers of at most 100,000 units, got {value0:,}").format(
                key=key, value0=max(sizes)))
    if len(sizes) < 3 or min(sizes) < 1:
        raise SweepError(
            _(
            "{key} needs inputs, at least one hidden layer and outputs, all positive (like "
            "[784, 30, 10]), got {value!r}").format(
                key=key, value=value)
        )
    return sizes


@dataclass(frozen=True)
class Setting:
    """One key a sweep may set: how to read a value, its default and what it means."""

    convert: Callable[[str, Any], Any]
    default: Any
    help: str
    at_least: float | None = None
    choices: Callable[[], Sequence[str]] | None = None
    at_most: float | None = None


def _activations() -> Sequence[str]:
    from chainrule.nn import ACTIVATIONS

    return [a for a in ACTIVATIONS if a != "linear"]


def _inits() -> Sequence[str]:
    from chainrule.nn import INITS

    return INITS


def _preprocessing() -> Sequence[str]:
    from chainrule.data.dataset import PREPROCESSING

    return PREPROCESSING


def _losses() -> Sequence[str]:
    from chainrule.nn.training import LOSSES

    return list(LOSSES)


SETTINGS: dict[str, Setting] = {
    "measure": Setting(_to_str, "norms", "what each cell measures", choices=lambda: list(MEASURES)),
    "sizes": Setting(_to_sizes, None, "layer sizes, e.g. [784, 30, 30, 10] (instead of depth)"),
    "depth": Setting(_to_int, 1, "number of hidden layers", at_least=1, at_most=1000),
    "width": Setting(_to_int, 30, "units per hidden layer", at_least=1, at_most=100_000),
    "inputs": Setting(_to_int, 784, "input units (784 for MNIST)", at_least=1, at_most=100_000),
    "outputs": Setting(_to_int, 10, "output units (10 for MNIST)", at_least=1, at_most=100_000),
    "activation": Setting(_to_str, "sigmoid", "hidden-layer activation", choices=_activations),
    "init": Setting(_to_str, "nielsen", "weight initialisation scheme", choices=_inits),
    "weight_scale": Setting(_to_float, 1.0, "factor applied to the initial weights",
                            at_least=0, at_most=1e6),
    "preprocess": Setting(_to_str, "scale", "input preprocessing", choices=_preprocessing),
    "lr": Setting(_to_float, 3.0, "learning rate (speed: 0.1)", at_least=0,
                  at_most=1e6),
    "lmbda": Setting(_to_float, 5.0, "speed: L2 regularisation λ (network2)",
                     at_least=0, at_most=1e6),
    "seed": Setting(_to_int, 0, "random seed of the cell (weights, data order)",
                    at_least=0, at_most=2**32 - 1),
    "samples": Setting(_to_int, 100, "examples the gradients are measured on (speed: 1000)",
                       1, at_most=1_000_000),
    "epochs": Setting(_to_int, 1, "epochs of training (speed: 30)", at_least=0,
                      at_most=100_000),
    "batch": Setting(_to_int, 10, "mini-batch size (speed: 0, all examples at once)", 0,
                     at_most=10_000_000),
    "limit": Setting(_to_int, 1000, "train on the first LIMIT examples", at_least=1,
                     at_most=10_000_000),
    "loss": Setting(_to_str, "quadratic", "training cost", choices=_losses),
    "data": Setting(_to_str, "sample", "data set: sample, mnist or a path"),
    "fail": Setting(_to_bool, False, "toy measure: raise an error in this cell"),
    "sleep": Setting(_to_float, 0.0, "toy measure: seconds to wait", at_least=0,
                     at_most=86_400),
}

# Settings that only serve to build `sizes`.
SHAPE_KEYS = ("depth", "width", "inputs", "outputs")
# Top-level keys that describe the sweep rather than set a parameter.
META_KEYS = ("name", "description")


def convert(key: str, value: Any) -> Any:
    """A setting's value in canonical form (ints, floats, names, sizes tuple); checked."""
    setting = SETTINGS.get(key)
    if setting is None:
        raise SweepError(_(
            "unknown sweep setting {key!r}; valid: {value0}").format(
                key=key, value0=', '.join(SETTINGS)))
    out = setting.convert(key, value)
    if setting.at_least is not None and out < setting.at_least:
        bound = setting.at_least
        raise SweepError(_(
            "{key} must be at least {bound:g}, got {value!r:.60}").format(
                key=key, bound=bound, value=value))
    if setting.at_most is not None and out > setting.at_most:
        raise SweepError(_(
            "{key} must be at most {at_most:g}, got {value!r:.60}").format(
                key=key, at_most=setting.at_most, value=value))
    if setting.choices is not None:
        valid = setting.choices()
        if out not in valid:
            raise SweepError(_(
                "unknown {key} {out!r}; choose one of: {value0}").format(
                    key=key, out=out, value0=', '.join(valid)))
    return out


def cell_key(params: Mapping[str, Any]) -> str:
    """16 hex digits of SHA-256 over the parameters as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


@dataclass(frozen=True)
class Cell:
    """One point of the grid: the full parameters of one measurement and their key."""

    key: str
    params: dict[str, Any]


@dataclass(frozen=True)
class SweepSpec:
    """Fixed settings plus axes (name → values, in the order given); `cells` expands them."""

    fixed: dict[str, Any] = field(default_factory=dict)
    axes: dict[str, list[Any]] = field(default_factory=dict)
    name: str = "sweep"
    description: str = ""

    def __post_init__(self) -> None:
        check_name(self.name)
        for key, values in self.axes.items():
            if not values:
                raise SweepError(_("axis {key!r} has no values").format(key=key))
        size = math.prod(len(v) for v in self.axes.values())
        if size > MAX_CELLS:
            raise SweepError(_(
                "the grid has {size:,} cells; the limit is {MAX_CELLS:,} (split it into "
                "several sweeps)").format(
                    size=size, MAX_CELLS=MAX_CELLS))
        keys = set(self.fixed) | set(self.axes)
        both = set(self.fixed) & set(self.axes)
        if both:
            raise SweepError(_(
                "{value0} is both fixed and an axis").format(
                    value0=', '.join(sorted(both))))
        if "sizes" in keys and keys & {"depth", "width"}:
            raise SweepError(_("give either sizes or depth/width, not both"))

    @property
    def measures(self) -> list[str]:
        if "measure" in self.axes:
            return list(self.axes["measure"])
        return [self.fixed.get("measure", SETTINGS["measure"].default)]

    def check(self) -> None:
        """Every key set must be used by at least one measure of the sweep (catches typos)."""
        used: set[str] = set()
        for m in self.measures:
            used.update(MEASURES[m].params)
        for key in [*self.fixed, *self.axes]:
            needed = "sizes" if key in SHAPE_KEYS else key
            if key != "measure" and needed not in used:
                names = ", ".join(self.measures)
                raise SweepError(_(
                    "{key} does not affect measure {names}; it uses: {used}").format(
                        key=key, names=names,
                        used=", ".join(p for p in SETTINGS if p in used or p in SHAPE_KEYS)))

    def cells(self) -> list[Cell]:
        """Every combination of the axes, as cells; combinations that give the same parameters
        (an axis that one of several measures ignores) appear once."""
        self.check()
        names = list(self.axes)
        seen: set[str] = set()
        out: list[Cell] = []
        for combo in itertools.product(*(self.axes[k] for k in names)):
            values = {**self.fixed, **dict(zip(names, combo, strict=True))}
            params = resolve(values)
            key = cell_key(params)
            if key not in seen:
                seen.add(key)
                out.append(Cell(key, params))
        return out

    def with_settings(self, settings: Mapping[str, Sequence[Any]]) -> SweepSpec:
        """A copy in which each key of ``settings`` is replaced: one value fixes it, several
        make it an axis. Setting sizes drops depth/width and the reverse."""
        fixed = dict(self.fixed)
        axes = {k: list(v) for k, v in self.axes.items()}
        for key, values in settings.items():
            drop = {key}
            if key == "sizes":
                drop |= {"depth", "width"}
            elif key in ("depth", "width"):
                drop |= {"sizes"}
            for k in drop:
                fixed.pop(k, None)
                axes.pop(k, None)
            vals = [convert(key, v) for v in values]
            if len(vals) == 1:
                fixed[key] = vals[0]
            else:
                axes[key] = vals
        return SweepSpec(fixed, axes, self.name, self.description)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "fixed": _jsonable(self.fixed),
            "grid": _jsonable(self.axes),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def resolve(values: Mapping[str, Any]) -> dict[str, Any]:
    """The full parameters of the cell that ``values`` (one value per key set) describe."""
    measure = MEASURES[values.get("measure", SETTINGS["measure"].default)]
    merged = {k: s.default for k, s in SETTINGS.items()}
    merged.update(measure.defaults)
    merged.update(values)
    if values.get("sizes") is not None:
        sizes = list(values["sizes"])
    else:
        hidden = [merged["width"]] * merged["depth"]
        sizes = [merged["inputs"], *hidden, merged["outputs"]]
    params: dict[str, Any] = {"measure": measure.name}
    for name in measure.params:
        params[name] = sizes if name == "sizes" else merged[name]
    return params


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 only
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise SweepError(
                _(
                "reading a sweep file on Python 3.10 needs the tomli package: pip install "
                "tomli (or use Python 3.11+, or give the grid as flags)")
            ) from None
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except FileNotFoundError:
        raise SweepError(_("sweep file {path} does not exist").format(path=path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(_("{path}: not valid TOML ({exc})").format(path=path, exc=exc)) from None
    except UnicodeDecodeError:
        raise SweepError(_(
            "{path}: not UTF-8 text (a TOML file must be UTF-8)").format(
                path=path)) from None
    except RecursionError:
        raise SweepError(_("{path}: nested too deeply").format(path=path)) from None
    except OSError as exc:
        raise SweepError(_(
            "cannot read sweep file {path}: {value0}").format(
                path=path, value0=exc.strerror or exc)) from None
    return data


def spec_from_dict(data: Mapping[str, Any], name: str = "sweep") -> SweepSpec:
    """A spec from the structure of a sweep file: top-level settings and a ``[grid]`` table."""
    fixed: dict[str, Any] = {}
    axes: dict[str, list[Any]] = {}
    meta = {"name": name, "description": ""}
    for key, value in data.items():
        if key == "grid":
            if not isinstance(value, dict):
                raise SweepError(_("grid must be a table: [grid] followed by key = [values]"))
            for axis, values in value.items():
                if axis == "sizes":
                    many = isinstance(values, list) and all(
                        isinstance(v, (list, str)) for v in values
                    )
                    raw = values if many else [values]
                else:
                    raw = values if isinstance(values, list) else [values]
                axes[axis] = [convert(axis, v) for v in raw]
        elif key in META_KEYS:
            if not isinstance(value, str):
                raise SweepError(_(
                    "{key} must be text, got {value!r:.60}").format(
                        key=key, value=value))
            meta[key] = value
        elif isinstance(value, dict):
            raise SweepError(_(
                "unknown table [{key}]; a sweep file has settings and [grid]").format(
                    key=key))
        else:
            if isinstance(value, list) and key != "sizes":
                raise SweepError(
                    _(
                    "{key} = {value!r}: a list of values is an axis; put it under [grid]").format(
                        key=key, value=value)
                )
            fixed[key] = convert(key, value)
    return SweepSpec(fixed, axes, meta["name"], meta["description"])


def load_spec(path: str | Path) -> SweepSpec:
    """Read a sweep file (TOML); its name defaults to the file's stem."""
    p = Path(path)
    return spec_from_dict(_read_toml(p), name=p.stem)


_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")


def parse_values(key: str, text: str) -> list[Any]:
    """A flag's text as a list of values: comma-separated, ``a..b`` for a range of integers;
    sizes are separated by ``;`` or ``/`` (e.g. ``784,30,10;784,30,30,10``). In pt-BR a list
    may be separated by ``;`` instead, and its numbers then use the decimal comma
    (``--lr 0,5;1,5``)."""
    if key == "sizes":
        return [convert(key, part) for part in text.replace("/", ";").split(";") if part.strip()]
    decimal_commas = language() == "pt_BR" and ";" in text
    out: list[Any] = []
    for part in (p.strip() for p in text.split(";" if decimal_commas else ",")):
        if not part:
            continue
        if decimal_commas:
            part = _DECIMAL_COMMA.sub(".", part)
        lo, sep, hi = part.partition("..")
        if sep:
            a, b = _to_int(key, lo), _to_int(key, hi)
            if b < a:
                raise SweepError(_("{key}: empty range {part!r}").format(key=key, part=part))
            if b - a + 1 + len(out) > MAX_CELLS:
                raise SweepError(_(
                    "{key}: {part!r} has {value0:,} values; a grid may have at most "
                    "{MAX_CELLS:,} cells").format(
                        key=key, part=part, value0=b - a + 1, MAX_CELLS=MAX_CELLS))
            out.extend(convert(key, v) for v in range(a, b + 1))
        else:
            out.append(convert(key, part))
    if not out:
        raise SweepError(_("{key}: no values in {text!r}").format(key=key, text=text))
    return out
