"""A small, safe expression language that builds a :class:`~chainrule.Value` graph.

Grammar (Python's precedence and associativity)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("-" | "+") unary | power
    power  := atom ("**" unary)?              # right-associative: 2**3**2 = 2**9
    atom   := NUMBER | NAME | FUNC "(" expr ("," expr)* ")" | "(" expr ")"

so ``-x**2`` is ``-(x**2)`` and ``2**-1`` is ``0.5``. ``FUNC`` is one of ``exp log sigmoid tanh
relu abs sqrt`` (one argument) or ``max min`` (two). Every other name is a variable.

The text is never handed to ``eval`` or Python's ``ast``: a hand-written tokenizer accepts only
the characters above, so attributes, subscripts, lambdas and imports cannot even be spelled.
Parsing is the shunting-yard algorithm over an explicit operator stack and building the graph is a
loop over the resulting postfix program, so neither recurses: 10,000 nested parentheses cost a
clear :class:`ParseError` (the depth limit), never a ``RecursionError``. All limits are checked
before any graph is built.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chainrule.errors import ChainruleError, NumericError
from chainrule.i18n import N_, _, ngettext, number

if TYPE_CHECKING:
    from chainrule.value import Value

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NODES",
    "BindingError",
    "EvaluationError",
    "Expression",
    "ParseError",
    "parse",
]

MAX_LENGTH = 100_000
"""Longest accepted expression, in characters."""
MAX_NODES = 5_000
"""Most numbers, variables, operators and calls in one expression (≈ gates in the circuit)."""
MAX_DEPTH = 100
"""Deepest parenthesis nesting (a call's parentheses count too)."""

FUNCTIONS: dict[str, int] = {
    "exp": 1, "log": 1, "sigmoid": 1, "tanh": 1, "relu": 1, "abs": 1, "sqrt": 1,
    "max": 2, "min": 2,
}
"""The callable names and how many arguments each takes."""

_WINDOW = 72  # columns of context shown around a caret in very long expressions


# ---------------------------------------------------------------- errors


def caret_lines(text: str, position: int) -> tuple[str, str]:
    """The line of ``text`` around ``position`` and a line with ``^`` under that column.

    Whitespace that would break alignment (tabs, newlines) is shown as a space, and very long
    text is cut to a window with ``…`` on the cut sides.
    """
    flat = re.sub(r"\s", " ", text)
    position = max(0, min(position, len(flat)))
    start = 0
    if len(flat) > _WINDOW:
        start = max(0, min(position - _WINDOW // 2, len(flat) - _WINDOW))
    shown = flat[start:start + _WINDOW]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + _WINDOW < len(flat) else ""
    return prefix + shown + suffix, " " * (len(prefix) + position - start) + "^"


class _Located:
    """Mixin: an error that points at a character of the expression."""

    message: str
    text: str
    position: int

    def caret(self) -> str:
        """The expression with a ``^`` under the offending character (two lines)."""
        line, mark = caret_lines(self.text, self.position)
        return f"{line}\n{mark}"

    def __str__(self) -> str:
        return f"{self.message}\n{self.caret()}"


class ParseError(_Located, ChainruleError, ValueError):
    """The text is not an expression of the language.

    ``position`` is the 0-based index of the offending character (``len(text)`` for “ended too
    early”); ``str(error)`` shows the message and a caret under that position.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(message)
        self.message, self.text, self.position = message, text, position


class EvaluationError(_Located, NumericError):
    """A gate left the real numbers at the given values (log of −1, exp(1000), 1/0)."""

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(message)
        self.message, self.text, self.position = message, text, position


class BindingError(ChainruleError, ValueError):
    """A variable has no value, or a value was given for a name the expression does not use."""


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*/(),])
    """,
    re.VERBOSE | re.ASCII,
)

# Characters people reach for, with what to write instead.
_HINTS = {
    "^": N_("use ** for powers (x**2)"),
    "[": N_("there is no indexing; use one variable per number"),
    "]": N_("there is no indexing; use one variable per number"),
    ".": N_("there are no attributes; call functions as exp(x)"),
    "=": N_("write only the expression; give values with --at x=1"),
    "×": N_("use * for multiplication"),
    "·": N_("use * for multiplication"),
    "−": N_("use the ASCII minus sign -"),
}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number" | "name" | "op" | "end"
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, n = 0, len(text)
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            ch = text[pos]
            hint = _(_HINTS.get(ch, N_("allowed are numbers, names, + - * / ** ( ) and commas")))
            raise ParseError(_("unexpected character {char!r}: {hint}").format(
                char=ch, hint=hint), text, pos)
        kind = m.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(_Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(_Token("end", "", n))
    return tokens


# ---------------------------------------------------------------- parsing to a postfix program

# Binary operators: (precedence, right-associative). Unary signs sit between * and **.
_BINARY = {"+": (1, False), "-": (1, False), "*": (2, False), "/": (2, False), "**": (4, True)}
_UNARY_PREC = 3
_OPERAND_HINT = N_("a number, a variable, a function call or '('")


@dataclass(frozen=True, slots=True)
class Instr:
    """One step of the postfix program: push a number or variable, or apply an operator.

    ``kind`` is ``"num"`` (``value``), ``"var"`` (``name``), ``"unary"`` / ``"binary"`` (``name``
    is the operator) or ``"call"`` (``name`` is the function). ``pos`` points into the text.
    """

    kind: str
    name: str
    pos: int
    value: float = 0.0
    text: str = ""


@dataclass
class _Frame:
    """An open parenthesis on the operator stack; ``func`` is set for a call's parentheses."""

    pos: int
    func: str | None
    func_pos: int
    args: int = 1


def _check_limits(text: str, tokens: list[_Token], max_nodes: int, max_depth: int) -> None:
    depth = 0
    nodes = 0
    for tok in tokens:
        if tok.text == "(":
            depth += 1
            if depth > max_depth:
                raise ParseError(_(
                    "parentheses nest deeper than {depth} levels; split the expression into "
                    "smaller ones").format(depth=max_depth), text, tok.pos)
        elif tok.text == ")":
            depth -= 1
        elif tok.kind in ("number", "name") or tok.text in _BINARY:
            nodes += 1
            if nodes > max_nodes:
                raise ParseError(_(
                    "the expression has more than {count} terms and operators; a circuit that "
                    "large cannot be read").format(count=number(max_nodes, ",")), text, tok.pos)


def _compile(text: str, tokens: list[_Token]) -> list[Instr]:
    """Shunting-yard: tokens → postfix program, with a message for every way to go wrong."""
    out: list[Instr] = []
    stack: list[Instr | _Frame] = []  # operators and open parentheses
    expect_operand = True
    i = 0
    while True:
        tok = tokens[i]
        i += 1
        if expect_operand:
            if tok.kind == "number":
                value = float(tok.text)
                if math.isinf(value):
                    raise ParseError(_("the number {number} is too large for a float").format(
                                         number=tok.text),
                                     text, tok.pos)
                out.append(Instr("num", tok.text, tok.pos, value, tok.text))
                expect_operand = False
            elif tok.kind == "name":
                name = tok.text
                called = tokens[i].text == "("
                if name in FUNCTIONS:
                    if not called:
                        raise ParseError(_("{name} is a function: write {name}(...)").format(
                                             name=name),
                                         text, tok.pos)
                    stack.append(_Frame(tokens[i].pos, name, tok.pos))
                    i += 1
                elif called:
                    known = ", ".join(FUNCTIONS)
                    raise ParseError(_("unknown function {name!r}; the functions are "
                                       "{known}").format(name=name, known=known),
                                     text, tok.pos)
                elif keyword.iskeyword(name):
                    raise ParseError(_("{name!r} is a Python keyword, not a variable "
                                       "name").format(name=name),
                                     text, tok.pos)
                else:
                    out.append(Instr("var", name, tok.pos))
                    expect_operand = False
            elif tok.text in ("-", "+"):
                stack.append(Instr("unary", tok.text, tok.pos))
            elif tok.text == "(":
                stack.append(_Frame(tok.pos, None, tok.pos))
            elif tok.kind == "end":
                message = (_("the expression is empty: expected {operand}")
                           if tokens[0].kind == "end" else
                           _("the expression ends too early: expected {operand}"))
                raise ParseError(message.format(operand=_(_OPERAND_HINT)), text, tok.pos)
            else:
                raise ParseError(_("expected {operand}, found {token!r}").format(
                    operand=_(_OPERAND_HINT), token=tok.text), text, tok.pos)
            continue

        # Expecting an operator, a ')' , a ',' or the end.
        if tok.text in _BINARY:
            prec, right = _BINARY[tok.text]
            while stack and isinstance(stack[-1], Instr):
                top = stack[-1]
                top_prec = _UNARY_PREC if top.kind == "unary" else _BINARY[top.name][0]
                if top_prec > prec or (top_prec == prec and not right):
                    _emit(out, stack.pop())  # type: ignore[arg-type]
                else:
                    break
            stack.append(Instr("binary", tok.text, tok.pos))
            expect_operand = True
        elif tok.text in (")", ",", "") and tok.kind in ("op", "end"):
            while stack and isinstance(stack[-1], Instr):
                _emit(out, stack.pop())  # type: ignore[arg-type]
            if tok.kind == "end":
                if stack:
                    frame = stack[-1]
                    assert isinstance(frame, _Frame)
                    raise ParseError(_("this '(' is never closed"), text, frame.pos)
                return out
            if not stack:
                what = _("')' has no matching '('") if tok.text == ")" else _(
                    "',' outside a call: only max(a, b) and min(a, b) take two arguments")
                raise ParseError(what, text, tok.pos)
            frame = stack[-1]
            assert isinstance(frame, _Frame)
            if tok.text == ",":
                if frame.func is None or frame.args >= FUNCTIONS[frame.func]:
                    message = (_("unexpected ',' inside parentheses: {arity}")
                               if frame.func is None else
                               _("unexpected ',' in {func}(): {arity}"))
                    raise ParseError(message.format(func=frame.func,
                                                    arity=_arity_text(frame.func)),
                                     text, tok.pos)
                frame.args += 1
                expect_operand = True
            else:
                stack.pop()
                if frame.func is not None:
                    if frame.args != FUNCTIONS[frame.func]:
                        raise ParseError(_("{func}() is missing an argument: {arity}").format(
                            func=frame.func, arity=_arity_text(frame.func)), text, tok.pos)
                    out.append(Instr("call", frame.func, frame.func_pos))
        else:
            hint = _("write 2*x, not 2x") if tok.kind in ("number", "name") or tok.text == "(" \
                else _("expected an operator")
            raise ParseError(_("expected an operator (+ - * / **), ')' or the end, found "
                               "{token!r}: {hint}").format(token=tok.text, hint=hint),
                             text, tok.pos)


def _arity_text(func: str | None) -> str:
    if func is None:
        return _("only max(a, b) and min(a, b) take two arguments")
    n = FUNCTIONS[func]
    return ngettext("{func} takes {n} argument", "{func} takes {n} arguments", n).format(
        func=func, n=n)


def _emit(out: list[Instr], op: Instr) -> None:
    # A minus applied directly to a literal is a negative literal: `x**-2` then keeps a constant
    # exponent, and the picture shows the number -2 rather than a negate gate on 2.
    if op.kind == "unary" and op.name == "+":
        return  # unary plus is the identity: no gate at all
    if op.kind == "unary" and out and out[-1].kind == "num":
        lit = out[-1]
        out[-1] = Instr("num", lit.name, op.pos, -lit.value, "-" + lit.text)
        return
    out.append(op)


# ---------------------------------------------------------------- building the graph


def _functions() -> dict[str, Callable[..., Any]]:
    from chainrule.value import maximum, minimum

    return {
        "exp": lambda a: a.exp(), "log": lambda a: a.log(), "sigmoid": lambda a: a.sigmoid(),
        "tanh": lambda a: a.tanh(), "relu": lambda a: a.relu(), "abs": lambda a: a.abs(),
        "sqrt": lambda a: a.sqrt(), "max": maximum, "min": minimum,
    }


_BINARY_FN: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "**": lambda a, b: a**b,
}

_DESCRIBE = {"+": N_("addition"), "-": N_("subtraction"), "*": N_("multiplication"),
             "/": N_("division"), "**": N_("power")}


@dataclass(frozen=True)
class Expression:
    """A parsed expression: the source text and its postfix program.

    ``variables`` lists the variable names in order of first appearance.
    """

    text: str
    program: tuple[Instr, ...]
    variables: tuple[str, ...]

    def leaves(self, values: Mapping[str, float]) -> dict[str, Value]:
        """One labelled leaf ``Value`` per variable (a variable used twice is one node)."""
        from chainrule.value import Value

        missing = [v for v in self.variables if v not in values]
        if missing:
            given = " ".join(f"{v}=..." for v in missing)
            raise BindingError(_("no value for {names}: give {given}").format(
                names=", ".join(missing), given=given))
        unused = [v for v in values if v not in self.variables]
        if unused:
            raise BindingError(ngettext(
                "{names} does not appear in {text!r} (its variables: {variables})",
                "{names} do not appear in {text!r} (its variables: {variables})",
                len(unused)).format(names=", ".join(unused), text=self.text,
                                    variables=", ".join(self.variables) or _("none")))
        bad = [v for v in self.variables if not math.isfinite(float(values[v]))]
        if bad:
            raise BindingError(_("{names} must be a finite number").format(
                names=", ".join(bad)))
        return {v: Value(float(values[v]), label=v) for v in self.variables}

    def build(self, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
        """The graph at ``values``: ``(output, {name: leaf})``.

        Numbers become labelled constant leaves, except an exponent that is constant, which is
        handed to the engine as a plain float (the ``pow_const`` gate, whose gradient needs no
        log of the base and so also works for negative bases).
        """
        leaves = self.leaves(values)
        return self.build_from(leaves), leaves

    def build_from(self, leaves: Mapping[str, Any]) -> Value:
        """The graph on the given leaf nodes, one per variable name."""
        from chainrule.value import Value

        funcs = _functions()
        # Stack entries: (node or float, constant?) — constants stay floats until an operator
        # needs a node, so a constant exponent can reach the engine as a number.
        stack: list[tuple[Any, bool]] = []
        for ins in self.program:
            try:
                if ins.kind == "num":
                    stack.append((ins.value, True))
                    continue
                if ins.kind == "var":
                    stack.append((leaves[ins.name], False))
                    continue
                if ins.kind == "binary":
                    (b, b_const), (a, a_const) = stack.pop(), stack.pop()
                    if ins.name == "**" and b_const:
                        b = float(b.data) if isinstance(b, Value) else b
                    else:
                        b = _node(b, b_const, ins)
                    result = _BINARY_FN[ins.name](_node(a, a_const, ins), b)
                    stack.append((result, a_const and b_const))
                elif ins.kind == "unary":
                    a, a_const = stack.pop()
                    stack.append((-_node(a, a_const, ins), a_const))
                else:
                    args = [stack.pop() for _ in range(FUNCTIONS[ins.name])][::-1]
                    nodes = [_node(a, c, ins) for a, c in args]
                    stack.append((funcs[ins.name](*nodes), all(c for _, c in args)))
            except (ArithmeticError, ValueError) as exc:
                if isinstance(exc, ParseError):  # pragma: no cover - cannot happen here
                    raise
                raise EvaluationError(_failure(ins, exc), self.text, ins.pos) from exc
            data = _data(stack[-1][0])
            if not math.isfinite(data):
                raise EvaluationError(
                    _("{what} gives {value}: the value left the finite numbers here").format(
                        what=_what(ins), value=data),
                    self.text, ins.pos)
        (result, _constant), = stack
        return result if isinstance(result, Value) else Value(result, label=str(result))

    def __call__(self, **values: float) -> float:
        """The value of the expression at ``values`` (builds the graph; see :meth:`build`)."""
        return float(self.build(values)[0].data)


def _node(x: Any, const: bool, ins: Instr) -> Any:
    from chainrule.value import Value

    if isinstance(x, Value):
        return x
    text = repr(x) if not float(x).is_integer() else str(int(x)) if abs(x) < 1e15 else repr(x)
    return Value(float(x), label=text)


def _data(x: Any) -> float:
    return float(getattr(x, "data", x))


def _what(ins: Instr) -> str:
    if ins.kind == "call":
        return f"{ins.name}(...)"
    if ins.kind == "unary":
        return _("negation")
    return _(_DESCRIBE[ins.name]) if ins.name in _DESCRIBE else ins.name


def _failure(ins: Instr, exc: BaseException) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return _("{what} cannot be computed at these values: {detail}").format(
        what=_what(ins), detail=detail)


# ---------------------------------------------------------------- entry point


def parse(
    text: str,
    *,
    max_length: int = MAX_LENGTH,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> Expression:
    """Parse ``text`` into an :class:`Expression`; raise :class:`ParseError` on any mistake.

    >>> e = parse("(x + y) * z")
    >>> e.variables
    ('x', 'y', 'z')
    """
    if not isinstance(text, str):
        raise ParseError(_("an expression is text, not {kind}").format(
            kind=type(text).__name__), "", 0)
    if len(text) > max_length:
        raise ParseError(
            _("the expression is {length} characters long; the limit is {limit}").format(
                length=number(len(text), ","), limit=number(max_length, ",")),
            text, max_length)
    tokens = _tokenize(text)
    _check_limits(text, tokens, max_nodes, max_depth)
    program = _compile(text, tokens)
    names = dict.fromkeys(ins.name for ins in program if ins.kind == "var")
    return Expression(text, tuple(program), tuple(names))
