"""The arithmetic parser: structure as written, precedence, exact numbers, and clear errors with a caret."""

import builtins
import re
from pathlib import Path

import pytest
import sympy as sp

from derive.graph.exprparse import FUNCTIONS, ExprSyntaxError, evaluate_tree, parse_expression, sigmoid_tree, tokenize
from numeric.errors import BadInput

x, y, z, a, b = sp.symbols("x y z a b", real=True)


def test_the_tree_keeps_the_expression_as_written():
    p = parse_expression("(x+y)*z")
    assert isinstance(p.tree, sp.Mul) and p.tree.args == (sp.Add(x, y, evaluate=False), z)
    assert [v.name for v in p.variables] == ["x", "y", "z"]


def test_a_negated_sum_stays_one_negation_instead_of_being_distributed():
    p = parse_expression("-(a+b)")
    assert p.tree.args == (-1, sp.Add(a, b, evaluate=False))
    assert p.expr == -a - b


def test_division_is_multiplication_by_a_reciprocal():
    p = parse_expression("x/y")
    assert p.tree.args == (x, sp.Pow(y, -1, evaluate=False))
    assert parse_expression("1/y").tree == sp.Pow(y, -1, evaluate=False)


def test_precedence_and_associativity():
    assert parse_expression("-x^2").expr == -(x**2)
    assert parse_expression("2^3^2*x").expr == 512 * x  # right-associative power
    assert parse_expression("x**2").expr == x**2
    assert parse_expression("a-b-x").expr == a - b - x  # left-associative minus
    assert parse_expression("a/b/x").expr == a / (b * x)
    assert parse_expression("x+y*z").expr == x + y * z
    assert parse_expression("(x+y)*z").expr == (x + y) * z
    assert parse_expression("+x - -y").expr == x + y


def test_numbers_are_read_exactly():
    assert parse_expression("0.1*x").tree.args[0] == sp.Rational(1, 10)
    assert parse_expression("1e-3*x").tree.args[0] == sp.Rational(1, 1000)
    assert parse_expression(".5*x").tree.args[0] == sp.Rational(1, 2)


def test_constants_are_folded_so_every_gate_depends_on_a_variable():
    p = parse_expression("2*3*x + exp(0)")
    assert p.tree == sp.Add(sp.Mul(6, x, evaluate=False), 1, evaluate=False)


def test_sigmoid_is_its_definition():
    p = parse_expression("sigmoid(x)")
    assert p.tree == sigmoid_tree(x)
    assert p.expr == 1 / (1 + sp.exp(-x))
    assert parse_expression("sigma(x)").tree == p.tree


def test_functions_build_unevaluated_gates():
    p = parse_expression("exp(log(x))")  # SymPy would simplify this to x; the tree keeps both gates
    assert isinstance(p.tree, sp.exp) and isinstance(p.tree.args[0], sp.log)
    assert p.expr == x
    assert parse_expression("ln(x)").expr == sp.log(x)
    assert parse_expression("tanh(x) + sqrt(y)").expr == sp.tanh(x) + sp.sqrt(y)
    m = parse_expression("max(x, y, 0)").tree
    assert isinstance(m, sp.Max) and len(m.args) == 2  # binary: one gate per comparison
    assert evaluate_tree(m) == sp.Max(x, y, 0)


def test_tokenizer_reports_columns():
    toks = tokenize("x ** 2")
    assert [(t.kind, t.text, t.pos) for t in toks] == [("name", "x", 0), ("op", "**", 2), ("num", "2", 5),
                                                       ("end", "", 6)]


BAD = [
    ("__import__('os')", "not Python code", 0),
    ("foo(x)", "unknown function 'foo'; known functions: exp, log", 0),
    ("(x+y))*z", "unmatched ')'", 5),
    ("(x+y", "expected ')'", 4),
    ("x+", "ends too early", 2),
    ("2x", "write * for multiplication", 1),
    ("exp", "'exp' is a function", 0),
    ("x.real", "unexpected character '.'", 1),
    ("os.system('ls')", "unexpected character '.'", 2),
    ("1/0 + x", "division by zero", 1),
    ("x/0", "division by zero", 1),
    ("max(x)", "two or more arguments", 0),
    ("exp(x, y)", "exp takes 1 argument, got 2", 0),
    ("9^9^9^9*x", "constant power too large", 3),
    ("lambda: x", "unexpected character ':'", 6),
    ("x; y", "unexpected character ';'", 1),
    ("x = 1", "unexpected character '='", 2),
    ("log(-1) + x", "not a real number", 0),
    ("1e999*x", "out of range", 0),
    ("", "empty expression", 0),
    ("x*)", "a number, name or '(' is expected", 2),
    ("x + σ(y)", "write sigma(x) for σ(x)", 4),
    ("x × y", "EXPR is ASCII", 2),
]


@pytest.mark.parametrize(("text", "fragment", "column"), BAD)
def test_bad_input_names_the_problem_and_its_column(text, fragment, column):
    with pytest.raises(ExprSyntaxError) as err:
        parse_expression(text)
    assert isinstance(err.value, BadInput)
    assert fragment in err.value.message
    assert err.value.pos == column
    first, shown, caret = str(err.value).split("\n")
    assert f"(column {column + 1})" in first
    assert shown == "  " + text
    assert caret == "  " + " " * column + "^"


def test_unknown_function_lists_every_known_function():
    with pytest.raises(BadInput) as err:
        parse_expression("softplus(x)")
    for name in FUNCTIONS:
        assert name in str(err.value).split("\n")[0]


def test_nesting_and_length_are_bounded():
    with pytest.raises(BadInput, match="nested too deeply"):
        parse_expression("(" * 200 + "x" + ")" * 200)
    with pytest.raises(BadInput, match="at most"):
        parse_expression("x+" * 2000 + "x")


def test_parsing_never_calls_eval_or_exec(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    p = parse_expression("(x + sigma(y)) / (sigma(x) + (x+y)^2) + max(x, 2) - log(tanh(y)^2)")
    assert len(p.variables) == 2
    with pytest.raises(BadInput):
        parse_expression("__import__('os').system('true')")


def test_the_module_has_no_route_to_eval_sympify_or_parse_expr():
    source = Path(__file__).resolve().parents[1].joinpath("derive", "graph", "exprparse.py").read_text()
    body = source.split('"""', 2)[2]  # after the module docstring, which names them to say they are not used
    for pattern in (r"\beval\(", r"\bexec\(", r"\bsympify\b", r"\bparse_expr\b", r"\bS\(", r"(?<![.\w])compile\("):
        assert not re.search(pattern, body), pattern
