"""Classroom features without a browser: the training view's defaults, practice exercises,
the terminal quiz and the offline lesson files."""

from __future__ import annotations

import re
import time
from typing import Any

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


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_chain_factors_use_the_chosen_activation(activation: str) -> None:
    import math

    from chainrule.lab import chain
    from chainrule.web.lab import chain_for

    result = chain_for(chain, 5, activation, "nielsen", 1.0, 0)
    assert result["activation"] == activation
    ws, bs = chain.random_chain(5, 0)
    a = 1.0
    for layer, w, b in zip(result["layers"], ws, bs, strict=True):
        z = w * a + b
        # Closed forms of φ and φ', written here only as the test's oracle.
        a, slope = {
            "sigmoid": (1 / (1 + math.exp(-z)), math.exp(-z) / (1 + math.exp(-z)) ** 2),
            "tanh": (math.tanh(z), 1 - math.tanh(z) ** 2),
            "relu": (max(z, 0.0), float(z > 0)),
            "leaky_relu": (z if z > 0 else 0.01 * z, 1.0 if z > 0 else 0.01),
        }[activation]
        assert layer["z"] == pytest.approx(z)
        assert layer["factor"] == pytest.approx(w * slope)
    assert result["max_slope"] == (0.25 if activation == "sigmoid" else 1.0)
    assert result["product"] == pytest.approx(
        math.prod(layer["factor"] for layer in result["layers"][1:]))


# ---------------------------------------------------------------- practice


def _cs231n() -> object:
    from chainrule import circuit

    return circuit.run("(x+y)*z", {"x": -2, "y": 5, "z": -4})


def test_questions_follow_the_backward_pass() -> None:
    from chainrule.practice import questions

    qs = questions(_cs231n())
    assert [(q.gate_name, q.input_name, q.answer) for q in qs] == [
        ("#4", "#2", -4.0), ("#4", "z", 3.0), ("#2", "x", -4.0), ("#2", "y", -4.0)]
    assert [q.op for q in qs] == ["mul", "mul", "add", "add"]


