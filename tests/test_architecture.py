"""The direction of imports, checked rather than hoped for (README, Architecture).

- No package of survey/ imports another package's view modules (a module that defines a
  Blueprint): views sit at the end of the chain, nothing builds on them.
- survey/registry imports no other package of survey/ (it is reference data everyone reads).
- Only create_app imports survey/commands.
- analysis/ and questionnaires/ stay pure: no Flask, no SQLAlchemy, nothing from survey/.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SURVEY = ROOT / "survey"
PACKAGES = sorted(p.name for p in SURVEY.iterdir() if (p / "__init__.py").exists() and p.name != "models")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, absolute (relative imports resolved; `from x import y` counts
    x and x.y, since y may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def view_modules() -> set[str]:
    return {module_name(p) for p in python_files(SURVEY) if "Blueprint(" in p.read_text(encoding="utf-8")}


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "survey" and parts[1] in PACKAGES else None


def test_the_checker_sees_the_packages_and_views():
    assert {"citizen", "qr", "registry", "reporting", "ops", "commands", "staff"} <= set(PACKAGES)
    assert {"survey.citizen.views", "survey.qr.api"} <= view_modules()
    assert "survey.db" in imported_modules(SURVEY / "citizen" / "views.py")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_another_packages_views(package):
    views = view_modules()
    wrong = []
    for path in python_files(SURVEY / package):
        for module in imported_modules(path):
            if module in views and package_of(module) != package:
                wrong.append(f"{path.relative_to(ROOT)} imports the view module {module}")
    assert not wrong, "\n".join(wrong)


def test_registry_imports_no_other_package():
    wrong = [f"{p.relative_to(ROOT)} imports {m}" for p in python_files(SURVEY / "registry")
             for m in imported_modules(p) if package_of(m) not in (None, "registry")]
    assert not wrong, "\n".join(wrong)


def test_only_create_app_imports_the_commands():
    wrong = [f"{p.relative_to(ROOT)} imports {m}" for p in python_files(SURVEY)
             if p != SURVEY / "__init__.py" and package_of(module_name(p)) != "commands"
             for m in imported_modules(p) if package_of(m) == "commands"]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("folder", ["analysis", "questionnaires"])
def test_pure_packages_import_no_web_or_database(folder):
    forbidden = ("flask", "sqlalchemy", "werkzeug", "survey")
    wrong = [f"{p.relative_to(ROOT)} imports {m}" for p in python_files(ROOT / folder)
             for m in imported_modules(p) if m.split(".")[0] in forbidden]
    assert not wrong, "\n".join(wrong)
