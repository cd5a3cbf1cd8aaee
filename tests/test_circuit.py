"""Circuits: the numbers of the notes' examples, the gate view, steps, checks and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chainrule.circuit import EXAMPLES, Circuit, relative_error, run, verdict
from chainrule.cli import main
from chainrule.errors import NumericError
from chainrule.expr import EvaluationError
from chainrule.ops import OPS
from chainrule.value import Value
from chainrule.viz import graph_dict


def example(name: str) -> Circuit:
    ex = EXAMPLES[name]
    return run(ex.expression, ex.at)


# ---------------------------------------------------------------- the notes' numbers


def test_simple() -> None:
    c = example("simple")
    assert c.output == -12.0
    assert c.gradients == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_neuron_expanded_and_as_one_sigmoid_gate() -> None:
    expanded, gate = example("neuron"), example("neuron-sigmoid")
    assert round(expanded.output, 2) == 0.73
    g = expanded.gradients
    assert [round(g["x0"], 2), round(g["x1"], 2)] == [0.39, -0.59]
    assert [round(g["w0"], 2), round(g["w1"], 2), round(g["w2"], 2)] == [-0.20, -0.39, 0.20]
    assert gate.output == pytest.approx(expanded.output, rel=1e-14)
    for v, grad in gate.gradients.items():
        assert grad == pytest.approx(g[v], rel=1e-12)
    # One sigmoid gate instead of neg, exp, add, div: a smaller circuit, the same gradients.
    assert len(gate.gates()) < len(expanded.gates())


def test_staged() -> None:
    x, y = 3.0, -4.0
    c = example("staged")
    sig = 1.0 / (1.0 + math.exp(-x)), 1.0 / (1.0 + math.exp(-y))
    num, den = x + sig[1], sig[0] + (x + y) ** 2
    assert c.output == pytest.approx(num / den, rel=1e-14)
    # Hand-derived oracle (quotient rule), independent of the engine.
    dx = 1.0 / den - num / den**2 * (sig[0] * (1 - sig[0]) + 2 * (x + y))
    dy = sig[1] * (1 - sig[1]) / den - num / den**2 * (2 * (x + y))
    assert c.gradients["x"] == pytest.approx(dx, rel=1e-12)
    assert c.gradients["y"] == pytest.approx(dy, rel=1e-12)
    assert all(row["verdict"] == "good" for row in c.check())


def test_max_routes_to_the_larger_input_and_sends_zero_to_the_smaller() -> None:
    c = example("max")
    assert c.output == -20.0
    assert c.gradients == {"x": -8.0, "y": 6.0, "z": 2.0, "w": 0.0}
    (gate,) = [g for g in c.gates() if g["op"] == "maximum"]
    assert [i["passed"] for i in gate["inputs"]] == [2.0, 0.0]
    assert [i["local_grad"] for i in gate["inputs"]] == [1.0, 0.0]


def test_fanout_contributions_sum_to_the_gradient() -> None:
    c = example("fanout")
    assert c.output == -3.0
    assert c.gradients == {"x": -1.0, "y": 3.0}
    (fan,) = c.fanout()
    assert fan["name"] == "x"
    assert sorted(w["contribution"] for w in fan["wires"]) == [-2.0, 1.0]
    assert fan["sum"] == fan["grad"] == -1.0


def test_same_variable_twice_in_one_gate() -> None:
    c = run("x * x", {"x": 3.0})
    (fan,) = c.fanout()
    assert [w["contribution"] for w in fan["wires"]] == [3.0, 3.0]
    assert fan["sum"] == c.gradients["x"] == 6.0


def test_scale() -> None:
    c = example("scale")
    assert c.gradients["w"] == pytest.approx(1000.0)
    assert c.gradients["x"] == pytest.approx(0.001)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_passes_its_gradient_check(name: str) -> None:
    assert all(row["verdict"] == "good" for row in example(name).check())


# ---------------------------------------------------------------- the gate view


def test_gate_rows_for_simple() -> None:
    add, mul = example("simple").gates()
    assert (add["op"], add["value"], add["upstream"]) == ("add", 3.0, -4.0)
    assert add["rule"] == OPS["add"].rule
    assert [(i["name"], i["local_grad"], i["passed"]) for i in add["inputs"]] == [
        ("x", 1.0, -4.0), ("y", 1.0, -4.0)]
    assert (mul["op"], mul["value"], mul["upstream"]) == ("mul", -12.0, 1.0)
    assert [(i["name"], i["local_grad"], i["passed"]) for i in mul["inputs"]] == [
        ("#2", -4.0, -4.0), ("z", 3.0, 3.0)]


def test_steps_replay_the_backward_pass() -> None:
    c = example("simple")
    steps = c.steps()
    assert [(s["op"], s["input_name"], s["contribution"]) for s in steps] == [
        ("mul", "#2", -4.0), ("mul", "z", 3.0), ("add", "x", -4.0), ("add", "y", -4.0)]
    assert all(s["contribution"] == s["upstream"] * s["local_grad"] for s in steps)
    lines = c.step_sentences()
    assert len(lines) == 4 and "added to z (now 3)" in lines[1]


def test_steps_accumulate_at_a_fork() -> None:
    totals = [(s["input_name"], s["total"]) for s in example("fanout").steps()]
    assert [t for name, t in totals if name == "x"] == [1.0, -1.0]


def test_explain_has_one_sentence_per_gate() -> None:
    c = example("max")
    sentences = c.explain()
    assert len(sentences) == len(c.gates())
    assert any("takes the larger of z and w" in s and "0 to w" in s for s in sentences)


# ---------------------------------------------------------------- the numerical check


def test_verdict_thresholds() -> None:
    assert verdict(0.5) == "wrong"
    assert verdict(1e-3) == "check"
    assert verdict(1e-8) == "good"
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1.0, 0.0) == 1.0
    assert relative_error(-4.0, -4.0000004) == pytest.approx(1e-7)


def test_check_at_a_kink_says_kink_not_wrong() -> None:
    # relu at 0: the analytic subgradient is 0, the central difference sees slope 1/2.
    (row,) = run("relu(x)", {"x": 0.0}).check()
    assert row["analytic"] == 0.0
    assert row["numerical"] == pytest.approx(0.5)
    assert row["verdict"] == "kink"
    assert "relu #1 (input is exactly 0)" in row["note"]
    assert "subgradient" in row["note"]


def test_check_at_a_max_tie_says_kink_for_both_inputs() -> None:
    rows = run("max(x, y)", {"x": 1.0, "y": 1.0}).check()
    assert [(r["variable"], r["analytic"], r["verdict"]) for r in rows] == [
        ("x", 1.0, "kink"), ("y", 0.0, "kink")]
    assert all(r["numerical"] == pytest.approx(0.5) for r in rows)
    assert "maximum #2 (inputs tie at 1)" in rows[1]["note"]


def test_check_away_from_a_kink_keeps_its_verdict() -> None:
    # abs at 0 but the gradient check agrees (0 = 0): still good; relu at 1: no kink at all.
    assert [r["verdict"] for r in run("abs(x) + y", {"x": 0.0, "y": 1.0}).check()] == [
        "good", "good"]
    (row,) = run("relu(x)", {"x": 1.0}).check()
    assert row["verdict"] == "good" and row["note"] is None


def test_explain_names_the_kink() -> None:
    (sentence,) = run("min(x, y)", {"x": 2.0, "y": 2.0}).explain()
    assert "Its inputs tie at 2: a kink" in sentence


@pytest.mark.parametrize(("text", "position", "where"), [
    ("sqrt(x)", 0, "sqrt has no finite gradient at x = 0"),
    ("x**0.5", 1, "the power ** has no finite gradient at x = 0"),
    ("y + sqrt(x*x)", 4, "sqrt has no finite gradient at an input of 0"),
])
def test_a_gate_without_a_finite_gradient_is_an_error_at_its_place(
        text: str, position: int, where: str) -> None:
    at = {"x": 0.0, "y": 1.0} if "y" in text else {"x": 0.0}
    with pytest.raises(NumericError) as info:
        run(text, at)
    assert isinstance(info.value, EvaluationError)
    assert info.value.position == position
    assert str(info.value).startswith(where)
    assert info.value.caret().splitlines()[1] == " " * position + "^"


def test_graph_dict_marks_a_failed_backward_pass() -> None:
    x = Value(0.0, label="x")
    out = x.sqrt()
    g = graph_dict(out)
    assert g["error"] == {"message": "backward: the local gradient of sqrt at 0 is not finite "
                                     "(float division by zero)", "node": 1}
    assert [n["grad"] for n in g["nodes"]] == [None, None]
    assert "error" not in graph_dict(Value(2.0) * 3.0)


@pytest.mark.parametrize(("x", "shown"), [(-2.0, "x = -2")])
def test_pow_with_a_base_below_zero_notes_the_nan(x: float, shown: str) -> None:
    c = run("x**y", {"x": x, "y": 2.0})
    assert math.isnan(c.gradients["y"])
    assert c.notes() == [
        f"∂(x^y)/∂y = x^y·log x needs x > 0, so it is undefined (nan) here ({shown}, gate #2)"]
    assert run("x**y", {"x": 2.0, "y": 2.0}).notes() == []
    row = c.check()[1]
    assert row["verdict"].startswith("n/a") and row["rel_error"] is None


def test_pow_at_a_zero_base_has_a_zero_exponent_gradient() -> None:
    """0^y = 0 for every y > 0: ∂/∂y is 0 (PyTorch's value), matching central differences."""
    c = run("x**y", {"x": 0.0, "y": 2.0})
    assert c.gradients["y"] == 0.0
    assert c.notes() == []
    assert c.check()[1]["verdict"] == "good"


def test_check_where_f_cannot_be_evaluated_nearby() -> None:
    (row,) = run("sqrt(x)", {"x": 1e-6}).check()
    assert row["numerical"] is None and row["verdict"].startswith("n/a")


# ---------------------------------------------------------------- the JSON contract


def test_json_contract() -> None:
    data = example("fanout").to_json()
    assert list(data) == ["expression", "output", "gradients", "nodes", "edges"]
    assert data["expression"] == "x*y + x"
    assert data["gradients"] == {"x": -1.0, "y": 3.0}
    for node in data["nodes"]:
        assert list(node) == ["id", "op", "label", "value", "grad", "inputs"]
    for edge in data["edges"]:
        assert list(edge) == ["source", "target", "value", "local_grad", "contribution"]
    ids = [n["id"] for n in data["nodes"]]
    assert ids == list(range(len(ids)))
    # Every input listed on a node is one edge, in the same order.
    from_nodes = [(src, n["id"]) for n in data["nodes"] for src in n["inputs"]]
    assert from_nodes == [(e["source"], e["target"]) for e in data["edges"]]
    assert json.loads(json.dumps(data)) == data


# ---------------------------------------------------------------- the command line


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["circuit", *args], catch_exceptions=False)


