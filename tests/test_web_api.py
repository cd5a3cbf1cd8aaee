"""The web explorer's JSON API, through Starlette's test client: every endpoint, every limit."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from chainrule.web.server import Limits, create_app


def _client_class() -> Any:
    # Starlette warns that it prefers the httpx2 package over httpx; httpx is what is installed.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return TestClient


def _client(app: Any, **kwargs: Any) -> Any:
    return _client_class()(app, **kwargs)


SIMPLE = {"expression": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4}}


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    data = response.json()
    assert isinstance(data["error"], str) and data["error"]
    return data  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the page and its files


def test_index_page_is_served_with_local_assets_only(client: Any) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "chainrule explorer" in r.text
    for asset in ("/static/js/main.js", "/static/style.css", "/static/favicon.svg"):
        assert asset in r.text
        assert client.get(asset).status_code == 200
    assert "http://" not in r.text and "https://" not in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_static_files_have_their_types_and_load_nothing_remote(client: Any) -> None:
    import re

    # Every module the entry point imports, followed transitively: all served, all local.
    seen: set[str] = set()
    todo = ["main.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        js = client.get(f"/static/js/{name}")
        assert js.status_code == 200, name
        assert "javascript" in js.headers["content-type"]
        text = js.text.replace('"http://www.w3.org/2000/svg"', "")
        assert "http://" not in text and "https://" not in text
        assert "eval(" not in text and "new Function" not in text
        todo += re.findall(r'^import [^;]* from "\./([\w-]+\.js)";$', js.text, re.M)
    assert {"main.js", "util.js", "circuit.js", "vanishing.js", "training.js"} <= seen
    css = client.get("/static/style.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "http://" not in css.text and "https://" not in css.text and "@import" not in css.text


def test_unknown_paths_and_methods_answer_json(client: Any) -> None:
    assert _error(client.get("/api/nothing"), 404)["error"] == "no such page or endpoint"
    assert _error(client.get("/api/circuit"), 405)["error"] == "method not allowed"
    assert client.get("/static/missing.js").status_code == 404


# ---------------------------------------------------------------- meta and examples


def test_meta_lists_limits_and_choices(client: Any) -> None:
    data = client.get("/api/meta").json()
    assert data["limits"]["max_depth"] == 30
    assert data["limits"]["max_expression"] == Limits().max_expression
    assert "simple" in data["examples"]
    assert set(data["activations"]) >= {"sigmoid", "relu"}
    assert {"nielsen", "he"} <= set(data["inits"])
    assert data["preprocessings"] == ["raw", "scale", "standardize"]
    assert data["lab"] == {"flow": True, "chain": True, "diagnosis": data["lab"]["diagnosis"]}
    assert client.get("/api/meta").headers["cache-control"] == "no-store"


def test_examples_endpoint_matches_the_library(client: Any) -> None:
    from chainrule.circuit import EXAMPLES

    data = client.get("/api/examples").json()
    assert list(data) == list(EXAMPLES)
    assert data["simple"] == {"expression": "(x + y) * z", "at": {"x": -2.0, "y": 5.0, "z": -4.0},
                              "about": EXAMPLES["simple"].about}


# ---------------------------------------------------------------- parse


def test_parse_gives_variables_in_order(client: Any) -> None:
    r = client.post("/api/parse", json={"expression": "z * (x + y) + x"})
    assert r.json() == {"expression": "z * (x + y) + x", "variables": ["z", "x", "y"]}


@pytest.mark.parametrize(("text", "position"), [("(x+y", 0), ("x ^ 2", 2), ("2x", 1), ("", 0)])
def test_parse_errors_carry_position_and_caret(client: Any, text: str, position: int) -> None:
    data = _error(client.post("/api/parse", json={"expression": text}), 400)
    assert data["kind"] == "parse"
    assert data["position"] == position
    line, mark = data["caret"].split("\n")
    assert mark == " " * position + "^"
    assert line == text


def test_parse_rejects_non_strings(client: Any) -> None:
    assert "string" in _error(client.post("/api/parse", json={"expression": 3}), 400)["error"]
    assert "string" in _error(client.post("/api/parse", json={}), 400)["error"]


def test_nothing_is_evaluated_as_code(client: Any) -> None:
    for text in ("__import__('os').system('true')", "x.__class__", "[x for x in y]",
                 "lambda: 1", "open('/etc/passwd')"):
        data = _error(client.post("/api/parse", json={"expression": text}), 400)
        assert data["kind"] == "parse"
    data = _error(client.post("/api/circuit", json={
        "expression": "x", "at": {"x": "__import__('os').getpid()"}}), 400)
    assert "is not a number" in data["error"]


# ---------------------------------------------------------------- circuit


def test_circuit_simple_numbers(client: Any) -> None:
    data = client.post("/api/circuit", json=SIMPLE).json()
    assert data["output"] == -12.0
    assert data["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert data["variables"] == ["x", "y", "z"]
    assert data["at"] == {"x": -2.0, "y": 5.0, "z": -4.0}
    assert [row["verdict"] for row in data["check"]] == ["good"] * 3
    assert len(data["steps"]) == len(data["edges"]) == 4
    assert data["names"] == ["x", "y", "#2", "z", "#4"]


def test_circuit_answer_is_the_cli_json(client: Any) -> None:
    from chainrule.cli import main

    cli = CliRunner().invoke(
        main, ["circuit", "(x+y)*z", "--at", "x=-2", "y=5", "z=-4", "--json", "--steps",
               "--check"])
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.output)
    data = client.post("/api/circuit", json=SIMPLE).json()
    for key in ("expression", "output", "gradients", "nodes", "edges", "check"):
        assert data[key] == expected[key], key
    # The page's additions to each step: the edge it travels and the formula with numbers.
    page_only = ("edge", "formula")
    assert [{k: v for k, v in s.items() if k not in page_only} for s in data["steps"]] \
        == expected["steps"]


def test_circuit_steps_name_the_edge_they_travel(client: Any) -> None:
    data = client.post("/api/circuit", json={"example": "fanout"}).json()
    edges = data["edges"]
    for s in data["steps"]:
        e = edges[s["edge"]]
        assert (e["target"], e["source"]) == (s["gate"], s["input"])
        assert e["contribution"] == s["contribution"]
    assert data["fanout"][0]["name"] == "x" and data["fanout"][0]["sum"] == -1.0
    assert data["about"].startswith("x is used twice")


def test_circuit_svg_is_the_cli_layout(client: Any, tmp_path: Any) -> None:
    from chainrule.cli import main

    svg_file = tmp_path / "c.svg"
    cli = CliRunner().invoke(main, ["circuit", "(x+y)*z", "--at", "x=-2", "y=5", "z=-4",
                                    "--svg", str(svg_file)])
    assert cli.exit_code == 0, cli.output
    data = client.post("/api/circuit", json=SIMPLE).json()
    assert data["svg"].startswith("<svg")
    assert data["svg"] in svg_file.read_text()
    assert "<title>n4</title>" in data["svg"] and "<title>w3</title>" in data["svg"]
    assert data["svg_error"] is None


def test_circuit_without_a_renderer_still_answers(client: Any, monkeypatch: Any) -> None:
    from chainrule.viz import render

    monkeypatch.setattr(render, "find_renderer", lambda: None)
    data = client.post("/api/circuit", json={"expression": "a*b + 0.125",
                                             "at": {"a": 1, "b": 2}}).json()
    assert data["svg"] is None
    assert "graphviz" in data["svg_error"].lower()
    assert data["output"] == 2.125


def test_circuit_example_values_can_be_overridden(client: Any) -> None:
    data = client.post("/api/circuit", json={"example": "simple", "at": {"z": 2}}).json()
    assert data["output"] == 6.0
    assert data["expression"] == "(x + y) * z"


def test_circuit_unknown_example(client: Any) -> None:
    data = _error(client.post("/api/circuit", json={"example": "nope"}), 404)
    assert "simple" in data["error"]


def test_circuit_parse_error(client: Any) -> None:
    data = _error(client.post("/api/circuit", json={"expression": "x + * y", "at": {}}), 400)
    assert data["kind"] == "parse" and data["position"] == 4


def test_circuit_evaluation_error_points_at_the_gate(client: Any) -> None:
    data = _error(client.post("/api/circuit", json={"expression": "1 + log(x)",
                                                    "at": {"x": -1}}), 400)
    assert data["kind"] == "evaluation"
    assert data["position"] == 4
    assert data["caret"].split("\n")[1] == "    ^"


def test_circuit_binding_errors(client: Any) -> None:
    data = _error(client.post("/api/circuit", json={"expression": "x*y", "at": {"x": 1}}), 400)
    assert data["kind"] == "binding" and "y" in data["error"]
    data = _error(client.post("/api/circuit", json={"expression": "x", "at": {"x": 1, "q": 2}}),
                  400)
    assert "q" in data["error"]


@pytest.mark.parametrize("value", ["abc", "nan", "inf", True, None, [1], 1e400])
def test_circuit_values_must_be_finite_numbers(client: Any, value: Any) -> None:
    body = json.dumps({"expression": "x", "at": {"x": value}}).replace("Infinity", "1e400")
    r = client.post("/api/circuit", content=body, headers={"content-type": "application/json"})
    assert "number" in _error(r, 400)["error"]


def test_circuit_numbers_may_come_as_text(client: Any) -> None:
    data = client.post("/api/circuit", json={"expression": "x*2", "at": {"x": "-1.5"}}).json()
    assert data["output"] == -3.0


def test_circuit_at_must_be_an_object(client: Any) -> None:
    _error(client.post("/api/circuit", json={"expression": "x", "at": [1]}), 400)


# ---------------------------------------------------------------- limits on circuits


def test_expression_length_limit(client: Any) -> None:
    limit = Limits().max_expression
    ok = "x" + " " * (limit - 1)
    assert client.post("/api/parse", json={"expression": ok}).status_code == 200
    data = _error(client.post("/api/parse", json={"expression": ok + " "}), 422)
    assert f"{limit:,}" in data["error"] and data["kind"] == "limit"
    _error(client.post("/api/circuit", json={"expression": ok + " ", "at": {"x": 1}}), 422)


def test_expression_size_and_nesting_limits() -> None:
    with _client(create_app(Limits(max_terms=5, max_nesting=3))) as c:
        data = _error(c.post("/api/parse", json={"expression": "a+b+c+d"}), 400)
        assert "more than 5" in data["error"]
        data = _error(c.post("/api/parse", json={"expression": "((((x))))"}), 400)
        assert "deeper than 3" in data["error"] and data["position"] == 3
        assert c.post("/api/parse", json={"expression": "(((x)))"}).status_code == 200


def test_variable_count_limit() -> None:
    with _client(create_app(Limits(max_variables=2))) as c:
        data = _error(c.post("/api/parse", json={"expression": "a+b+c"}), 422)
        assert "3 variables" in data["error"]
        at = {"a": 1, "b": 2, "c": 3}
        _error(c.post("/api/circuit", json={"expression": "a+b", "at": at}), 422)


def test_drawn_nodes_are_folded_as_in_the_cli() -> None:
    with _client(create_app(Limits(max_drawn=5))) as c:
        data = c.post("/api/circuit", json={"example": "neuron"}).json()
        assert "more nodes" in data["svg"]


def test_request_body_limit(client: Any) -> None:
    big = {"expression": "x", "at": {"x": 1}, "padding": "y" * Limits().max_body}
    data = _error(client.post("/api/circuit", json=big), 413)
    assert "larger than" in data["error"]


def test_request_body_limit_without_content_length(client: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"expression": "x", "pad": "'
        for _ in range(20):
            yield b"z" * 1024
        yield b'"}'

    r = client.post("/api/parse", content=chunks(), headers={"content-type": "application/json"})
    _error(r, 413)


def test_bad_bodies(client: Any) -> None:
    headers = {"content-type": "application/json"}
    assert "not JSON" in _error(client.post("/api/parse", content=b"{", headers=headers),
                                400)["error"]
    assert "object" in _error(client.post("/api/parse", content=b"[1]", headers=headers),
                              400)["error"]
    bad_length = {**headers, "content-length": "lots"}
    _error(client.post("/api/parse", content=b"{}", headers=bad_length), 400)


# ---------------------------------------------------------------- vanishing, chain, diagnose

NET = {"depth": 25, "width": 30, "activation": "sigmoid", "init": "nielsen", "weight_scale": 1,
       "preprocess": "scale"}


def test_vanishing_sigmoid_deep_network_vanishes(client: Any) -> None:
    data = client.post("/api/vanishing", json=NET).json()
    norms = data["norms"]
    assert len(norms) == 25
    assert norms[0] < norms[-1] * 1e-6
    assert data["settings"]["sizes"] == [784, *[30] * 25, 10]


def test_vanishing_relu_he_recovers(client: Any) -> None:
    data = client.post("/api/vanishing", json={**NET, "activation": "relu", "init": "he"}).json()
    norms = data["norms"]
    assert norms[-1] / 100 < norms[0] < norms[-1] * 100


def test_vanishing_is_the_lab_function(client: Any) -> None:
    from chainrule.lab.flow import layer_norms_for

    body = {"depth": 3, "width": 10, "activation": "tanh", "init": "xavier",
            "weight_scale": 0.5, "preprocess": "standardize", "samples": 20, "seed": 3}
    data = client.post("/api/vanishing", json=body).json()
    lab = layer_norms_for([784, 10, 10, 10, 10], "tanh", "xavier", weight_scale=0.5,
                          preprocess="standardize", samples=20, seed=3)
    assert data["norms"] == pytest.approx(lab["norms"], rel=1e-12)


@pytest.mark.parametrize("endpoint", ["/api/vanishing", "/api/chain", "/api/diagnose"])
@pytest.mark.parametrize(("field", "value", "status"), [
    ("depth", 0, 422), ("depth", 31, 422), ("depth", 2.5, 400), ("depth", "many", 400),
    ("weight_scale", 0, 422), ("weight_scale", 11, 422),
    ("activation", "swish", 400), ("init", "zeros", 400),
])
def test_network_limits(client: Any, endpoint: str, field: str, value: Any,
                        status: int) -> None:
    data = _error(client.post(endpoint, json={**NET, "depth": 2, field: value}), status)
    assert field in data["error"]


@pytest.mark.parametrize(("field", "value", "status"), [
    ("width", 0, 422), ("width", 101, 422), ("samples", 501, 422), ("preprocess", "none", 400),
])
def test_network_width_and_sample_limits(client: Any, field: str, value: Any,
                                         status: int) -> None:
    data = _error(client.post("/api/vanishing", json={**NET, "depth": 2, field: value}), status)
    assert field in data["error"]


def test_chain_factors(client: Any) -> None:
    data = client.post("/api/chain", json={"depth": 6, "init": "nielsen", "seed": 0}).json()
    from chainrule.lab.chain import random_chain, run_chain

    lab = run_chain(*random_chain(6, 0))
    assert [layer["factor"] for layer in data["layers"]] == [
        layer["factor"] for layer in lab["layers"]]
    assert [layer["layer"] for layer in data["layers"]] == [1, 2, 3, 4, 5, 6]
    assert all(abs(layer["factor"]) < 0.25 * abs(layer["w"]) + 1e-12 for layer in data["layers"])
    assert data["product"] == pytest.approx(
        float(__import__("math").prod(layer["factor"] for layer in lab["layers"][1:])))
    assert data["regime"] in ("vanishing", "exploding", "mixed")


def test_chain_weight_scale_and_init(client: Any) -> None:
    base = client.post("/api/chain", json={"depth": 4, "init": "he", "seed": 1}).json()
    scaled = client.post("/api/chain", json={"depth": 4, "init": "he", "seed": 1,
                                             "weight_scale": 2}).json()
    assert [s["w"] for s in scaled["layers"]] == pytest.approx(
        [2 * b["w"] for b in base["layers"]])
    one = client.post("/api/chain", json={"depth": 1}).json()
    assert len(one["layers"]) == 2  # a chain has at least two neurons


def test_diagnose(client: Any) -> None:
    pytest.importorskip("chainrule.lab.diagnosis")
    data = client.post("/api/diagnose", json={**NET, "depth": 10}).json()
    assert isinstance(data["verdict"], str) and data["verdict"]
    assert isinstance(data["suggestions"], list) and data["suggestions"]
    assert "evidence" in data


def test_diagnose_is_the_cli_json(client: Any) -> None:
    pytest.importorskip("chainrule.lab.diagnosis")
    from chainrule.cli import main

    cli = CliRunner().invoke(main, ["diagnose", "--sizes", "784,30,30,30,10", "--samples", "100",
                                    "--json"])
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.output)
    data = client.post("/api/diagnose", json={"depth": 3, "width": 30}).json()
    for key in ("verdict", "evidence", "suggestions", "layers", "lr", "samples", "loss"):
        assert data[key] == expected[key], key


def test_lab_missing_is_a_503(client: Any, monkeypatch: Any) -> None:
    import importlib

    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> Any:
        if name == "chainrule.lab.flow":
            raise ModuleNotFoundError(name=name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    data = _error(client.post("/api/vanishing", json=NET), 503)
    assert "not available" in data["error"]


# ---------------------------------------------------------------- training

QUICK = {"depth": 2, "width": 10, "examples": 100, "batch": 10, "epochs": 1, "lr": 0.5}


def _wait(c: Any, states: tuple[str, ...], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = c.get("/api/train").json()
        if s["state"] in states:
            return s  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"training never reached {states}: {s}")


def test_train_idle_status(client: Any) -> None:
    s = client.get("/api/train").json()
    assert s["state"] == "idle" and s["points"] == [] and s["epochs"] == []


def test_train_runs_to_the_end_and_reports_speeds(client: Any) -> None:
    r = client.post("/api/train", json=QUICK)
    assert r.status_code == 202
    assert r.json()["settings"]["sizes"] == [784, 10, 10, 10]
    s = _wait(client, ("done", "failed"))
    assert s["state"] == "done", s
    assert s["total_batches"] == 10 and s["batches"] == 10
    assert s["points"][0]["batch"] == 0 and s["points"][-1]["batch"] == 10
    assert all(len(p["speeds"]) == 2 and min(p["speeds"]) > 0 for p in s["points"])
    assert len(s["epochs"]) == 1 and 0.0 <= s["epochs"][0]["test_accuracy"] <= 1.0
    later = client.get(f"/api/train?since={s['next']}").json()
    assert later["points"] == [] and later["next"] == s["next"]


def test_one_training_run_at_a_time_and_stop(client: Any) -> None:
    long = {**QUICK, "examples": 4000, "epochs": 10, "batch": 1}
    assert client.post("/api/train", json=long).status_code == 202
    data = _error(client.post("/api/train", json=QUICK), 409)
    assert "one run at a time" in data["error"]
    _wait(client, ("running",))
    stopping = client.post("/api/train/stop", json={}).json()
    assert stopping["state"] in ("stopping", "stopped")
    s = _wait(client, ("stopped",))
    assert s["batches"] < s["total_batches"]
    assert client.post("/api/train", json=QUICK).status_code == 202  # free again
    _wait(client, ("done",))


def test_requests_during_training_get_their_own_graphs(client: Any) -> None:
    """The engine's grad mode and listeners are process-wide: the server must not let the
    training thread's no_grad evaluation or a neighbour's backward pass leak into a request."""
    from concurrent.futures import ThreadPoolExecutor

    from chainrule.graph import grad_enabled

    # Ten one-batch epochs: the thread evaluates under no_grad after every step.
    busy = {**QUICK, "examples": 10, "batch": 10, "epochs": 10}
    client.post("/api/train", json=busy)

    def one(i: int) -> Any:
        if i % 2:
            r = client.post("/api/circuit", json={"example": "staged"})
            return r.status_code, len(r.json().get("steps", []))
        r = client.post("/api/vanishing", json={"depth": 2, "width": 5, "samples": 10})
        return r.status_code, len(r.json().get("norms", []))

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(one, range(60)))
    assert answers == [(200, 11) if i % 2 else (200, 2) for i in range(60)]
    _wait(client, ("done",))
    assert grad_enabled()


def test_stop_without_a_run_is_harmless(client: Any) -> None:
    assert client.post("/api/train/stop", json={}).json()["state"] == "idle"


def test_training_time_limit() -> None:
    with _client(create_app(Limits(max_train_seconds=0.0))) as c:
        c.post("/api/train", json={**QUICK, "examples": 1000})
        s = _wait(c, ("stopped", "done"))
        assert s["state"] == "stopped" and s["reason"] == "time limit"


@pytest.mark.parametrize(("field", "value", "status"), [
    ("depth", 9, 422), ("width", 101, 422), ("epochs", 11, 422), ("epochs", 0, 422),
    ("examples", 4001, 422), ("batch", 101, 422), ("lr", 0, 422), ("lr", "fast", 400),
    ("activation", "swish", 400), ("loss", "hinge", 400),
])
def test_training_limits(client: Any, field: str, value: Any, status: int) -> None:
    data = _error(client.post("/api/train", json={**QUICK, field: value}), status)
    assert field in data["error"]
    assert client.get("/api/train").json()["state"] == "idle"


def test_train_since_must_be_a_count(client: Any) -> None:
    _error(client.get("/api/train?since=-1"), 422)
    _error(client.get("/api/train?since=x"), 400)


def test_training_failure_is_reported(monkeypatch: Any) -> None:
    def broken() -> Any:
        raise OSError("no data here")

    with _client(create_app(data_loader=broken)) as c:
        c.post("/api/train", json=QUICK)
        s = _wait(c, ("failed",))
        assert "no data here" in s["error"]


def test_shutdown_stops_a_running_job() -> None:
    app = create_app()
    with _client(app) as c:
        c.post("/api/train", json={**QUICK, "examples": 4000, "epochs": 10, "batch": 1})
        _wait(c, ("running",))
    assert app.state.jobs.status()["state"] == "stopped"


# ---------------------------------------------------------------- hosts and the command


def test_allowed_hosts() -> None:
    app = create_app(allowed_hosts=["127.0.0.1", "localhost"])
    with _client(app, base_url="http://evil.example") as c:
        assert c.get("/api/meta").status_code == 400
    with _client(app, base_url="http://localhost:8000") as c:
        assert c.get("/api/meta").status_code == 200


def test_serve_command_builds_a_loopback_server(monkeypatch: Any) -> None:
    import uvicorn

    from chainrule.cli import main

    seen: dict[str, Any] = {}

    def fake_run(self: Any) -> None:
        seen["host"], seen["port"] = self.config.host, self.config.port
        seen["app"] = self.config.app

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    result = CliRunner().invoke(main, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    with _client(seen["app"], base_url="http://evil.example") as c:
        assert c.get("/").status_code == 400  # loopback server: other Host headers refused

    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "8124"])
    assert result.exit_code == 0 and "warning" in result.output
    result = CliRunner().invoke(main, ["serve", "--port", "70000"])
    assert result.exit_code == 2


def test_serve_open_flag_opens_the_real_address(monkeypatch: Any) -> None:
    import threading
    import webbrowser

    from chainrule.commands.serve import make_server

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    server = make_server(create_app(), "127.0.0.1", 0, True)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not opened and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.should_exit = True
        thread.join(20)
    assert opened and opened[0].startswith("http://127.0.0.1:")
    assert not opened[0].endswith(":0/")


def test_serve_command_serves() -> None:
    """The real command in a subprocess: it prints its address, which then answers."""
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("chainrule explorer on http://127.0.0.1:"), line
        url = line.split()[3]
        meta = httpx.get(url + "api/meta", timeout=10).json()
        assert "examples" in meta
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
