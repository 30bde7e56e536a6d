"""docs/gradcheck.md stays true: its Python blocks run, in order, and print the diagnoses the page quotes."""

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "gradcheck.md"


def test_every_python_block_of_the_gradcheck_page_runs_and_prints_what_it_quotes():
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)  # our own documentation, not user input
    printed = out.getvalue()
    for quoted in ("a mask missing or too permissive", "the 1/m of the mean is missing", "xm with m = 5"):
        assert quoted in printed, printed
