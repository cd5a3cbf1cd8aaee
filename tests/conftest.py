"""Shared test configuration."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

# CI runs the same examples every time, so a red build is reproducible; locally, explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def client() -> Iterator[Any]:
    """A test client of the web explorer with its default limits (a test module may define
    its own ``client`` with other settings)."""
    # Starlette warns that it prefers the httpx2 package over httpx; httpx is what is installed.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from chainrule.web.server import create_app

    with TestClient(create_app()) as c:
        yield c
