"""Shared test configuration."""

from __future__ import annotations

import os

from hypothesis import settings

# CI runs the same examples every time, so a red build is reproducible; locally, explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
