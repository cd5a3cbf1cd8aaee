"""Fuzzers: random expressions and random option values never crash anything.

Expressions go through the parser, a circuit's forward and backward pass, the web API and the
``circuit`` command; option values through click's parsing of every numeric option of every
command. The only acceptable outcomes are a result or chainrule's own one-line refusal. Each
fuzzer is sized to run in a few seconds.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule.cli import main
from chainrule.errors import ChainruleError

TOKENS = ["x", "y", "z", "w0", "1", "0", "2.5", "1e308", "-", "+", "*", "/", "**", "(", ")",
          ",", " ", "exp", "log", "sigmoid", "tanh", "relu", "abs", "sqrt", "max", "min",
          "^", "=", "__import__", "os", ".", "[", "]", "'", "lambda", "1e-320", "nan", "inf"]

expressions = st.one_of(
    st.lists(st.sampled_from(TOKENS), min_size=0, max_size=30).map("".join),
    st.lists(st.sampled_from(TOKENS), min_size=0, max_size=30).map(" ".join),
    st.text(max_size=40),
)
values = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64),
                   st.sampled_from([0.0, -0.0, 1e-320, -1.0, 1e300]))
FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(text=expressions, x=values, y=values, z=values, w0=values)
def test_expressions_parse_and_run_or_are_refused(text: str, x: float, y: float, z: float,
                                                  w0: float) -> None:
    from chainrule import circuit as circuits
    from chainrule.expr import parse

    try:
        expr = parse(text)
    except ChainruleError as exc:
        message = getattr(exc, "message", str(exc))  # str() adds the two caret lines
        assert message and "\n" not in message.strip()
        return
    at = {"x": x, "y": y, "z": z, "w0": w0}
    try:
        c = circuits.run(expr, {k: v for k, v in at.items() if k in expr.variables})
    except ChainruleError as exc:
        assert str(exc)
        return
    data = c.to_json()
    assert len(data["nodes"]) >= 1


def _client() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from chainrule.web.server import create_app

    return TestClient(create_app())


@pytest.fixture(scope="module")
def client() -> Any:
    with _client() as c:
        yield c


@settings(max_examples=150, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=expressions, x=values)
def test_the_web_api_answers_every_expression_without_a_500(client: Any, text: str,
                                                            x: float) -> None:
    for endpoint, body in (("/api/parse", {"expression": text}),
                           ("/api/circuit", {"expression": text, "at": {"x": x, "y": 1,
                                                                        "z": 2, "w0": 3}})):
        r = client.post(endpoint, json=body)
        assert r.status_code < 500, (endpoint, text, r.text)
        if r.status_code >= 400:
            assert isinstance(r.json()["error"], str)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=expressions.filter(lambda t: not t.lstrip().startswith("--")))
def test_the_circuit_command_never_shows_a_traceback(text: str) -> None:
    result = CliRunner().invoke(main, ["circuit", text, "--at", "x=1", "y=2", "z=3", "w0=4"])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- option values

NUMERIC_OPTIONS = [
    (("train",), "--lr"), (("train",), "--momentum"), (("train",), "--weight-decay"),
    (("train",), "--batch"), (("train",), "--epochs"), (("train",), "--seed"),
    (("train",), "--limit"), (("train",), "--sizes"),
    (("diagnose",), "--lr"), (("diagnose",), "--weight-scale"), (("diagnose",), "--seed"),
    (("diagnose",), "--samples"), (("diagnose",), "--sizes"),
    (("vanishing",), "--weight-scale"), (("vanishing",), "--lr"), (("vanishing",), "--lmbda"),
    (("vanishing",), "--seeds"), (("vanishing",), "--sizes"), (("vanishing",), "--batch"),
    (("chain",), "--input"), (("chain",), "--target"), (("chain",), "--weights"),
    (("chain",), "--layers"), (("chain",), "--monte-carlo"),
    (("study", "lr"), "--lrs"), (("study", "lr"), "--min"), (("study", "lr"), "--num"),
    (("study", "input-scale"), "--samples"),
    (("data", "fetch"), "--timeout"), (("serve",), "--port"), (("sweep",), "--workers"),
    (("circuit",), "--max-nodes"),
]

nasty = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "+inf", "infinity", "1e309", "-1e309", "0",
                     "-0", "-1", "1e-400", "", " ", ",", "784,,10", "784,30,", "1,2,3",
                     "0x10", "1_000", "２", "١", "1e3", "9" * 40, "-" + "9" * 40, "true",
                     "None", "1/0", "784, 30, 10"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.integers(-5, 10**7).map(str), min_size=0, max_size=5).map(",".join),
    st.text(max_size=12),
)


def _command(path: tuple[str, ...]) -> click.Command:
    ctx = click.Context(main)
    command: Any = main
    for name in path:
        command = command.get_command(ctx, name)
    return command  # type: ignore[no-any-return]


def _finite_in_range(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_finite_in_range(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(NUMERIC_OPTIONS), value=nasty)
def test_numeric_options_are_checked_while_parsing(target: tuple[tuple[str, ...], str],
                                                   value: str) -> None:
    path, option = target
    command = _command(path)
    args = {("circuit",): ["x*y"], ("data", "fetch"): ["mnist"]}.get(path, [])
    try:
        ctx = command.make_context(" ".join(path), [*args, option, value])
    except click.UsageError as exc:
        message = exc.format_message()
        assert option in message or "option" in message, message
        assert "\n" not in message.strip()
        return
    param = next(p for p in command.params if option in getattr(p, "opts", ()))
    assert param.name is not None
    parsed = ctx.params[param.name]
    if param.multiple:
        (parsed,) = parsed
    assert _finite_in_range(parsed), (option, value, parsed)
    if option == "--sizes":
        assert len(parsed) >= 2 and min(parsed) >= 1
    elif isinstance(parsed, (int, float)) and option not in ("--input", "--target"):
        assert parsed >= 0
