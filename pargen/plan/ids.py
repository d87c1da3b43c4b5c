"""Names of jobs: stable job ids and the file-safe slugs their logs are named by."""

from __future__ import annotations

import hashlib
import re

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
# What a shell (or GNU parallel joining a command line) never treats specially.
_LABEL_CHARS = re.compile(r"[^A-Za-z0-9._:/@+-]")


def job_id(variant: str, full_name: str) -> str:
    """Stable id of a job: its template (see :func:`variant_key`) and its full build name."""
    return f"{variant}:{full_name}"


def variant_key(template_rel: str, var_file: str | None) -> str:
    """A template as the ids of its jobs name it: its path, and for a build matrix the var
    file (relative to ROOT) it is built with, ``<template>@<var file>``."""
    return template_rel if var_file is None else f"{template_rel}@{var_file}"


def slug(text: str, limit: int = 80) -> str:
    """A file-name-safe rendering of ``text`` that stays readable and unique."""
    clean = _UNSAFE_FILE_CHARS.sub("_", text).strip("._") or "job"
    if clean == text and len(clean) <= limit:
        return clean
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{clean[:limit]}-{digest}"


def joblog_label(job_id: str) -> str:
    """``job_id`` as GNU parallel's joblog shows it: every character outside letters, digits
    and ``._:/@+-`` written ``%XX`` (UTF-8), so that it passes through parallel's command
    line as one plain word whatever the template's names hold."""
    return _LABEL_CHARS.sub(
        lambda m: "".join(f"%{byte:02X}" for byte in m.group(0).encode()), job_id
    )
