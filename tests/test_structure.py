"""House rules of issue 12, kept: short functions, and no code written twice inside src/."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import genepeak

PACKAGE = Path(genepeak.__file__).parent
#: a function body longer than this (docstring aside) says why, in a ``# long:`` comment
MAX_FUNCTION_LINES = 60
#: this many identical code lines in a row, found twice, is code written twice
MIN_REPEAT_LINES = 6
_THIN = re.compile(r"[\[\](){},:;]+")
#: one parameter of a signature (``self,``, ``name: type = default,``): boilerplate, not logic
_PARAMETER = re.compile(r"(self|\*|\w+: [^=]+( = .+)?),")


def _sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text() for p in sorted(PACKAGE.rglob("*.py"))}


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def long_functions(sources: dict[str, str]) -> list[str]:
    """``file:function (n lines)`` of every over-long function without a ``# long:`` reason."""
    found = []
    for name, text in sources.items():
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = _body_lines(node)
            own = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            if length > MAX_FUNCTION_LINES and "# long:" not in own:
                found.append(f"{name}:{node.name} ({length} lines)")
    return found


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line with white space folded) of every line that is code, not
    blank, comment, import, lone punctuation or one parameter of a signature."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        thin = not stripped or stripped.startswith("#") or _THIN.fullmatch(stripped)
        thin = thin or _PARAMETER.fullmatch(stripped)
        if not thin and not stripped.startswith(("import ", "from ")):
            out.append((number, " ".join(stripped.split())))
    return out


def repeated_runs(sources: dict[str, str]) -> list[str]:
    """Every run of ``MIN_REPEAT_LINES`` identical code lines that stands in two places."""
    places = defaultdict(list)
    for name, text in sources.items():
        lines = _code_lines(text)
        for start in range(len(lines) - MIN_REPEAT_LINES + 1):
            run = tuple(line for _, line in lines[start : start + MIN_REPEAT_LINES])
            places[run].append(f"{name}:{lines[start][0]}")
    return [" ~ ".join(where) for where in places.values() if len(where) > 1]


def test_the_checks_can_fail():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    long_source = f"def f():\n{body}\n"
    assert long_functions({"a.py": long_source}) == [f"a.py:f ({MAX_FUNCTION_LINES + 1} lines)"]
    assert long_functions({"a.py": long_source.replace("x0 = 0", "x0 = 0  # long: a table")}) == []
    twice = "\n".join(f"y{i} = g({i})" for i in range(MIN_REPEAT_LINES))
    assert repeated_runs({"a.py": twice, "b.py": "# other\n" + twice}) == ["a.py:1 ~ b.py:2"]
    signature = "def f(\n" + "".join(f"    p{i}: int = {i},\n" for i in range(9)) + "):\n"
    assert repeated_runs({"a.py": signature, "b.py": signature.replace("f(", "g(")}) == []


def test_no_function_is_long_without_a_reason():
    assert long_functions(_sources()) == []


def test_no_code_is_written_twice():
    assert repeated_runs(_sources()) == []
