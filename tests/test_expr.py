"""The expression language: grammar, numbers, errors with carets, limits and pathological input."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule.errors import ChainruleError, NumericError
from chainrule.expr import (
    MAX_DEPTH,
    MAX_LENGTH,
    BindingError,
    EvaluationError,
    ParseError,
    parse,
)
from chainrule.value import Value, maximum, minimum


def value(text: str, **at: float) -> float:
    return parse(text)(**at)


# ---------------------------------------------------------------- grammar and numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("2 ** 3 ** 2", 512.0),  # right-associative
        ("-2 ** 2", -4.0),  # unary minus binds looser than **
        ("(-2) ** 2", 4.0),
        ("2 ** -1", 0.5),
        ("8 - 3 - 2", 3.0),  # left-associative
        ("8 / 4 / 2", 1.0),
        ("--3", 3.0),
        ("+3 - -3", 6.0),
        ("1e-3 * 1000", 1.0),
        (".5 + 1.", 1.5),
        ("2.5E2", 250.0),
        ("max(2, 3) - min(2, 3)", 1.0),
        ("abs(-4) + sqrt(9) + relu(-1) + relu(2)", 9.0),
        ("exp(0) + log(1) + tanh(0) + sigmoid(0)", 1.5),
        ("-x**2", -9.0),
        ("x**2", 9.0),
    ],
)
def test_values(text: str, expected: float) -> None:
    at = {"x": -3.0} if parse(text).variables else {}
    assert value(text, **at) == pytest.approx(expected, rel=1e-15)


def test_variables_in_order_of_first_use() -> None:
    e = parse("z * (x + y) + x")
    assert e.variables == ("z", "x", "y")


def test_a_variable_used_twice_is_one_leaf() -> None:
    e = parse("x * x")
    out, leaves = e.build({"x": 3.0})
    assert out.inputs[0] is out.inputs[1] is leaves["x"]
    out.backward()
    assert leaves["x"].grad == 6.0


def test_constant_exponent_is_pow_const_so_negative_bases_work() -> None:
    out, leaves = parse("x ** (1 + 1)").build({"x": -3.0})
    assert out.op is not None and out.op.name == "pow_const"
    out.backward()
    assert leaves["x"].grad == -6.0


def test_variable_exponent_is_the_pow_gate() -> None:
    out, leaves = parse("x ** y").build({"x": 2.0, "y": 3.0})
    assert out.op is not None and out.op.name == "pow"
    out.backward()
    assert leaves["y"].grad == pytest.approx(8.0 * math.log(2.0))


def test_numbers_are_labelled_leaves() -> None:
    out, _ = parse("x * -2.5").build({"x": 1.0})
    const = out.inputs[1]
    assert const.op is None and const.label == "-2.5" and const.data == -2.5


# ---------------------------------------------------------------- errors point at the mistake


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "empty"),
        ("(x + y) *", 9, "ends too early"),
        ("x + * y", 4, "expected a number"),
        ("2x", 1, "write 2*x"),
        ("x y", 2, "write 2*x"),
        ("x.real", 1, "no attributes"),
        ("a[0]", 1, "no indexing"),
        ("x ^ 2", 2, "use ** for powers"),
        ("x = 1", 2, "--at"),
        ("__import__('os')", 11, "unexpected character"),
        ("lambda: 1", 6, "unexpected character"),
        ("lambda + 1", 0, "keyword"),
        ("foo(x)", 0, "unknown function 'foo'"),
        ("exp + 1", 0, "exp is a function"),
        ("max(x)", 5, "missing an argument"),
        ("exp(x, y)", 5, "exp takes 1 argument"),
        ("(x, y)", 2, "only max(a, b)"),
        ("x, y", 1, "outside a call"),
        ("max(x, )", 7, "expected a number"),
        ("(x + 1", 0, "never closed"),
        ("x + 1)", 5, "no matching"),
        ("()", 1, "expected a number"),
        ("1e999 * x", 0, "too large"),
        ("x − 1", 2, "ASCII minus"),
    ],
)
def test_errors_point_at_the_mistake(text: str, position: int, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    err = info.value
    assert err.position == position
    assert fragment in err.message
    message, line, caret = str(err).split("\n")
    assert line == text
    assert caret == " " * position + "^"


def test_parse_error_is_a_chainrule_error_and_a_value_error() -> None:
    with pytest.raises(ChainruleError):
        parse("x +")
    with pytest.raises(ValueError):
        parse("x +")


def test_caret_in_a_long_expression_shows_a_window() -> None:
    text = "x + " * 100 + "* y"
    with pytest.raises(ParseError) as info:
        parse(text)
    _, line, caret = str(info.value).split("\n")
    assert len(line) < 80
    assert line.startswith("…")
    assert line[caret.index("^")] == "*"


def test_caret_aligns_across_tabs_and_newlines() -> None:
    with pytest.raises(ParseError) as info:
        parse("x +\n\t* y")
    _, line, caret = str(info.value).split("\n")
    assert line[caret.index("^")] == "*"


def test_not_text() -> None:
    with pytest.raises(ParseError, match="text"):
        parse(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------- binding values


def test_missing_and_unknown_variables() -> None:
    e = parse("x + y")
    with pytest.raises(BindingError, match=r"no value for y: give y=\.\.\."):
        e.build({"x": 1.0})
    with pytest.raises(BindingError, match="z does not appear"):
        e.build({"x": 1.0, "y": 2.0, "z": 3.0})
    with pytest.raises(BindingError, match="finite"):
        e.build({"x": math.inf, "y": 2.0})


# ---------------------------------------------------------------- limits and pathological input


@pytest.mark.timeout(30)  # a guard against hanging, not a speed test
def test_ten_thousand_nested_parentheses_is_a_clear_error() -> None:
    text = "(" * 10_000 + "x" + ")" * 10_000
    with pytest.raises(ParseError, match=f"deeper than {MAX_DEPTH}") as info:
        parse(text)
    assert info.value.position == MAX_DEPTH  # the first '(' past the limit


@pytest.mark.timeout(30)  # a guard against hanging, not a speed test
def test_two_hundred_thousand_terms_is_a_clear_error() -> None:
    text = " + ".join(["x"] * 200_000)
    with pytest.raises(ParseError, match=f"limit is {MAX_LENGTH:,}"):
        parse(text)


def test_too_many_terms_within_the_length_limit() -> None:
    with pytest.raises(ParseError, match="more than 100 terms"):
        parse("+".join(["x"] * 60), max_nodes=100)


def test_deep_nesting_with_raised_limits_parses_without_recursion() -> None:
    # Neither the parser nor the graph builder recurses: 20,000 levels are fine when allowed.
    depth = 20_000
    text = "(" * depth + "x" + ")" * depth
    e = parse(text, max_depth=depth, max_length=3 * depth)
    assert e(x=2.0) == 2.0
    negs = "-" * depth + "x"  # a chain of 20,000 negate gates
    out, leaves = parse(negs, max_nodes=depth + 1, max_length=depth + 1).build({"x": 2.0})
    assert out.data == 2.0
    out.backward()
    assert leaves["x"].grad == 1.0


def test_long_power_tower_is_right_associative_and_iterative() -> None:
    text = "**".join(["1"] * 2000)
    assert parse(text)() == 1.0


@pytest.mark.parametrize(
    ("text", "at", "position", "fragment"),
    [
        ("1 + exp(x)", {"x": 1000.0}, 4, "exp(...)"),
        ("x ** 1000", {"x": 10.0}, 2, "power"),
        ("1e308 * 10", {}, 6, "multiplication gives inf"),
        ("log(x)", {"x": -1.0}, 0, "log(...)"),
        ("1 / x", {"x": 0.0}, 2, "division"),
        ("sqrt(x)", {"x": -1.0}, 0, "sqrt(...)"),
    ],
)
def test_overflow_and_domain_errors_point_at_the_gate(
    text: str, at: dict[str, float], position: int, fragment: str
) -> None:
    with pytest.raises(EvaluationError) as info:
        parse(text).build(at)
    assert info.value.position == position
    assert fragment in info.value.message
    assert isinstance(info.value, NumericError)
    assert str(info.value).splitlines()[-1] == " " * position + "^"


# ---------------------------------------------------------------- property tests


def _tree(leaves: st.SearchStrategy[tuple[str, object]]) -> st.SearchStrategy[tuple[str, object]]:
    def extend(
        children: st.SearchStrategy[tuple[str, object]],
    ) -> st.SearchStrategy[tuple[str, object]]:
        binary = st.tuples(st.sampled_from(["+", "-", "*", "max", "min"]), children, children)
        unary = st.tuples(st.sampled_from(["neg", "tanh", "sigmoid", "relu", "abs", "sq"]),
                          children)
        return st.one_of(binary, unary)

    return st.recursive(leaves, extend, max_leaves=12)


_VARS = ("a", "b", "c")
_leaf = st.one_of(
    st.sampled_from(_VARS).map(lambda v: ("var", v)),
    st.floats(-4, 4, allow_nan=False).map(lambda c: ("num", round(c, 3))),
)


def _text(t: tuple, space: str) -> str:
    kind = t[0]
    if kind == "var":
        return str(t[1])
    if kind == "num":
        return f"({t[1]!r})"
    if kind in ("+", "-", "*"):
        return f"({_text(t[1], space)}{space}{kind}{space}{_text(t[2], space)})"
    if kind in ("max", "min"):
        return f"{kind}({_text(t[1], space)},{space}{_text(t[2], space)})"
    if kind == "neg":
        return f"-{_text(t[1], space)}"
    if kind == "sq":
        return f"({_text(t[1], space)})**2"
    return f"{kind}({_text(t[1], space)})"


def _build(t: tuple, leaves: dict[str, Value]) -> Value | float:
    """The same tree built by hand with the engine's operators (an explicit stack of thunks)."""
    kind = t[0]
    if kind == "var":
        return leaves[t[1]]
    if kind == "num":
        return Value(float(t[1]))
    if kind in ("+", "-", "*", "max", "min"):
        a, b = _build(t[1], leaves), _build(t[2], leaves)
        fn = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
              "max": lambda: maximum(a, b), "min": lambda: minimum(a, b)}[kind]
        return fn()
    a = _build(t[1], leaves)
    assert isinstance(a, Value)
    return {"neg": lambda: -a, "sq": lambda: a**2.0, "tanh": a.tanh, "sigmoid": a.sigmoid,
            "relu": a.relu, "abs": a.abs}[kind]()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tree=_tree(_leaf),
    at=st.tuples(*[st.floats(-3, 3, allow_nan=False)] * 3),
    space=st.sampled_from(["", " ", "  "]),
)
def test_parsed_graph_equals_hand_built_graph(tree: tuple, at: tuple, space: str) -> None:
    values = dict(zip(_VARS, at, strict=True))
    e = parse(_text(tree, space))
    used = {v: values[v] for v in e.variables}
    out, leaves = e.build(used)
    out.backward()

    mine = {v: Value(x, label=v) for v, x in used.items()}
    expected = _build(tree, mine)
    assert isinstance(expected, Value)
    expected.backward()
    assert out.data == pytest.approx(expected.data, rel=1e-12, abs=1e-300)
    for v in used:
        assert leaves[v].grad == pytest.approx(mine[v].grad, rel=1e-12, abs=1e-300)


_ALPHABET = "xyz0123456789.eE+-*/()^,[]=_ \t\nmaxinexplogsqrtabsigmoidrelu'\"λ−"


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(alphabet=_ALPHABET, max_size=40), st.text(max_size=40)))
def test_random_strings_raise_only_parse_error(text: str) -> None:
    try:
        e = parse(text)
    except ParseError as err:
        assert 0 <= err.position <= len(text)
        return
    try:
        e.build(dict.fromkeys(e.variables, 0.5))
    except EvaluationError:
        pass


@pytest.mark.parametrize(
    ("text", "expected", "dx"),
    [("+x", 2.0, 1.0), ("3 - +x", 1.0, -1.0), ("2*+x", 4.0, 2.0), ("+(x*x)", 4.0, 4.0),
     ("-+x", -2.0, -1.0), ("+-x", -2.0, -1.0)],
)
def test_unary_plus_is_the_identity(text: str, expected: float, dx: float) -> None:
    e = parse(text)
    out, leaves = e.build({"x": 2.0})
    out.backward()
    assert out.data == expected
    assert leaves["x"].grad == dx
