"""A small, safe parser for arithmetic expressions such as ``(x+y)*z`` or ``1/(1+exp(-(w0*x0+w1*x1+w2)))``.

The parser is a tokenizer plus a Pratt (precedence-climbing) parser. It accepts only

* numbers (``2``, ``0.5``, ``1e-3``; read exactly as rationals), identifiers (variables such as ``x``, ``w0``);
* the operators ``+ - * /``, unary ``-`` and ``+``, powers ``^`` or ``**`` (right-associative, binding tighter than
  unary minus: ``-x^2`` is ``-(x^2)``), parentheses;
* the functions in :data:`FUNCTIONS` (``exp``, ``log``/``ln``, ``sqrt``, ``tanh``, ``sigmoid``/``sigma``, ``max``,
  ``min``).

It builds SymPy objects directly from the tokens. It never calls ``eval``, ``exec``, ``sympify`` or ``parse_expr``,
so text such as ``__import__('os')`` is only ever a syntax error. Two trees come out:

``tree``  the expression *as written*, built with ``evaluate=False`` so that SymPy does not merge or distribute
          anything (``-(a+b)`` stays one negation, ``x/y`` stays ``x * y^-1``); :mod:`derive.graph.staged` turns its
          nodes
          into gates. ``sigmoid(u)`` is written out as its definition ``1/(1+exp(-u))``.
``expr``  the same expression evaluated normally by SymPy, for ``sympy.diff`` and numerical checks.

Sub-expressions made of numbers only are folded exactly while parsing (``2*3`` is 6), so a gate always has at
least one input that depends on a variable.

This is not a general computer-algebra input language: no implicit multiplication (write ``2*x``), no constants
such as ``pi``, no relations, no LaTeX (LaTeX input belongs to the notation layer of another issue).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import ClassVar

import sympy as sp

from numeric.errors import BadInput

__all__ = ["FUNCTIONS", "ExprSyntaxError", "ParsedExpression", "Token", "TokenKind", "evaluate_tree", "parse_at",
           "parse_expression", "sigmoid_tree", "tokenize"]

MAX_LENGTH = 2000
MAX_DEPTH = 60
#: binary operations (gates) an expression may have: a circuit beyond this is unreadable, and SymPy's recursive
#: algorithms exceed Python's stack on the left-deep trees of long sums (a 400-term sum did)
MAX_OPERATIONS = 120
#: |exponent| * log10 of the base above which a constant power is refused (it would not fit a float anyway).
MAX_CONSTANT_POWER_DIGITS = 400


class TokenKind(str, Enum):
    """What a token is (a ``str`` subclass, so a token kind still compares equal to its name)."""

    NUM = "num"
    NAME = "name"
    OP = "op"
    END = "end"


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    pos: int  # 0-based column in the input


class ExprSyntaxError(BadInput):
    """A syntax error at a known column. ``str(err)`` is one line, then the expression with a caret under it."""

    def __init__(self, message: str, text: str, pos: int):
        self.message, self.text, self.pos = message, text, pos
        shown = text.replace("\t", " ").replace("\n", " ")
        super().__init__(f"{message} (column {pos + 1})\n  {shown}\n  {' ' * pos}^")


def sigmoid_tree(u: sp.Expr) -> sp.Expr:
    """sigma(u) written out as its definition 1/(1+exp(-u)), unevaluated (as :mod:`derive.graph.staged` expects it)."""
    neg = sp.Mul(sp.Integer(-1), u, evaluate=False)
    return sp.Pow(sp.Add(sp.Integer(1), sp.exp(neg, evaluate=False), evaluate=False), sp.Integer(-1),
                  evaluate=False)


def _unary(fn) -> Callable[[list[sp.Expr]], sp.Expr]:
    return lambda args: fn(args[0], evaluate=False)


def _nary(fn) -> Callable[[list[sp.Expr]], sp.Expr]:
    def build(args: list[sp.Expr]) -> sp.Expr:
        out = args[0]
        for a in args[1:]:  # binary, left to right: max(a, b, c) = max(max(a, b), c), one gate per comparison
            out = fn(out, a, evaluate=False)
        return out

    return build


#: name -> (number of arguments (None: two or more), builder of the unevaluated tree, description)
FUNCTIONS: dict[str, tuple[int | None, Callable[[list[sp.Expr]], sp.Expr], str]] = {
    "exp": (1, _unary(sp.exp), "e^u"),
    "log": (1, _unary(sp.log), "natural logarithm"),
    "ln": (1, _unary(sp.log), "natural logarithm"),
    "sqrt": (1, lambda a: sp.Pow(a[0], sp.Rational(1, 2), evaluate=False), "square root"),
    "tanh": (1, _unary(sp.tanh), "hyperbolic tangent"),
    "sigmoid": (1, lambda a: sigmoid_tree(a[0]), "1/(1+exp(-u))"),
    "sigma": (1, lambda a: sigmoid_tree(a[0]), "1/(1+exp(-u))"),
    "max": (None, _nary(sp.Max), "largest argument"),
    "min": (None, _nary(sp.Min), "smallest argument"),
}

_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_OPS = ("**", "+", "-", "*", "/", "^", "(", ")", ",")


def _known() -> str:
    return ", ".join(FUNCTIONS)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; anything outside the arithmetic alphabet is an :class:`ExprSyntaxError`."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        m = _NUMBER.match(text, i)
        if m:
            if m.group(2) and abs(int(m.group(2)[1:])) > 300:
                raise ExprSyntaxError(f"number {m.group(0)} is out of range (|exponent| <= 300)", text, i)
            if len(m.group(0)) > 60:
                raise ExprSyntaxError("number too long (at most 60 characters)", text, i)
            tokens.append(Token(TokenKind.NUM, m.group(0), i))
            i = m.end()
            continue
        if not ch.isascii():
            hint = " (write sigma(x) for σ(x))" if ch == "σ" else ""
            raise ExprSyntaxError(f"unexpected character {ch!r}: EXPR is ASCII{hint}", text, i)
        if ch == "_" or ch.isalpha():
            m = _NAME.match(text, i)
            if m is None or ch == "_":
                raise ExprSyntaxError(
                    "names start with a letter; EXPR is arithmetic, not Python code", text, i)
            tokens.append(Token(TokenKind.NAME, m.group(0), i))
            i = m.end()
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is None:
            what = {"'": "a quote", '"': "a quote", ".": "'.'", "=": "'='", "[": "'['", "]": "']'"}.get(ch, repr(ch))
            raise ExprSyntaxError(
                f"unexpected character {what}: EXPR may use numbers, names, + - * / ^ ** ( ) , and the functions "
                f"{_known()}", text, i)
        tokens.append(Token(TokenKind.OP, op, i))
        i += len(op)
    tokens.append(Token(TokenKind.END, "", len(text)))
    return tokens


@dataclass(frozen=True)
class ParsedExpression:
    """An expression as written (``tree``, unevaluated) and evaluated (``expr``), with its variables by name."""

    text: str
    tree: sp.Expr
    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]  # in order of first appearance

    def symbol(self, name: str) -> sp.Symbol:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)


def _check_constant(value: sp.Expr, text: str, pos: int) -> sp.Expr:
    if value.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ExprSyntaxError("division by zero in a constant", text, pos)
    if value.is_extended_real is False:
        raise ExprSyntaxError("this constant is not a real number (log or sqrt of a negative number?)", text, pos)
    return value


def _fold_power(base: sp.Expr, exp: sp.Expr, text: str, pos: int) -> sp.Expr:
    """base^exp for two numbers, refusing powers whose size would be absurd."""
    b, e = abs(float(base)), abs(float(exp))
    if b not in (0.0, 1.0) and e * abs(math.log10(b)) > MAX_CONSTANT_POWER_DIGITS:
        raise ExprSyntaxError("constant power too large", text, pos)
    return sp.Pow(base, exp)


class _Parser:
    """Pratt parser over the token list; every parse method returns an unevaluated SymPy tree."""

    # binding powers: + - 10, * / 20, unary - 30, ^ 40 (right-associative)
    _INFIX: ClassVar[dict[str, int]] = {"+": 10, "-": 10, "*": 20, "/": 20, "^": 40, "**": 40}

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.operations = 0
        self.symbols: dict[str, sp.Symbol] = {}

    # ----- helpers -------------------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, tok: Token | None = None) -> ExprSyntaxError:
        return ExprSyntaxError(message, self.text, (tok or self.tok).pos)

    def expect(self, op: str, why: str) -> Token:
        if self.tok.kind is TokenKind.OP and self.tok.text == op:
            self.i += 1
            return self.tokens[self.i - 1]
        raise self.error(f"expected '{op}' {why}, found {self._describe(self.tok)}")

    @staticmethod
    def _describe(tok: Token) -> str:
        return "the end of the expression" if tok.kind is TokenKind.END else f"'{tok.text}'"

    # ----- grammar -------------------------------------------------------------------------------------------
    def parse(self) -> sp.Expr:
        if self.tok.kind is TokenKind.END:
            raise self.error("empty expression")
        tree = self.expression(0)
        if self.tok.kind is not TokenKind.END:
            tok = self.tok
            if tok.text == ")":
                raise self.error("unmatched ')': no '(' is open here")
            juxtaposed = tok.kind in (TokenKind.NUM, TokenKind.NAME) or tok.text == "("
            hint = " (write * for multiplication)" if juxtaposed else ""
            raise self.error(f"expected an operator or the end, found {self._describe(tok)}{hint}")
        return tree

    def expression(self, min_bp: int) -> sp.Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        left = self.prefix()
        while self.tok.kind is TokenKind.OP and self.tok.text in self._INFIX:
            op = self.tok
            bp = self._INFIX[op.text]
            if bp < min_bp or (bp == min_bp and op.text not in ("^", "**")):
                break
            self.i += 1
            right = self.expression(bp if op.text in ("^", "**") else bp + 1)
            left = self.combine(op, left, right)
        self.depth -= 1
        return left

    def prefix(self) -> sp.Expr:
        tok = self.tok
        if tok.kind is TokenKind.OP and tok.text in ("-", "+"):
            self.i += 1
            operand = self.expression(30)
            if tok.text == "+":
                return operand
            if operand.is_number:
                return _check_constant(-operand, self.text, tok.pos)
            return sp.Mul(sp.Integer(-1), operand, evaluate=False)
        if tok.kind is TokenKind.NUM:
            self.i += 1
            frac = Fraction(tok.text)
            return sp.Rational(frac.numerator, frac.denominator)
        if tok.kind is TokenKind.OP and tok.text == "(":
            self.i += 1
            inner = self.expression(0)
            self.expect(")", "to close the '(' opened at column " + str(tok.pos + 1))
            return inner
        if tok.kind is TokenKind.NAME:
            self.i += 1
            if self.tok.kind is TokenKind.OP and self.tok.text == "(":
                return self.call(tok)
            if tok.text in FUNCTIONS:
                raise self.error(f"'{tok.text}' is a function: write {tok.text}(...)", tok)
            if tok.text not in self.symbols:
                self.symbols[tok.text] = sp.Symbol(tok.text, real=True)
            return self.symbols[tok.text]
        if tok.kind is TokenKind.END:
            raise self.error("the expression ends too early: a number, name or '(' is missing")
        raise self.error(f"unexpected '{tok.text}': a number, name or '(' is expected here")

    def call(self, name: Token) -> sp.Expr:
        if name.text not in FUNCTIONS:
            raise self.error(f"unknown function '{name.text}'; known functions: {_known()}", name)
        arity, build, _ = FUNCTIONS[name.text]
        open_paren = self.expect("(", "after a function name")
        args = [self.expression(0)]
        while self.tok.kind is TokenKind.OP and self.tok.text == ",":
            self.i += 1
            args.append(self.expression(0))
        self.expect(")", f"to close {name.text}( opened at column {open_paren.pos + 1}")
        if arity is not None and len(args) != arity:
            raise self.error(f"{name.text} takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}", name)
        if arity is None and len(args) < 2:
            raise self.error(f"{name.text} takes two or more arguments, got {len(args)}", name)
        tree = build(args)
        if tree.is_number:
            return _check_constant(evaluate_tree(tree), self.text, name.pos)
        return tree

    def combine(self, op: Token, left: sp.Expr, right: sp.Expr) -> sp.Expr:
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            raise self.error(f"more than {MAX_OPERATIONS} operations: too large for a computational graph; graph "
                             "a smaller part of it", op)
        if left.is_number and right.is_number:  # fold constants exactly
            if op.text in ("^", "**"):
                return _check_constant(_fold_power(left, right, self.text, op.pos), self.text, op.pos)
            if op.text == "/" and right == 0:
                raise self.error("division by zero in a constant", op)
            value = {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
                     "/": lambda: left / right}[op.text]()
            return _check_constant(value, self.text, op.pos)
        if op.text == "+":
            return sp.Add(left, right, evaluate=False)
        if op.text == "-":
            neg = -right if right.is_number else sp.Mul(sp.Integer(-1), right, evaluate=False)
            return sp.Add(left, neg, evaluate=False)
        if op.text == "*":
            return sp.Mul(left, right, evaluate=False)
        if op.text == "/":
            if right.is_number:
                if right == 0:
                    raise self.error("division by zero", op)
                return sp.Mul(left, 1 / right, evaluate=False)
            inv = sp.Pow(right, sp.Integer(-1), evaluate=False)
            return inv if left == 1 else sp.Mul(left, inv, evaluate=False)
        return sp.Pow(left, right, evaluate=False)  # ^ or **


def evaluate_tree(tree: sp.Expr) -> sp.Expr:
    """The unevaluated ``tree`` rebuilt with SymPy's normal evaluation (merging, cancelling, distributing)."""
    if not tree.args or isinstance(tree, (sp.Symbol, sp.Number)):
        return tree
    return tree.func(*[evaluate_tree(a) for a in tree.args])


