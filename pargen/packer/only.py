"""Packer's ``-only`` matching: the value that selects exactly one full build name."""

from __future__ import annotations

# gobwas/glob metacharacters; Packer compiles each comma-separated -only value as a glob.
_GLOB_SPECIAL = frozenset("*?[]{}\\")


def only_pattern(full_name: str) -> str:
    """The ``-only`` value that selects exactly ``full_name`` and nothing else.

    A comma cannot be escaped (Packer splits on it before compiling), so it becomes ``?``,
    which matches a comma among other characters; no other name can differ only there
    without also being selected, which the plan checks.
    """
    out: list[str] = []
    for char in full_name:
        if char == ",":
            out.append("?")
        elif char in _GLOB_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)
