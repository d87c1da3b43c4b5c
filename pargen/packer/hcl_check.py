"""HCL native syntax checked by HashiCorp's own parser, the one Packer reads templates with.

pygohcl wraps HashiCorp's HCL library. python-hcl2 (which pargen evaluates with) is laxer in
places and is handed only the bodies that decide build names, so a file is checked whole here
first: every syntax error, wherever it is, with the message and position Packer reports.

The Go runtime inside pygohcl must never be entered in a process forked after it started:
it is imported on first use only, and pargen.packer.parse chooses how its workers start.
"""

from __future__ import annotations

import re
import sys

from pargen.packer.expressions import TemplateError, Where

# pygohcl names every input "tmp.hcl"; a diagnostic reads "tmp.hcl:L,C-[L,]C: Summary; Detail"
# and several are joined with ", ".
_DIAGNOSTIC = re.compile(r"(?:^|, )tmp\.hcl:(\d+),(\d+)-(?:\d+,)?\d+: ")
_PREFIX = "invalid HCL: "


class SyntaxErrors(TemplateError):
    """Every syntax error HCL found in one file: each is a problem of its own."""

    def __init__(self, errors: list[TemplateError]) -> None:
        super().__init__(errors[0].where, errors[0].message)
        self.errors = errors


def go_runtime_loaded() -> bool:
    """Whether this process has started the Go runtime (a fork of it must not call it)."""
    return "pygohcl" in sys.modules


def check_native(text: str, path: str) -> None:
    """Raise SyntaxErrors when HCL rejects ``text`` (the contents of ``path``)."""
    errors = syntax_errors(text, path)
    if errors:
        raise SyntaxErrors(errors)


def syntax_errors(text: str, path: str) -> list[TemplateError]:
    """What HCL's parser rejects in ``text``, in file order; [] for valid HCL."""
    nul = text.find("\0")
    if nul >= 0:
        # The text reaches Go as a C string, which would end at the NUL byte.
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        return [
            TemplateError(
                Where(path, line, col),
                "Invalid character; the file holds a NUL byte, which HCL does not allow: remove it",
            )
        ]
    import pygohcl  # noqa: PLC0415 - see the module docstring

    try:
        pygohcl.loads(text)
    except pygohcl.HCLParseError as err:
        return _diagnostics(str(err), path)
    except pygohcl.HCLInternalError:
        # HCL parsed the file; only pygohcl's conversion of it into a dict failed.
        return []
    return []


def _diagnostics(raw: str, path: str) -> list[TemplateError]:
    body = raw.removeprefix(_PREFIX)
    starts = list(_DIAGNOSTIC.finditer(body))
    if not starts:
        return [TemplateError(Where(path, 0, 0), f"{body.strip()}; fix the file")]
    errors: list[TemplateError] = []
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(body)
        text = body[start.end() : end].strip().removesuffix(";").strip()
        where = Where(path, int(start.group(1)), int(start.group(2)))
        errors.append(TemplateError(where, text))
    return sorted(errors, key=lambda err: (err.where.line, err.where.col))
