"""Classroom features without a browser: the training view's defaults, practice exercises,
the terminal quiz and the offline lesson files."""

from __future__ import annotations

import time

import pytest


@pytest.mark.timeout(120)
def test_training_view_defaults_reach_90_percent_within_a_minute() -> None:
    from chainrule.web.server import Limits
    from chainrule.web.training import DEFAULTS, TrainingJobs

    jobs = TrainingJobs(Limits())
    started = time.perf_counter()
    jobs.start({})  # what the page sends when nothing was changed: the defaults
    while jobs.status(10**9)["state"] in ("starting", "running", "stopping"):
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    status = jobs.status(10**9)
    assert status["state"] == "done", status
    assert status["settings"]["lr"] == DEFAULTS["lr"]
    assert len(status["epochs"]) == DEFAULTS["epochs"]
    accuracy = status["epochs"][-1]["test_accuracy"]
    assert accuracy >= 0.90, accuracy
    assert seconds < 60, seconds
