"""The web server against hostile pages and crowds: origin and content-type checks, one training
run under any concurrency, deep JSON, and cheap requests answered while long work runs."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chainrule.web import server as web_server
from chainrule.web.inputs import Limits
from chainrule.web.security import normalize_origin
from chainrule.web.server import create_app
from chainrule.web.worker import Busy, Worker

QUICK = {"depth": 2, "width": 10, "epochs": 1, "examples": 100, "batch": 10}
LONG = {**QUICK, "examples": 4000, "epochs": 10, "batch": 1}


def _client(app: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return TestClient(app, **kwargs)


def _refused(response: Any, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    data = response.json()
    assert data["kind"] == kind
    assert isinstance(data["error"], str) and data["error"]
    return str(data["error"])


def _idle(c: Any) -> bool:
    return bool(c.get("/api/train").json()["state"] == "idle")


def _wait(c: Any, states: tuple[str, ...], seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    s: dict[str, Any] = {}
    while time.monotonic() < deadline:
        s = c.get("/api/train").json()
        if s["state"] in states:
            return s
        time.sleep(0.05)
    raise AssertionError(f"training never reached {states}: {s}")


# ---------------------------------------------------------------- origin


@pytest.mark.parametrize("origin", [
    "http://evil.example", "http://testserver:8080", "https://testserver", "null",
    "http://testserver.evil.example",
])
def test_posts_from_other_origins_are_refused_before_any_work(client: Any, origin: str) -> None:
    message = _refused(client.post("/api/train", json=QUICK, headers={"origin": origin}),
                       403, "origin")
    assert "cross-origin" in message and origin in message
    assert _idle(client)
    _refused(client.post("/api/parse", json={"expression": "x"}, headers={"origin": origin}),
             403, "origin")


def test_the_pages_own_origin_may_post(client: Any) -> None:
    for origin in ("http://testserver", "HTTP://TestServer", "http://testserver:80"):
        r = client.post("/api/parse", json={"expression": "x*y"}, headers={"origin": origin})
        assert r.status_code == 200, r.text
        assert r.json()["variables"] == ["x", "y"]


def test_the_origin_follows_the_host_and_port() -> None:
    with _client(create_app(), base_url="http://127.0.0.1:8000") as c:
        ok = c.post("/api/parse", json={"expression": "x"},
                    headers={"origin": "http://127.0.0.1:8000"})
        assert ok.status_code == 200
        _refused(c.post("/api/parse", json={"expression": "x"},
                        headers={"origin": "http://127.0.0.1:8001"}), 403, "origin")
        _refused(c.post("/api/parse", json={"expression": "x"},
                        headers={"origin": "http://localhost:8000"}), 403, "origin")


def test_cross_site_fetch_metadata_without_origin_is_refused(client: Any) -> None:
    for site in ("cross-site", "same-site"):
        _refused(client.post("/api/train", json=QUICK, headers={"sec-fetch-site": site}),
                 403, "origin")
    assert _idle(client)
    ok = client.post("/api/parse", json={"expression": "x"},
                     headers={"sec-fetch-site": "same-origin"})
    assert ok.status_code == 200


def test_programs_without_origin_may_post(client: Any) -> None:
    assert client.post("/api/parse", json={"expression": "x"}).status_code == 200


def test_trusted_origins() -> None:
    app = create_app(trusted_origins=["https://explorer.example.org"])
    with _client(app) as c:
        r = c.post("/api/parse", json={"expression": "x"},
                   headers={"origin": "https://explorer.example.org:443"})
        assert r.status_code == 200
        _refused(c.post("/api/parse", json={"expression": "x"},
                        headers={"origin": "https://other.example.org"}), 403, "origin")


def test_reads_need_no_origin_check(client: Any) -> None:
    r = client.get("/api/meta", headers={"origin": "http://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers  # no CORS: other pages cannot read


def test_a_cors_preflight_is_never_granted(client: Any) -> None:
    r = client.options("/api/train", headers={
        "origin": "http://evil.example", "access-control-request-method": "POST",
        "access-control-request-headers": "content-type"})
    assert r.status_code >= 400
    assert "access-control-allow-origin" not in r.headers


def test_refusals_carry_the_security_headers(client: Any) -> None:
    r = client.post("/api/train", json=QUICK, headers={"origin": "http://evil.example"})
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-type"] == "application/json"


@pytest.mark.parametrize(("origin", "normal"), [
    ("http://LocalHost:80/", "http://localhost"), ("https://a.example:443", "https://a.example"),
    ("http://[::1]:8000", "http://[::1]:8000"), ("http://[::1]", "http://[::1]"),
    ("null", "null"),
])
def test_normalize_origin(origin: str, normal: str) -> None:
    assert normalize_origin(origin) == normal


# ---------------------------------------------------------------- content type


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/jsonp", "application/json-patch+json",
])
def test_posts_must_declare_json(client: Any, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    message = _refused(client.post("/api/train", content=b'{"depth": 2}', headers=headers),
                       415, "content-type")
    assert "application/json" in message
    assert _idle(client)


def test_json_with_a_charset_is_json(client: Any) -> None:
    r = client.post("/api/parse", content=b'{"expression": "x+y"}',
                    headers={"content-type": "Application/JSON; charset=utf-8"})
    assert r.status_code == 200 and r.json()["variables"] == ["x", "y"]


# ---------------------------------------------------------------- bodies


@pytest.mark.parametrize("body", [
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b'{"expression": "x", "at": ' + b"[" * 4000 + b"]" * 4000 + b"}",
])
def test_deeply_nested_json_is_a_400(client: Any, body: bytes) -> None:
    r = client.post("/api/circuit", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "nested too deeply" in r.json()["error"]


# ---------------------------------------------------------------- one training run


def test_exactly_one_run_starts_under_concurrent_posts(client: Any) -> None:
    n = 24
    gate = threading.Barrier(n)

    def start(_: int) -> int:
        gate.wait()
        return int(client.post("/api/train", json=LONG).status_code)

    with ThreadPoolExecutor(n) as pool:
        codes = list(pool.map(start, range(n)))
    assert sorted(codes) == [202] + [409] * (n - 1)
    runs = [t for t in threading.enumerate() if t.name.startswith("chainrule-train-")]
    assert len(runs) == 1
    status = client.get("/api/train").json()
    assert status["run"] == 1
    client.post("/api/train/stop", json={})
    _wait(client, ("stopped", "done"))


def test_the_service_alone_starts_one_run_under_a_crowd() -> None:
    from chainrule.web.training import Busy as TrainingBusy
    from chainrule.web.training import TrainingJobs

    jobs = TrainingJobs(Limits())
    n = 16
    gate = threading.Barrier(n)

    def start(_: int) -> str:
        gate.wait()
        try:
            jobs.start(LONG)
            return "started"
        except TrainingBusy:
            return "busy"

    try:
        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(start, range(n)))
        assert answers.count("started") == 1
    finally:
        jobs.shutdown()
    assert jobs.status()["run"] == 1


# ---------------------------------------------------------------- the bounded worker


def test_worker_refuses_beyond_its_limit_and_recovers() -> None:
    worker = Worker(2)
    release = threading.Event()
    try:
        first = worker.submit(release.wait, 10)
        second = worker.submit(release.wait, 10)
        with pytest.raises(Busy, match="busy"):
            worker.submit(release.wait, 10)
        assert worker.pending == 2
        release.set()
        assert first.result(10) and second.result(10)
        deadline = time.monotonic() + 5
        while worker.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.pending == 0

        def boom() -> None:
            raise ValueError("bad")

        with pytest.raises(ValueError, match="bad"):
            worker.submit(boom).result(10)
        assert worker.submit(lambda: 7).result(10) == 7
    finally:
        release.set()
        worker.shutdown()


def test_worker_starts_again_after_shutdown() -> None:
    worker = Worker(1)
    assert worker.submit(lambda: 1).result(10) == 1
    worker.shutdown()
    assert worker.submit(lambda: 2).result(10) == 2
    worker.shutdown()


def test_an_app_serves_again_after_its_lifespan_ended() -> None:
    app = create_app()
    for _ in range(2):
        with _client(app) as c:
            r = c.post("/api/vanishing", json={"depth": 2, "width": 5, "samples": 10})
            assert r.status_code == 200 and len(r.json()["norms"]) == 2


def test_worker_needs_room() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Worker(0)


def _burn(seconds: float) -> None:
    """Pure-Python work that holds the interpreter as a long NumPy-free computation would."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1