def test_hints_name_the_rule_from_the_op_catalogue_and_hide_the_answer_first() -> None:
    from chainrule import circuit
    from chainrule.ops import OPS
    from chainrule.practice import questions
    from chainrule.viz import fmt

    for expression, at in (("(x+y)*z", {"x": -2, "y": 5, "z": -4}),
                           ("sigmoid(w0*x0 + w1*x1 + w2)",
                            {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
                           ("max(x, y) * exp(z) / (x - 3)", {"x": 1.5, "y": -2, "z": 0.5})):
        for q in questions(circuit.run(expression, at)):
            first, second, third = q.hints
            assert first.startswith(OPS[q.op].rule), first
            numbers = re.findall(r"-?\d+(?:\.\d+)?(?:e[+-]\d+)?",
                                 re.sub(r"#\d+", "", first[len(OPS[q.op].rule):]))
            assert fmt(q.answer) not in numbers, (q, first)
            assert second.endswith(f"{fmt(q.upstream)} × {fmt(q.local_grad)} (the chain rule).")
            assert third.startswith(f"The answer is {fmt(q.answer)}")
            assert q.answer == pytest.approx(q.upstream * q.local_grad)


def test_a_right_answer_within_rounding() -> None:
    from chainrule.practice import is_right

    assert is_right(-4.0, -4.0) and is_right(0.197, 0.19661193) and is_right(0.0, 0.0004)
    assert not is_right(4.0, -4.0) and not is_right(0.19, 0.19661193)
    assert not is_right(float("nan"), 1.0)


def test_random_exercises_are_reproducible_and_use_every_variable() -> None:
    from chainrule import circuit
    from chainrule.practice import questions, random_exercise

    seen = set()
    for seed in range(40):
        expression, at = random_exercise(seed)
        assert random_exercise(seed) == (expression, at)
        c = circuit.run(expression, at)
        assert set(c.expression.variables) == set(at)
        assert all(v != 0 and -5 <= v <= 5 and v.is_integer() for v in at.values())
        assert len(questions(c)) >= 3
        seen.add(expression)
    assert len(seen) >= 30  # seeds give different circuits
    with pytest.raises(ValueError, match="at least one gate"):
        random_exercise(0, gates=0)


def _cli(args: list[str], answers: str) -> object:
    from click.testing import CliRunner

    from chainrule.cli import main

    return CliRunner().invoke(main, args, input=answers)


def test_quiz_in_the_terminal_right_and_wrong() -> None:
    result: object = _cli(["circuit", "(x+y)*z", "--at", "x=-2", "y=5", "z=-4", "--quiz"],
                          "4\n-4\n3\n-4\n-4\n")
    out = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 0, out  # type: ignore[attr-defined]
    lines = out.splitlines()
    wrong = next(line for line in lines if "wrong:" in line)
    assert "multiply swaps its inputs" in wrong and "-4" not in wrong
    assert out.count("right:") == 4
    assert "Done: 3 of 4 right at the first try" in out
    assert "∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3" in out
    assert "-12" in out and "∂f/∂z = 3" not in out.split("Done:")[0]  # no gradient shown early


def test_quiz_reveals_after_three_misses_and_stops_cleanly_at_end_of_input() -> None:
    result: object = _cli(["circuit", "(x+y)*z", "--at", "x=-2", "y=5", "z=-4", "--quiz"],
                          "1\n2\nabc\n3\n3\n")
    out = result.output  # type: ignore[attr-defined]
    assert "type a number" in out
    assert "upstream × local = 1 × -4" in out
    assert "wrong. The answer is -4" in out
    assert "right: z receives 3" in out
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "quiz stopped after 2 of 4 questions" in out
    assert "Traceback" not in out


def test_exercise_seed_gives_the_same_circuit_everywhere() -> None:
    from chainrule.practice import random_exercise

    expression, _ = random_exercise(7)
    result: object = _cli(["circuit", "--exercise", "7", "--quiz"], "")
    assert f"f = {expression} at" in result.output  # type: ignore[attr-defined]
    assert "practice exercise 7" in result.output  # type: ignore[attr-defined]
    both: object = _cli(["circuit", "x*y", "--exercise", "7"], "")
    assert both.exit_code == 2  # type: ignore[attr-defined]
    assert "not two" in both.output  # type: ignore[attr-defined]


# ---------------------------------------------------------------- offline lessons


def test_bundle_joins_every_module_once_without_imports() -> None:
    from chainrule.web.lesson import bundle
    from chainrule.web.server import STATIC_DIR

    script = bundle()
    modules = sorted(p.stem for p in (STATIC_DIR / "js").glob("*.js"))
    for name in modules:
        assert script.count(f'__modules["{name}"] = ') == 1, name
    assert not re.search(r"^\s*(import|export)\b", script, re.M)
    assert script.index('__modules["util"] =') < script.index('__modules["main"] =')
    assert "const { $, api, el, fill, LESSON, META, ready, t } = __modules[\"util\"];" in script
    # The page's words (../i18n.js) are joined too, before the modules that use them.
    assert script.index('__modules["i18n"] =') < script.index('__modules["util"] =')


def test_lesson_file_holds_everything_inline(tmp_path: object) -> None:
    from click.testing import CliRunner

    from chainrule.cli import main

    out = tmp_path / "lesson.html"  # type: ignore[operator]
    result = CliRunner().invoke(main, ["export", "circuit", "(x+y)*z", "--at", "x=-2", "y=5",
                                       "z=-4", "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    start = html.index('id="lesson-data">') + len('id="lesson-data">')
    data = __import__("json").loads(html[start:html.index("</script>", start)])
    assert data["kind"] == "circuit"
    assert data["answers"]["/api/circuit"]["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert data["answers"]["/api/circuit"]["svg"].lstrip().startswith("<svg")
    assert data["state"] == {"expr": "(x+y)*z", "at": "x:-2,y:5,z:-4"}
    outside = re.findall(r"(?:src|href)=\"(?!data:|#)([^\"]+)\"", html)
    assert outside == []
    without_namespaces = re.sub(r"http://www\.w3\.org/[\w/.]+", "", html)
    assert "http://" not in without_namespaces and "https://" not in without_namespaces


@pytest.mark.parametrize(("args", "message"), [
    (["circuit", "x+", "-o", "x.html"], "ends too early"),
    (["circuit", "-o", "x.html"], "give one of EXPR"),
    (["circuit", "x*y", "--example", "simple", "-o", "x.html"], "give one of EXPR"),
    (["chain", "--depth", "99", "-o", "x.html"], "depth must be between 1 and 30"),
    (["vanishing", "--weight-scale", "50", "-o", "x.html"], "weight_scale must be between"),
    (["circuit", "x", "--at", "x=1"], "Missing option '-o'"),
])
def test_export_refuses_bad_requests_in_one_line(tmp_path: object, args: list[str],
                                                 message: str, monkeypatch: Any) -> None:
    import os

    from click.testing import CliRunner

    from chainrule.cli import main

    monkeypatch.chdir(str(tmp_path))
    result = CliRunner().invoke(main, ["export", *args])
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert not os.path.exists("x.html")


def test_unknown_lesson_kind() -> None:
    from chainrule.web.lesson import LessonError, lesson_html

    with pytest.raises(LessonError, match="unknown lesson 'training'"):
        lesson_html("training", {}, {}, "t")


# ---------------------------------------------------------------- formulas with numbers


@pytest.mark.parametrize(("op", "index", "inputs", "out", "want"), [
    ("mul", 0, [3.0, -4.0], -12.0, "∂(a·b)/∂a = b = -4"),
    ("mul", 1, [3.0, -4.0], -12.0, "∂(a·b)/∂b = a = 3"),
    ("add", 1, [1.0, 2.0], 3.0, "∂(a+b)/∂b = 1"),
    ("sigmoid", 0, [1.0], 0.7311, "∂σ(a)/∂a = out·(1 − out) = 0.7311·(1 − 0.7311)"),
    ("tanh", 0, [-1.0], -0.7616, "∂tanh a/∂a = 1 − out² = 1 − (-0.7616)²"),
    ("div", 1, [1.0, 2.0], 0.5, "∂(a/b)/∂b = −out/b = −0.5/2"),
    ("maximum", 0, [-1.5, 2.0], 2.0, "∂max(a,b)/∂a = [a ≥ b] = [(-1.5) ≥ 2]"),
    ("abs", 0, [-2.0], 2.0, "∂|a|/∂a = sign(a) = sign(-2)"),
    ("log", 0, [-2.0], 0.0, "∂log a/∂a = 1/a = 1/(-2)"),
])
def test_local_formula_substitutes_the_gate_numbers(op: str, index: int, inputs: list[float],
                                                    out: float, want: str) -> None:
    from chainrule.formulas import local_formula

    assert local_formula(op, index, inputs, out) == want


def test_every_elementwise_op_has_a_formula_for_every_input() -> None:
    from chainrule.formulas import local_formula
    from chainrule.ops import OPS

    for name, op in OPS.items():
        if op.local is None:
            assert local_formula(name, 0, [1.0, 2.0], 3.0) is None
            continue
        for index in range(op.arity):
            text = local_formula(name, index, [1.5, 2.5], 3.5, constant=2.0)
            assert text is not None and text.startswith("∂"), (name, index)
            assert text.split(" = ")[0] in op.doc  # the catalogue's own words


def test_pow_const_formula_uses_the_gates_exponent() -> None:
    from chainrule import circuit
    from chainrule.formulas import step_formula

    c = circuit.run("x**3", {"x": 2})
    (s,) = c.steps()
    assert step_formula(c, s) == "∂(a^c)/∂a = c·a^(c−1) = 3·2^(3−1)"
    assert s["local_grad"] == 12.0


# ---------------------------------------------------------------- a backward path as a circuit


def test_path_factors_match_a_numpy_backward_pass() -> None:
    import numpy as np

    from chainrule.lab import flow
    from chainrule.web.lab import path_for

    sizes = [784, 6, 5, 4, 10]
    settings = {"sizes": sizes, "activation": "sigmoid", "init": "nielsen", "seed": 3,
                "weight_scale": 1.0, "preprocess": "scale"}
    model = flow.make_model(sizes, "sigmoid", "nielsen", 3, 1.0)
    x, y, _ = flow.load_inputs(sizes, 1, "scale")
    # The oracle: Nielsen's backprop in closed form (sigmoid everywhere, cross-entropy cost,
    # so the output error is a − y).
    ws = [np.asarray(lin.weight.data) for lin in model.linears]
    bs = [np.asarray(lin.bias.data) for lin in model.linears]
    a, zs = np.asarray(x.data)[0], []
    for w, b in zip(ws, bs, strict=True):
        zs.append(w @ a + b)
        a = 1 / (1 + np.exp(-zs[-1]))
    target = np.eye(10)[int(y[0])]
    deltas = [a - target]
    for k in range(len(ws) - 1, 0, -1):
        s = 1 / (1 + np.exp(-zs[k - 1]))
        deltas.insert(0, (ws[k].T @ deltas[0]) * s * (1 - s))
    for layer in (1, 2, 3):
        path = path_for(flow, settings, layer)
        units = path["units"]
        assert path["gradient"] == pytest.approx(deltas[layer - 1][units[0]])
        assert units[0] == int(np.argmax(np.abs(deltas[layer - 1])))
        v = path["values"]
        sig = 1 / (1 + np.exp(-zs[layer - 1][units[0]]))
        assert v[f"s{layer}"] == pytest.approx(sig * (1 - sig))
        for step, k in enumerate(range(layer + 1, len(sizes)), start=1):
            assert v[f"w{k}"] == ws[k - 1][units[step], units[step - 1]]
        assert v["d"] == pytest.approx(deltas[-1][units[-1]])
        assert path["product"] == pytest.approx(float(np.prod(list(v.values()))))
    # The last hidden layer: its paths are one weight long, and they sum to the gradient.
    path = path_for(flow, settings, 3)
    u = path["units"][0]
    total = sum(path["values"]["s3"] * ws[3][j, u] * deltas[3][j] for j in range(10))
    assert total == pytest.approx(path["gradient"])


def test_path_endpoint_draws_the_product_as_a_circuit() -> None:
    from chainrule.web.server import ApiError, Limits, path_payload

    answer = path_payload({"depth": 30, "layer": 1}, Limits())
    assert answer["expression"].startswith("s1 * (w2 * s2) * (w3 * s3)")
    assert answer["output"] == pytest.approx(answer["path"]["product"])
    assert answer["gradients"]["d"] == pytest.approx(answer["output"] / answer["at"]["d"])
    assert answer["svg"] is None or "<svg" in answer["svg"]
    with pytest.raises(ApiError, match="layer must be between 1 and 4"):
        path_payload({"depth": 4, "layer": 5}, Limits())


def test_path_route() -> None:
    from chainrule.web.server import create_app
    from test_web_api import _client

    with _client(create_app()) as client:
        r = client.post("/api/path", json={"depth": 3, "width": 10, "layer": 3})
        assert r.status_code == 200, r.text
        assert r.json()["expression"] == "s3 * w4 * d"
        bad = client.post("/api/path", json={"depth": 3, "layer": 0})
        assert bad.status_code == 422 and "layer must be between 1 and 3" in bad.json()["error"]
