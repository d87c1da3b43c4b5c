"""Tests for what a template says about other templates and the disk: the HCP Packer buckets it
publishes and reads (pargen.packer.hcp) and the output directories of its builds
(pargen.packer.outputs), read through pargen.packer.parse."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pargen.packer.parse import ParsedTemplate, VarInputs, discover, parse_template
from tests.helpers import write_tree

NULL = 'source "null" "a" {\n  communicator = "none"\n}\n'


def parse(root: Path, text: str, inputs: VarInputs | None = None) -> ParsedTemplate:
    write_tree(root, {"main.pkr.hcl": text})
    (template,), problems = discover(root)
    assert problems == []
    return parse_template(template, root, inputs or VarInputs())


def buckets(template: ParsedTemplate) -> tuple[list[str], list[str]]:
    return [b.name for b in template.publishes], [b.name for b in template.reads]


# -- HCP Packer buckets -------------------------------------------------------------------------


def test_a_registry_in_the_build_publishes_its_bucket(tmp_path: Path) -> None:
    text = NULL + (
        'variable "env" {\n  default = "prod"\n}\n'
        'build {\n  sources = ["null.a"]\n'
        '  hcp_packer_registry {\n    bucket_name = "base-${var.env}"\n  }\n}\n'
    )
    template = parse(tmp_path, text)
    assert buckets(template) == (["base-prod"], [])
    assert (template.publishes[0].path, template.publishes[0].line) == ("main.pkr.hcl", 9)


def test_a_variable_from_a_var_file_names_the_bucket(tmp_path: Path) -> None:
    write_tree(tmp_path, {"v.pkrvars.hcl": 'env = "dev"\n'})
    text = NULL + (
        'variable "env" {\n  default = "prod"\n}\n'
        'locals {\n  bucket = "base-${var.env}"\n}\n'
        "hcp_packer_registry {\n  bucket_name = local.bucket\n}\n"
        'build {\n  sources = ["null.a"]\n}\n'
    )
    inputs = VarInputs(var_files=(str(tmp_path / "v.pkrvars.hcl"),))
    assert buckets(parse(tmp_path, text, inputs)) == (["base-dev"], [])


def test_a_lone_named_build_publishes_under_its_name(tmp_path: Path) -> None:
    text = (
        NULL + 'build {\n  name = "golden"\n  sources = ["null.a"]\n  hcp_packer_registry {}\n}\n'
    )
    assert buckets(parse(tmp_path, text)) == (["golden"], [])


def test_no_registry_publishes_nothing(tmp_path: Path) -> None:
    text = NULL + 'build {\n  name = "golden"\n  sources = ["null.a"]\n}\n'
    assert buckets(parse(tmp_path, text)) == ([], [])


def test_the_top_level_registry_wins_over_the_build_one(tmp_path: Path) -> None:
    text = NULL + (
        'hcp_packer_registry {\n  bucket_name = "top"\n}\n'
        'build {\n  sources = ["null.a"]\n'
        '  hcp_packer_registry {\n    bucket_name = "inner"\n  }\n}\n'
    )
    assert buckets(parse(tmp_path, text)) == (["top"], [])


def test_data_sources_read_buckets_directly_or_through_each_other(tmp_path: Path) -> None:
    text = NULL + (
        'variable "parent" {\n  default = "base"\n}\n'
        'data "hcp-packer-version" "golden" {\n'
        '  bucket_name  = "golden-base"\n  channel_name = "production"\n}\n'
        'data "hcp-packer-artifact" "east" {\n'
        "  bucket_name         = data.hcp-packer-version.golden.bucket_name\n"
        "  version_fingerprint = data.hcp-packer-version.golden.fingerprint\n"
        '  platform            = "aws"\n}\n'
        'data "hcp-packer-iteration" "old" {\n  bucket_name = var.parent\n}\n'
        'data "hcp-packer-image" "older" {\n'
        "  bucket_name  = data.hcp-packer-iteration.old.bucket_name\n}\n"
        'data "amazon-ami" "ubuntu" {\n  region = "eu-west-1"\n}\n'
        'build {\n  sources = ["null.a"]\n}\n'
    )
    template = parse(tmp_path, text)
    assert sorted(buckets(template)[1]) == ["base", "base", "golden-base", "golden-base"]
    assert template.warnings == ()


def test_a_bucket_pargen_cannot_compute_is_a_warning(tmp_path: Path) -> None:
    text = NULL + (
        'data "amazon-ami" "ubuntu" {\n  region = "eu-west-1"\n}\n'
        'data "hcp-packer-version" "x" {\n  bucket_name = data.amazon-ami.ubuntu.name\n}\n'
        'build {\n  sources = ["null.a"]\n}\n'
    )
    template = parse(tmp_path, text)
    assert buckets(template) == ([], [])
    assert [str(w) for w in template.warnings] == [
        "main.pkr.hcl:8:17: pargen cannot compute the bucket this data source reads "
        "(data.amazon-ami is only known while Packer runs; only the bucket_name of the "
        "hcp-packer data sources is known before), so no template waits for it here; "
        "add an after edge in pargen.hcl if one must"
    ]


# -- output directories -------------------------------------------------------------------------


def outputs(root: Path, files: Mapping[str, str]) -> dict[str, str | None]:
    """Full build name -> the output directory (relative to ROOT) of the one template."""
    write_tree(root, files)
    (template,), problems = discover(root)
    assert problems == []
    return {b.name: b.output_dir for b in parse_template(template, root, VarInputs()).builds}


def test_builders_write_output_of_the_source_label_by_default(tmp_path: Path) -> None:
    text = (
        'source "qemu" "vm" {\n  headless = true\n}\n'
        'source "null" "n" {\n  communicator = "none"\n}\n'
        'build {\n  sources = ["source.qemu.vm", "source.null.n"]\n'
        '  source "source.qemu.vm" {\n    name = "other"\n  }\n}\n'
    )
    # A build's own name for a source does not change the directory: it is the label's.
    assert outputs(tmp_path, {"img/main.pkr.hcl": text}) == {
        "qemu.vm": "img/output-vm",
        "null.n": None,
        "qemu.other": "img/output-vm",
    }


def test_an_output_directory_is_computed_relative_to_root(tmp_path: Path) -> None:
    text = (
        'variable "os" {\n  default = "ubuntu"\n}\n'
        'locals {\n  out = "${path.root}/../builds/${var.os}"\n}\n'
        'source "virtualbox-iso" "vm" {\n  output_directory = "${local.out}-vbox"\n}\n'
        'source "vagrant" "box" {\n  output_dir = "boxes/${var.os}"\n}\n'
        'source "qemu" "q" {\n  output_directory = source.name\n}\n'
        'build {\n  sources = ["virtualbox-iso.vm", "vagrant.box", "qemu.q"]\n}\n'
    )
    assert outputs(tmp_path, {"t/main.pkr.hcl": text}) == {
        "virtualbox-iso.vm": "builds/ubuntu-vbox",
        "vagrant.box": "t/boxes/ubuntu",
        "qemu.q": None,  # not known before Packer runs: nothing to compare
    }
