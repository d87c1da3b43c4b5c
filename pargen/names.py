"""Names of jobs: Packer's ``-only`` escaping, stable job ids and file-safe slugs."""

from __future__ import annotations

import hashlib
import re

# gobwas/glob metacharacters; Packer compiles each comma-separated -only value as a glob.
_GLOB_SPECIAL = frozenset("*?[]{}\\")
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


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


def job_id(template_rel: str, full_name: str) -> str:
    """Stable id of a job: the template path and the full build name."""
    return f"{template_rel}:{full_name}"


def slug(text: str, limit: int = 80) -> str:
    """A file-name-safe rendering of ``text`` that stays readable and unique."""
    clean = _UNSAFE_FILE_CHARS.sub("_", text).strip("._") or "job"
    if clean == text and len(clean) <= limit:
        return clean
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{clean[:limit]}-{digest}"
