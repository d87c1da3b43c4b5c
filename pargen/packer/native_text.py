"""Text-level preparation of HCL native syntax before python-hcl2 parses it.

Every change keeps each line's number, so positions in messages stay true:

- skim: the bodies of blocks that never decide a build name or an edge (top-level ``source``
  and ``data`` blocks but those named below; a build's provisioners and post-processors)
  become one comment. The
  parser is pure Python and costs ~10 µs per token, most of them in those bodies; a syntax
  error inside them is found first by pargen.packer.hcl_check, which reads the whole file
  with HashiCorp's own parser. The contents of
  ``required_plugins`` and of a variable's ``validation`` blocks go the same way.
- close_heredocs / relax_strip_markers: work-arounds for python-hcl2 8.1, which rejects
  valid templates with blanks after a heredoc's closing marker or ``${~ ... ~}``.

The same pass (scan) finds what python-hcl2 reads differently from Packer: invalid escapes
in quoted strings (it keeps them) and a string never closed (it reports a later token).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEREDOC_START = re.compile(r"<<-?([A-Za-z][\w.-]*)\r?$")

TOP_LEVEL_SKIPPED = frozenset({"source", "data"})
BUILD_SKIPPED = frozenset(
    {
        "provisioner",
        "post-processor",
        "post-processors",
        "error-cleanup-provisioner",
    }
)
# The source and data blocks whose bodies are read all the same: builders that write a local
# output directory (pargen.packer.outputs), and HCP Packer's data sources, whose bucket makes
# a template wait for another (pargen.packer.hcp).
OUTPUT_BUILDERS = frozenset(
    {
        "hyperv-iso",
        "hyperv-vmcx",
        "lxc",
        "parallels-iso",
        "parallels-pvm",
        "qemu",
        "vagrant",
        "virtualbox-iso",
        "virtualbox-ovf",
        "virtualbox-vm",
        "vmware-iso",
        "vmware-vmx",
    }
)
HCP_READERS = frozenset(
    {"hcp-packer-version", "hcp-packer-iteration", "hcp-packer-artifact", "hcp-packer-image"}
)
_READ = {"source": OUTPUT_BUILDERS, "data": HCP_READERS}

_TOKEN = re.compile(
    r"""
      (?P<newline>\n)
    | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
    | (?P<heredoc><<-?(?P<marker>[A-Za-z][\w.-]*)[ \t]*\r?\n)
    | (?P<string>"(?:[^"\\$%\n]|\\.|[$%](?!\{))*")
    | (?P<quote>")
    | (?P<open>\{)
    | (?P<close>\})
    | (?P<nest>[(\[])
    | (?P<unnest>[)\]])
    | (?P<word>[A-Za-z_][\w-]*)
    | (?P<blank>[ \t\r]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def close_heredocs(text: str) -> str:
    """Strip blanks after a heredoc's closing marker (python-hcl2 8.1 rejects them)."""
    if "<<" not in text:
        return text
    lines = text.split("\n")
    marker: str | None = None
    for number, line in enumerate(lines):
        if marker is None:
            match = _HEREDOC_START.search(line)
            marker = match.group(1) if match else None
        elif line.strip() == marker:
            lines[number] = line.rstrip(" \t\r") + ("\r" if line.endswith("\r") else "")
            marker = None
    return "\n".join(lines)


def relax_strip_markers(text: str) -> str | None:
    """``${~ x ~}`` as ``${  x  }`` (same columns), or None when there is none."""
    if "~}" not in text and "${~" not in text:
        return None
    return text.replace("${~", "${ ").replace("~}", " }")


@dataclass
class _Frame:
    block_type: str | None
    """None for the braces of an expression (an object, a for expression)."""
    skipped: bool = False
    nesting: int = 0
    """Open ( and [ in this frame: a newline inside them does not end a statement."""
    header: list[str] | None = field(default_factory=list)
    """Words and labels of the statement being read, while it may still be a block header."""


@dataclass(frozen=True)
class Scan:
    """What one pass of the tokenizer learns about a file's text."""

    skimmed: str
    """The text with the bodies of skipped blocks blanked; the text itself if it looks broken."""
    bad_escapes: tuple[int, ...]
    """Offset of the backslash of each invalid escape in a quoted string, skipped bodies too."""
    unclosed_string: int | None
    """Offset of the opening quote of the first string that is never closed, if any."""


def scan(text: str) -> Scan:
    scanner = _Scanner(text)
    ranges = scanner.skipped_bodies()
    return Scan(_blank(text, ranges), tuple(scanner.bad_escapes), scanner.unclosed_string)


def skim(text: str) -> str:
    """``text`` with the bodies of skipped blocks blanked; unchanged if it cannot be read."""
    return scan(text).skimmed


def _blank(text: str, ranges: list[tuple[int, int]]) -> str:
    if not ranges:
        return text
    out: list[str] = []
    position = 0
    for start, end in ranges:
        middle = text[start:end]
        out.append(text[position:start])
        # Only the newlines matter (line numbers); a long comment is slow to lex.
        out.append("/*" + "\n" * middle.count("\n") + "*/")
        position = end
    out.append(text[position:])
    return "".join(out)


# A backslash and what it escapes; group 1 is set when that is not a valid escape.
_ESCAPE = re.compile(r'\\(?:[nrt"\\]|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|([^\n]?))')


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.bad_escapes: list[int] = []
        self.unclosed_string: int | None = None

    def skipped_bodies(self) -> list[tuple[int, int]]:
        """(start, end) of the bodies to blank, in order; [] when the text looks broken."""
        text = self.text
        stack = [_Frame("")]
        ranges: list[tuple[int, int]] = []
        opened: list[int] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            assert match is not None
            kind = match.lastgroup
            frame = stack[-1]
            position = match.end()
            if kind == "newline":
                if frame.block_type is not None and frame.nesting == 0:
                    frame.header = []
            elif kind in ("word", "string", "quote"):
                word = match.group()
                if kind == "quote":
                    end = self.string_end(position)
                    if end < 0:
                        self.unclosed_string = match.start()
                        return []
                    word = text[match.start() : end + 1]
                    position = end + 1
                elif kind == "string" and "\\" in word:
                    self.check_escapes(match.start(), position)
                if frame.header is not None and (frame.header or kind == "word"):
                    frame.header.append(word)
                else:
                    frame.header = None
            elif kind == "heredoc":
                end = _heredoc_end(text, position, match.group("marker"))
                if end < 0:
                    return []
                position = end
                frame.header = None
            elif kind == "open":
                child = _Frame(None, header=None)
                if frame.header:
                    child = _Frame(frame.header[0], _skipped(stack, frame.header))
                stack.append(child)
                opened.append(position)
                frame.header = None
            elif kind == "close":
                if len(stack) == 1:
                    return []
                closed = stack.pop()
                start = opened.pop()
                if closed.skipped and position - 1 - start > 0:
                    ranges.append((start, position - 1))
            elif kind == "nest":
                frame.nesting += 1
                frame.header = None
            elif kind == "unnest":
                frame.nesting = max(frame.nesting - 1, 0)
                frame.header = None
            elif kind == "other":
                frame.header = None
        if len(stack) != 1:
            return []
        # Only the outermost skipped bodies: nested ones are inside them already.
        outermost: list[tuple[int, int]] = []
        for start, end in sorted(ranges):
            if not outermost or start >= outermost[-1][1]:
                outermost.append((start, end))
        return outermost

    def check_escapes(self, start: int, end: int) -> None:
        for match in _ESCAPE.finditer(self.text, start, end):
            if match.group(1) is not None:
                self.bad_escapes.append(match.start())

    def string_end(self, index: int) -> int:
        """Index of the quote closing a string whose content starts at ``index``; -1 if none."""
        text = self.text
        while index < len(text):
            char = text[index]
            if char == "\\":
                match = _ESCAPE.match(text, index)
                assert match is not None
                if match.group(1) is not None:
                    self.bad_escapes.append(index)
                index = max(match.end(), index + 1)
                continue
            if char == '"':
                return index
            if char == "\n":
                return -1
            if char in "$%" and text.startswith("{", index + 1):
                if text.startswith(char, index - 1) and index > 0:
                    index += 2  # "$${" and "%%{" are literal text
                    continue
                end = self.template_end(index + 2)
                if end < 0:
                    return -1
                index = end + 1
                continue
            index += 1
        return -1

    def template_end(self, index: int) -> int:
        """Index of the ``}`` closing an interpolation or directive opened before ``index``."""
        text = self.text
        depth = 0
        while index < len(text):
            char = text[index]
            if char == '"':
                index = self.string_end(index + 1)
                if index < 0:
                    return -1
            elif char == "{":
                depth += 1
            elif char == "}":
                if depth == 0:
                    return index
                depth -= 1
            index += 1
        return -1


def _skipped(stack: list[_Frame], header: list[str]) -> bool:
    block_type = header[0]
    if len(stack) == 1:
        kept = len(header) > 1 and header[1].strip('"') in _READ.get(block_type, ())
        return block_type in TOP_LEVEL_SKIPPED and not kept
    if len(stack) != 2:
        return False
    parent = stack[-1].block_type
    if parent == "build":
        if block_type == "dynamic":
            return len(header) > 1 and header[1].strip('"') != "source"
        return block_type in BUILD_SKIPPED
    # The block itself stays (pargen asks whether it is there), its contents go.
    return (parent, block_type) in (("packer", "required_plugins"), ("variable", "validation"))


def _heredoc_end(text: str, position: int, marker: str) -> int:
    """Index just past the line that closes a heredoc whose body starts at ``position``."""
    while position <= len(text):
        newline = text.find("\n", position)
        line_end = len(text) if newline < 0 else newline
        if text[position:line_end].strip() == marker:
            return line_end
        if newline < 0:
            return -1
        position = newline + 1
    return -1


def interpolation_end(text: str, index: int) -> int:
    """Index of the ``}`` closing the ``${`` or ``%{`` opened just before ``index``; -1 if none."""
    return _Scanner(text).template_end(index)
