"""Check that the built wheel ships every module of pargen and its Jinja templates.

Builds a wheel from a clean copy of the repository (so a stale build/ directory cannot hide
a missing file), then checks that it holds every ``pargen/**/*.py`` of the repository (a
subpackage missing from pyproject.toml's package list is caught here) and, for every
``templates/*.j2`` in the repository, ``pargen/templates/<name>.j2`` with the same content.
Prints nothing and exits 0 when all is well; otherwise says what is wrong and exits 1.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Tool state and build products: never part of what the wheel is built from.
IGNORED_ANYWHERE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".pargen",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "packer_cache",
    "output-*",
)
IGNORED_AT_ROOT = frozenset({"build", "dist"})


def ignored(directory: str, names: list[str]) -> set[str]:
    skip = set(IGNORED_ANYWHERE(directory, names))
    if Path(directory) == ROOT:
        skip |= IGNORED_AT_ROOT.intersection(names)
    return skip


def build_wheel(workdir: Path) -> Path:
    source = workdir / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=ignored)
    outdir = workdir / "dist"
    command = [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(
            f"check_wheel: building the wheel failed ({' '.join(command)}):\n"
            f"{result.stdout}{result.stderr}"
        )
    wheels = sorted(outdir.glob("*.whl"))
    if len(wheels) != 1:
        sys.exit(f"check_wheel: expected one wheel in {outdir}, found {len(wheels)}")
    return wheels[0]


def problems_in(wheel: Path, templates: list[Path], modules: list[Path]) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        problems = []
        for module in modules:
            member = module.relative_to(ROOT).as_posix()
            if member not in names:
                problems.append(f"{member} is missing")
        for template in templates:
            member = f"pargen/templates/{template.name}"
            if member not in names:
                problems.append(f"{member} is missing (from templates/{template.name})")
            elif archive.read(member) != template.read_bytes():
                problems.append(f"{member} differs from templates/{template.name}")
        expected = {f"pargen/templates/{t.name}" for t in templates}
        for member in sorted(names):
            shipped = member.startswith("pargen/templates/") and member.endswith(".j2")
            if shipped and member not in expected:
                problems.append(f"{member} has no source in templates/")
    return problems


def main() -> int:
    templates = sorted((ROOT / "templates").glob("*.j2"))
    if not templates:
        print(
            "check_wheel: no templates/*.j2 files in the repository: pargen renders its "
            "script from them, so there must be at least one",
            file=sys.stderr,
        )
        return 1
    modules = sorted((ROOT / "pargen").rglob("*.py"))
    with tempfile.TemporaryDirectory(prefix="pargen-wheel-") as tmp:
        wheel = build_wheel(Path(tmp))
        problems = problems_in(wheel, templates, modules)
    if problems:
        print(f"check_wheel: the wheel {wheel.name} is incomplete:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(
            "  check [tool.setuptools] packages, package-dir and package-data in pyproject.toml",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
