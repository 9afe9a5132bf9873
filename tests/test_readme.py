"""The README's Python snippets are run exactly as a user would copy them."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
ALL_SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
# The onnxruntime snippet loads an exported model and a user's file: tests/predict/test_readme_onnx.py
# runs it with both in place.
SNIPPETS = [snippet for snippet in ALL_SNIPPETS if "onnxruntime" not in snippet]


def test_readme_has_snippets():
    assert SNIPPETS, "README.md lost its Python snippets"


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs_and_prints_the_shapes_it_promises(snippet, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, str(README), "exec"), {"__name__": "__readme__"})
    promised = re.findall(r"^print\(.*\)\s*# (\([\d, ]+\))", snippet, flags=re.MULTILINE)
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("torch.Size")]
    assert printed == [f"torch.Size([{shape.strip('()')}])" for shape in promised]
