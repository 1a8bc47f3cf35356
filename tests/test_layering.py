"""The architecture's rules, checked: import costs and dependency direction."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("radar", "nlp", "ingestion", "taxonomy", "search", "insights", "training", "api")
# who may import whom (besides the bottom layer `radar`, importable by all)
ALLOWED = {
    "radar": set(),
    "nlp": set(),
    "taxonomy": {"nlp"},
    "search": {"nlp"},
    "training": {"nlp", "taxonomy"},
    "ingestion": {"nlp", "search"},
    "insights": {"search", "taxonomy", "nlp"},
    "api": {"nlp", "taxonomy", "search", "insights", "training", "ingestion"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_dependencies_point_one_way() -> None:
    problems = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for imported in _imports(path) - {package, "radar"}:
                if imported not in ALLOWED[package]:
                    problems.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not problems, problems


def test_importing_nlp_and_taxonomy_does_not_import_torch() -> None:
    code = (
        "import sys, nlp, nlp.tokenizer, nlp.sentiment, taxonomy, taxonomy.labeler; print('torch' in sys.modules, 'jieba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]
