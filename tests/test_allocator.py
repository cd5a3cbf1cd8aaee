"""chainrule.allocator: glibc's malloc thresholds fixed at import, unless the user chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chainrule import allocator


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (AttributeError, OSError, ValueError):
        return False


GLIBC = _glibc()

_PROBE = "import chainrule, chainrule.allocator as a; print(a.is_steady())"


def _fresh(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k not in ("CHAINRULE_MALLOC", "GLIBC_TUNABLES")}
    result = subprocess.run([sys.executable, "-c", _PROBE], env=clean | env, text=True,
                            capture_output=True, check=True)
    return result.stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="glibc's thresholds only exist on glibc")
def test_import_chainrule_fixes_the_thresholds_in_a_fresh_process() -> None:
    assert _fresh({}) == "True"


@pytest.mark.parametrize("env", [
    {"CHAINRULE_MALLOC": "system"},
    {"CHAINRULE_MALLOC": " System "},
    {"MALLOC_TRIM_THRESHOLD_": "131072"},
    {"MALLOC_MMAP_THRESHOLD_": "131072"},
    {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"},
])
def test_a_users_own_malloc_choice_is_left_alone(env: dict[str, str]) -> None:
    assert _fresh(env) == "False"


def test_an_unrelated_tunable_does_not_stop_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                 "MALLOC_MMAP_MAX_", "CHAINRULE_MALLOC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX512F")
    assert allocator.steady_malloc() is GLIBC


def test_elsewhere_than_linux_nothing_is_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.steady_malloc() is False


def test_the_values_are_glibcs_own_ceilings() -> None:
    # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit, and glibc's rule trim = 2 × mmap.
    assert allocator.MMAP_THRESHOLD == 32 * 1024 * 1024
    assert allocator.TRIM_THRESHOLD == 2 * allocator.MMAP_THRESHOLD
