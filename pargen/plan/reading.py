"""How each discovered template is read: whole or one template per file, and its build
matrix, from pargen.hcl's ``template`` blocks and ``--matrix-var-files``."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from pargen.config import PlanOptions, TemplateRule
from pargen.packer.parse import Reading, ReadMode, TemplateSource


def readings(sources: Iterable[TemplateSource], options: PlanOptions) -> dict[str, Reading]:
    """Discovered template path -> how to read it, for those not read the default way.

    The first ``template`` block that names a template and sets a key decides that key. A
    block naming a directory also names the templates of its files read one by one. The
    command line's build matrix is for every template, and wins over pargen.hcl's.
    """
    found: dict[str, Reading] = {}
    for source in sources:
        read = _read_mode(options.templates, source.rel)
        paths = [source.rel]
        if source.kind == "hcl" and read != "whole":
            paths += [source.file_template(path).rel for path in source.files]
        matrix: dict[str, tuple[str, ...]] = {}
        for path in paths:
            names = [path] if path == source.rel else [path, source.rel]
            files = options.matrix_var_files or _matrix(options.templates, names)
            if files:
                matrix[path] = files
        if read is not None or matrix:
            found[source.rel] = Reading(read, matrix)
    return found


def _read_mode(rules: Sequence[TemplateRule], path: str) -> ReadMode | None:
    for rule in rules:
        if fnmatch.fnmatchcase(path, rule.pattern):
            if rule.read == "whole":
                return "whole"
            if rule.read == "per-file":
                return "per-file"
    return None


def _matrix(rules: Sequence[TemplateRule], names: Sequence[str]) -> tuple[str, ...]:
    for rule in rules:
        if rule.matrix_var_files is not None and any(
            fnmatch.fnmatchcase(name, rule.pattern) for name in names
        ):
            return rule.matrix_var_files
    return ()