def test_cli_at_takes_several_assignments_with_negative_numbers() -> None:
    result = invoke("(x+y)*z", "--at", "x=-2", "y=5", "z=-4", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["output"] == -12.0
    assert data["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_cli_assignments_also_work_before_the_expression_and_comma_separated() -> None:
    result = invoke("--at", "x=-2,y=5", "(x+y)*z", "z=-4", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["output"] == -12.0


def test_cli_expression_may_start_with_a_minus() -> None:
    result = invoke("-x*y", "--at", "x=2", "y=3", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["output"] == -6.0


def test_cli_table() -> None:
    result = invoke("--example", "simple")
    assert result.exit_code == 0
    out = result.output
    assert "(x + y) * z  =  -12" in out
    assert "#2 add" in out and "#4 mul" in out
    assert OPS["mul"].rule[:30] in out.replace("\n", " ")
    assert "∂f/∂x = -4" in out and "∂f/∂z = 3" in out


def test_cli_fanout_steps_check_explain() -> None:
    result = invoke("--example", "fanout", "--steps", "--check", "--explain")
    assert result.exit_code == 0
    out = result.output
    assert "-2 (via #2) + 1 (via #3) = -1" in out
    assert "added to x (now -1)" in out
    assert "good" in out
    assert "Gate #2 multiplies x and y" in out


def test_cli_json_with_extras() -> None:
    data = json.loads(invoke("--example", "max", "--json", "--steps", "--check",
                             "--explain").output)
    assert len(data["steps"]) == len(data["edges"])
    assert {row["variable"]: row["verdict"] for row in data["check"]} == dict.fromkeys(
        "xyzw", "good")
    assert len(data["explain"]) == 4


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_cli_runs_every_example(name: str) -> None:
    assert invoke("--example", name).exit_code == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("(x+y)*", "--at", "x=1", "y=2"), "      ^"),
        (("log(x)", "--at", "x=-1"), "outside the op's domain"),
        (("x+y", "--at", "x=1"), "no value for y"),
        (("x", "--at", "x=one"), "not a number"),
        (("x", "--at", "1=x"), "not NAME=NUMBER"),
        (("--example", "nope"), "the examples are simple"),
        (("x", "--example", "simple"), "not both"),
        ((), "give an expression"),
        (("x", "x=1", "--jsn"), "No such option"),
    ],
)
def test_cli_errors_are_messages_not_tracebacks(args: tuple[str, ...], fragment: str) -> None:
    result = invoke(*args)
    assert result.exit_code != 0
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_cli_pathological_input() -> None:
    result = invoke("(" * 10_000 + "x" + ")" * 10_000, "x=1")
    assert result.exit_code == 1 and "deeper than" in result.output
    result = invoke(" + ".join(["x"] * 200_000), "x=1")
    assert result.exit_code == 1 and "characters long" in result.output
    result = invoke("exp(exp(x))", "x=10")
    assert result.exit_code == 1 and "exp(...)" in result.output


def test_cli_writes_svg_and_png(tmp_path: Path) -> None:
    svg, png = tmp_path / "c.svg", tmp_path / "c.png"
    result = invoke("--example", "simple", "--svg", str(svg), "--png", str(png))
    assert result.exit_code == 0, result.output
    assert "<svg" in svg.read_text()
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"wrote {svg}" in result.output.replace("\n", "")


@pytest.mark.parametrize(("args", "lines"), [
    (("sqrt(x)", "--at", "x=0"), ["Error: sqrt has no finite gradient at x = 0 (float division "
                                  "by zero)", "sqrt(x)", "^"]),
    (("x**0.5", "--at", "x=0"), ["Error: the power ** has no finite gradient at x = 0",
                                 "x**0.5", " ^"]),
    (("sqrt(x*x)", "--at", "x=0"), ["Error: sqrt has no finite gradient at an input of 0",
                                    "sqrt(x*x)", "^"]),
])
def test_cli_gate_without_a_finite_gradient(args: tuple[str, ...], lines: list[str]) -> None:
    result = CliRunner().invoke(main, ["circuit", *args, "--json"])
    assert result.exit_code == 1
    out = result.output.splitlines()
    assert out[0].startswith(lines[0])
    assert out[1:] == lines[1:]
    assert "Traceback" not in result.output


def test_cli_check_at_a_kink() -> None:
    result = invoke("relu(x)", "--at", "x=0", "--check")
    assert result.exit_code == 0
    out = " ".join(result.output.split())
    assert "│ x │ 0 │ 0.5 │ 1.0e+00 │ kink │" in out
    assert "wrong" not in out.replace("> 1e-2 wrong", "")
    assert "relu #1 (input is exactly 0). f is not differentiable here" in out
    data = json.loads(invoke("max(x,y)", "--at", "x=1", "y=1", "--check", "--json").output)
    assert [r["verdict"] for r in data["check"]] == ["kink", "kink"]


def test_cli_pow_nan_note() -> None:
    out = " ".join(invoke("x**y", "--at", "x=-2", "y=2").output.split())
    assert "∂f/∂y = nan" in out
    assert "note: ∂(x^y)/∂y = x^y·log x needs x > 0, so it is undefined (nan) here" in out
    data = json.loads(invoke("x**y", "--at", "x=-2", "y=2", "--json").output)
    assert data["notes"] == ["∂(x^y)/∂y = x^y·log x needs x > 0, so it is undefined (nan) here "
                             "(x = -2, gate #2)"]


def test_cli_unwritable_picture(tmp_path: Path) -> None:
    result = invoke("x", "x=1", "--svg", str(tmp_path / "missing" / "c.svg"))
    assert result.exit_code != 0 and "Traceback" not in result.output
