"""The `Dataset` type and the three input preprocessings: raw, scale, standardize.

Images are stored as rows of pixels, ``(n, 784)`` for MNIST; labels are integer class indices.
Preprocessing maps pixel values p (0–255, or [0, 1] for Nielsen's pickle) to network inputs x:

- ``raw``:          x = p                        (0–255 floats)
- ``scale``:        x = p / 255                  ([0, 1], as in Nielsen's book)
- ``standardize``:  x = (p/255 − μ) / σ          μ, σ: mean and standard deviation of *all*
  training pixels (one pair of numbers, applied to train and test alike).

Why one global (μ, σ) rather than one per pixel: many MNIST border pixels are zero in almost every
training image, so a per-pixel σ is 0 or tiny and a test digit that touches that pixel would become
an input in the hundreds or thousands. The global pair (≈ 0.1307, 0.3081 on full MNIST) is the
usual normalisation for this data set.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.i18n import _

PREPROCESSING: tuple[str, ...] = ("raw", "scale", "standardize")


class DataError(ChainruleError, ValueError):
    """A data file is missing, corrupt or in an unknown format (the message names the file)."""


@dataclass(frozen=True)
class Dataset:
    """Training and test examples: ``*_x`` is (n, features), ``*_y`` is (n,) integer classes.

    ``pixel_max`` is the value of a white pixel in the stored arrays: 255 for uint8 images,
    1.0 for Nielsen's float pickle. ``valid_x``/``valid_y`` hold a validation split when the
    source has one (Nielsen's 50,000/10,000/10,000 split), else ``None``. ``preprocessing`` is
    ``"stored"`` for arrays as loaded, else the mode `preprocess` applied.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    name: str = ""
    pixel_max: float = 255.0
    valid_x: np.ndarray | None = None
    valid_y: np.ndarray | None = None
    preprocessing: str = "stored"

    def __post_init__(self) -> None:
        pairs = [("train", self.train_x, self.train_y), ("test", self.test_x, self.test_y)]
        if self.valid_x is not None and self.valid_y is not None:
            pairs.append(("valid", self.valid_x, self.valid_y))
        for split, x, y in pairs:
            if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
                raise DataError(
                    _(
                    "{value0}: {split} images {shape} and labels {shape_} do not match (want "
                    "(n, features) and (n,))").format(
                        value0=self.name or _("dataset"),
                        split=split,
                        shape=x.shape,
                        shape_=y.shape,)
                )
        if self.train_x.shape[1] != self.test_x.shape[1]:
            raise DataError(
                _(
                "{value0}: train has {value1} features, test has {value2}").format(
                    value0=self.name or _("dataset"),
                    value1=self.train_x.shape[1],
                    value2=self.test_x.shape[1],)
            )

    @property
    def n_features(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes: one more than the largest label seen (10 for MNIST)."""
        top = max(int(self.train_y.max(initial=0)), int(self.test_y.max(initial=0)))
        return top + 1

    def summary(self) -> dict[str, Any]:
        """Plain-dict description (sizes, value range) for tables and ``--json``."""
        return {
            "name": self.name,
            "train": int(len(self.train_y)),
            "valid": None if self.valid_y is None else int(len(self.valid_y)),
            "test": int(len(self.test_y)),
            "features": self.n_features,
            "classes": self.n_classes,
            "dtype": str(self.train_x.dtype),
            "preprocessing": self.preprocessing,
        }

    def preprocess(self, mode: str = "scale", dtype: Any = np.float64) -> Dataset:
        """Return a copy with float inputs prepared as ``mode`` (see module docstring)."""
        return preprocess(self, mode, dtype)


def preprocess(data: Dataset, mode: str = "scale", dtype: Any = np.float64) -> Dataset:
    """Map stored pixels to network inputs: ``raw`` (0–255), ``scale`` ([0, 1]) or
    ``standardize`` (zero mean, unit variance over the training pixels)."""
    if mode not in PREPROCESSING:
        valid = ", ".join(PREPROCESSING)
        raise DataError(_(
            "unknown preprocessing {mode!r}; choose one of: {valid}").format(
                mode=mode, valid=valid))
    if data.preprocessing != "stored":
        raise DataError(_(
            "{value0} is already preprocessed ({preprocessing})").format(
                value0=data.name or _("dataset"), preprocessing=data.preprocessing))
    splits = {"train_x": data.train_x, "test_x": data.test_x}
    if data.valid_x is not None:
        splits["valid_x"] = data.valid_x
    # Divide (not multiply by a reciprocal) so "scale" of uint8 p is exactly p / 255.
    factor = 255.0 if mode == "raw" else 1.0
    arrays = {
        k: np.asarray(v, dtype=np.float64) * factor / data.pixel_max for k, v in splits.items()
    }
    if mode == "standardize":
        # Statistics from the training split only: test data must not leak into the inputs.
        mean = float(arrays["train_x"].mean())
        std = float(arrays["train_x"].std()) or 1.0
        arrays = {k: (v - mean) / std for k, v in arrays.items()}
    out = {k: v.astype(dtype, copy=False) for k, v in arrays.items()}
    return replace(
        data,
        preprocessing=mode,
        train_x=out["train_x"],
        test_x=out["test_x"],
        valid_x=out.get("valid_x"),
    )