def parse_expression(text: str) -> ParsedExpression:
    """Parse ``text`` into a :class:`ParsedExpression`; raises :class:`ExprSyntaxError` / ``BadInput``.

    >>> p = parse_expression("(x+y)*z")
    >>> p.tree.args, [v.name for v in p.variables]
    ((x + y, z), ['x', 'y', 'z'])
    >>> parse_expression("1/(1+exp(-u))").expr
    1/(1 + exp(-u))
    """
    if not isinstance(text, str):
        raise BadInput("EXPR must be text")
    if len(text) > MAX_LENGTH:
        raise BadInput(f"EXPR is {len(text)} characters long; at most {MAX_LENGTH} are accepted")
    parser = _Parser(text)
    tree = parser.parse()
    expr = evaluate_tree(tree)
    return ParsedExpression(text, tree, expr, tuple(parser.symbols.values()))


# ----- The point the graph is evaluated at (--at) --------------------------------------------------------------
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?")


def parse_at(text: str) -> dict[str, Fraction]:
    """``"x=-2,y=5,z=-4"`` -> {"x": -2, "y": 5, "z": -4} (exact decimals); BadInput if malformed.

    >>> parse_at("x=-2, y=0.5")
    {'x': Fraction(-2, 1), 'y': Fraction(1, 2)}
    """
    out: dict[str, Fraction] = {}
    if not text or not text.strip():
        raise BadInput("--at is empty: give values as name=number pairs, e.g. --at x=-2,y=5,z=-4")
    for item in text.split(","):
        name, eq, number = item.partition("=")
        name, number = name.strip(), number.strip()
        if not eq or not name or not number:
            raise BadInput(f"--at: '{item.strip()}' is not name=number (e.g. --at x=-2,y=5,z=-4)")
        if not (name[0].isalpha() and name.replace("_", "a").isalnum() and name.isascii()):
            raise BadInput(f"--at: '{name}' is not a variable name (a letter, then letters, digits or _)")
        m = _DECIMAL.fullmatch(number)
        if m is None or len(number) > 60:
            raise BadInput(f"--at: the value of {name}, '{number}', is not a decimal number (e.g. -2, 0.5, 1e-3)")
        value = Fraction(number)
        if value and not 1e-300 < abs(value) < 1e300:
            raise BadInput(f"--at: the value of {name}, '{number}', is outside the float64 range")
        if name in out:
            raise BadInput(f"--at gives {name} twice")
        out[name] = value
    return out