def test_cheap_requests_answer_while_long_work_runs(monkeypatch: Any) -> None:
    started = threading.Event()

    def slow(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
        started.set()
        _burn(float(body.get("seconds", 3.0)))
        return {"norms": []}

    monkeypatch.setattr(web_server, "vanishing_payload", slow)
    with _client(create_app(Limits(max_queue=2))) as c:
        c.post("/api/train", json=LONG)  # a real training run in its own thread as well
        pool = ThreadPoolExecutor(2)
        long_ones = [pool.submit(c.post, "/api/vanishing", json={"seconds": 3.0})
                     for _ in range(2)]
        assert started.wait(10)
        time.sleep(0.1)
        busy = c.post("/api/vanishing", json={"seconds": 3.0})
        assert busy.status_code == 503, busy.text
        assert busy.json()["kind"] == "busy" and "busy" in busy.json()["error"]
        assert busy.headers["retry-after"] == "1"
        latencies = []
        for _ in range(10):
            t = time.perf_counter()
            r = c.post("/api/parse", json={"expression": "sigmoid(w0*x0 + w1*x1 + w2)"})
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200
            r = c.post("/api/circuit", json={"example": "staged"})
            assert r.status_code == 200 and r.json()["gradients"]
            assert c.get("/api/train").status_code == 200
        assert not all(f.done() for f in long_ones), "the long work ended before the check"
        assert max(latencies) < 1.0, latencies
        assert [f.result(30).status_code for f in long_ones] == [200, 200]
        pool.shutdown()
        c.post("/api/train/stop", json={})
        _wait(c, ("stopped", "done"))


# ---------------------------------------------------------------- layering


def test_services_never_import_the_server() -> None:
    # Importing the package chainrule.web loads the server (it re-exports create_app), so the
    # probe registers an empty package and imports the service modules alone.
    probe = (
        "import importlib.util, sys, pathlib\n"
        "import chainrule\n"
        "web = pathlib.Path(chainrule.__file__).parent / 'web'\n"
        "import types\n"
        "pkg = types.ModuleType('chainrule.web'); pkg.__path__ = [str(web)]\n"
        "sys.modules['chainrule.web'] = pkg\n"
        "for name in ('inputs', 'security', 'worker', 'training'):\n"
        "    importlib.import_module('chainrule.web.' + name)\n"
        "assert 'chainrule.web.server' not in sys.modules, 'a service imported the server'\n"
        "from chainrule.web.training import TrainingJobs\n"
        "from chainrule.web.inputs import Limits\n"
        "TrainingJobs(Limits()).settings({'depth': 2})\n"
        "assert 'chainrule.web.server' not in sys.modules, 'settings imported the server'\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
