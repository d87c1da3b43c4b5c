"""Where a build writes its local output directory, so that two jobs writing one are caught.

Packer's builders that write a local directory name it ``output-<source name>`` unless the
source sets ``output_directory`` (the vagrant builder: ``output_dir``). The name is the source
block's own label, whatever ``name`` a build gives it (``packer_build_name`` in
hcl2template/types.source.go), so every build of one source shares it. A relative path is
relative to the directory Packer runs in.
"""

from __future__ import annotations

from collections.abc import Sequence

from pargen.packer.expressions import Scope, TemplateError, evaluate
from pargen.packer.native_syntax import Attribute, Body
from pargen.packer.native_text import OUTPUT_BUILDERS
from pargen.packer.values import Value
from pargen.packer.variables import InputVariables, LocalValues

# The builders of Packer 1.6.6 whose output directory defaults to output-<source name>
# (vsphere writes one only with an export block, so it is left out).
OUTPUT_ATTRIBUTE = {
    builder: "output_dir" if builder == "vagrant" else "output_directory"
    for builder in OUTPUT_BUILDERS
}

# Each build runs from its template's directory, given as "." or a file in it: path.root is
# then ".", and path.cwd is that same directory.
_PATH: Value = {"root": ".", "cwd": "."}


class _Locals(LocalValues):
    """Locals as a source body sees them: with ``path``, which build names never need."""

    def __init__(self, definitions: dict[str, Attribute], variables: InputVariables) -> None:
        super().__init__(definitions, variables)
        self.scope = self.scope.child({"path": _PATH})


def output_scope(definitions: dict[str, Attribute], variables: InputVariables) -> Scope:
    """What a source body's ``output_directory`` may use: var, local, path and functions."""
    locals_ = _Locals(definitions, variables)
    return Scope(
        {"var": variables, "local": locals_, "path": _PATH}, functions=True, place="in a source"
    )


def output_directory(
    source_type: str, label: str, bodies: Sequence[Body], scope: Scope
) -> str | None:
    """The directory a build of source ``source_type`` ``label`` writes, relative to where
    Packer runs; None when its builder writes none or pargen cannot compute it.

    ``bodies`` are the source block's body and what the build adds to it (Packer merges them
    and refuses an argument set in both).
    """
    attribute_name = OUTPUT_ATTRIBUTE.get(source_type)
    if attribute_name is None:
        return None
    for body in bodies:
        try:
            attribute = body.attribute(attribute_name)
            if attribute is None:
                continue
            value = evaluate(attribute.expression(), scope)
        except TemplateError:
            return None
        if value == "":
            break  # an empty string is the default
        return value if isinstance(value, str) else None
    return f"output-{label}"
