"""The layouts of three public repositories, as small copies written here: what pargen plans
for each, checked as a new user would read it.

- rgl/windows-vagrant: complete templates side by side in the root, built as files;
- chef/bento: one template directory built once per OS var file (``os_pkrvars/**``), the
  sources chosen by a variable;
- hashicorp/learn-packer-hcp-golden-image: sibling directories linked by HCP Packer buckets.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import pargen_in, write_tree


def variables(*names: str) -> str:
    return "".join(f'variable "{n}" {{\n  type    = string\n  default = "{n}"\n}}\n' for n in names)


PLUGINS = """
packer {
  required_plugins {
    qemu = {
      version = ">= 1.0.0"
      source  = "github.com/hashicorp/qemu"
    }
  }
}
"""


# -- rgl/windows-vagrant: one template per file --------------------------------------------------


def windows(version: str) -> str:
    """Three hypervisors' sources under one label, as the repository names them."""
    label = f"windows-{version}-uefi-amd64"
    sources = "".join(
        f'source "{kind}" "{label}" {{\n  iso_url = var.iso_url\n}}\n'
        for kind in ("qemu", "proxmox-iso", "hyperv-iso")
    )
    listed = ", ".join(f'"source.{k}.{label}"' for k in ("qemu", "proxmox-iso", "hyperv-iso"))
    return (
        PLUGINS
        + variables("disk_size", "iso_url", "vagrant_box")
        + sources
        + f"build {{\n  sources = [{listed}]\n"
        + '  post-processor "vagrant" {\n    output = var.vagrant_box\n  }\n}\n'
    )


def vsphere(version: str) -> str:
    label = f"windows-{version}-uefi-amd64"
    return (
        variables("iso_url", "vsphere_host")
        + f'source "vsphere-iso" "{label}" {{\n  vcenter_server = var.vsphere_host\n}}\n'
        + f'build {{\n  sources = ["source.vsphere-iso.{label}"]\n}}\n'
    )


WINDOWS_VAGRANT = {
    "windows-2022-uefi.pkr.hcl": windows("2022"),
    "windows-2022-uefi-vsphere.pkr.hcl": vsphere("2022"),
    "windows-2025-uefi.pkr.hcl": windows("2025"),
    "windows-2025-uefi-vsphere.pkr.hcl": vsphere("2025"),
    "windows-2022-uefi/autounattend.xml": "<unattend/>\n",
    "windows-evaluation-isos.json": '{"windows-2022": {"url": "x"}}\n',
    "Makefile": "build:\n\tpacker build -only=qemu.windows-2022-uefi-amd64 x.pkr.hcl\n",
}


def test_windows_vagrant_builds_each_root_file_as_a_template(tmp_path: Path) -> None:
    write_tree(tmp_path, WINDOWS_VAGRANT)
    done = pargen_in(tmp_path, "plan")
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "pargen: note: .: read as 4 templates, one per file with a build (packer build FILE), "
        "since its files cannot be loaded together (windows-2022-uefi.pkr.hcl:13: duplicate "
        'variable "iso_url", first declared at windows-2022-uefi-vsphere.pkr.hcl:1); to '
        'choose, set read in pargen.hcl: template "." { read = "whole" }\n'
    )
    assert done.stdout.splitlines()[:6] == [
        "windows-2022-uefi-vsphere.pkr.hcl  (1 job)",
        "  windows-2022-uefi-vsphere.pkr.hcl:vsphere-iso.windows-2022-uefi-amd64",
        "windows-2022-uefi.pkr.hcl  (3 jobs)",
        "  windows-2022-uefi.pkr.hcl:qemu.windows-2022-uefi-amd64",
        "  windows-2022-uefi.pkr.hcl:proxmox-iso.windows-2022-uefi-amd64",
        "  windows-2022-uefi.pkr.hcl:hyperv-iso.windows-2022-uefi-amd64",
    ]
    assert done.stdout.splitlines()[-2] == "8 jobs in 4 template(s)"
    jobs = json.loads(pargen_in(tmp_path, "plan", "--format", "json").stdout)["jobs"]
    assert {(j["template"], j["workdir"], j["target"]) for j in jobs} == {
        (name, ".", name) for name in WINDOWS_VAGRANT if name.endswith(".pkr.hcl")
    }
    assert all(j["after"] == [] for j in jobs)


def test_windows_vagrant_runs_packer_init_per_file(tmp_path: Path) -> None:
    write_tree(tmp_path, WINDOWS_VAGRANT)
    script = pargen_in(tmp_path, "render").stdout
    assert "readonly INIT_DIRS=(. .)\n" in script
    assert "readonly INIT_TARGETS=(windows-2022-uefi.pkr.hcl windows-2025-uefi.pkr.hcl)\n" in script


# -- chef/bento: one template, one var file per OS ----------------------------------------------

BENTO_VARIABLES = """
variable "os_name" {
  type = string
}
variable "os_version" {
  type = string
}
variable "os_arch" {
  type = string
}
variable "is_windows" {
  type    = bool
  default = false
}
variable "sources_enabled" {
  type = list(string)
  default = [
    "source.parallels-iso.vm",
    "source.qemu.vm",
    "source.virtualbox-iso.vm",
  ]
}
variable "output_directory" {
  type    = string
  default = null
}
"""
BENTO_SOURCES = """
data "host-info" "this" {}

locals {
  host_os          = try(data.host-info.this.os_type, "unknown")
  build_name       = "packer-${var.os_name}-${var.os_version}-${var.os_arch}"
  output_directory = (
    var.output_directory == null
    ? "${path.root}/../builds/build_files/${local.build_name}"
    : var.output_directory
  )
}

source "hyperv-iso" "vm" {
  output_directory = "${local.output_directory}-hyperv"
}
source "parallels-ipsw" "vm" {
  output_directory = "${local.output_directory}-parallels"
}
source "parallels-iso" "vm" {
  output_directory = "${local.output_directory}-parallels"
}
source "qemu" "vm" {
  output_directory = "${local.output_directory}-qemu"
}
source "virtualbox-iso" "vm" {
  output_directory = "${local.output_directory}-virtualbox"
}
"""
BENTO_BUILDER = """
build {
  sources = var.sources_enabled

  provisioner "shell" {
    scripts = ["${path.root}/scripts/${var.os_name}/cleanup.sh"]
    except  = var.is_windows ? ["qemu.vm"] : null
  }
}
"""


def os_vars(name: str, version: str, arch: str, extra: str = "") -> str:
    return f'os_name = "{name}"\nos_version = "{version}"\nos_arch = "{arch}"\n' + extra


BENTO = {
    "packer_templates/pkr-plugins.pkr.hcl": PLUGINS,
    "packer_templates/pkr-variables.pkr.hcl": BENTO_VARIABLES,
    "packer_templates/pkr-sources.pkr.hcl": BENTO_SOURCES,
    "packer_templates/pkr-builder.pkr.hcl": BENTO_BUILDER,
    "os_pkrvars/debian/debian-13-x86_64.pkrvars.hcl": os_vars("debian", "13", "x86_64"),
    "os_pkrvars/ubuntu/ubuntu-24.04-aarch64.pkrvars.hcl": os_vars("ubuntu", "24.04", "aarch64"),
    "os_pkrvars/ubuntu/ubuntu-24.04-x86_64.pkrvars.hcl": os_vars("ubuntu", "24.04", "x86_64"),
    "os_pkrvars/macos/macos-15-aarch64.pkrvars.hcl": os_vars(
        "macos", "15", "aarch64", 'sources_enabled = ["source.parallels-ipsw.vm"]\n'
    ),
    "os_pkrvars/windows/windows-11-x86_64.pkrvars.hcl": os_vars(
        "windows", "11", "x86_64", "is_windows = true\n"
    ),
    "builds/.gitkeep": "",
}
MATRIX = "os_pkrvars/**/*.pkrvars.hcl"


def test_bento_plans_the_template_once_per_os_var_file(tmp_path: Path) -> None:
    write_tree(tmp_path, BENTO)
    done = pargen_in(tmp_path, "plan", "--matrix-var-files", MATRIX)
    assert done.returncode == 0, done.stderr
    # hyperv-iso is enabled by no var file: the one unused source of the whole matrix.
    assert done.stderr == (
        "pargen: warning: 1 source block is not used by any build (in 1 file, with these "
        "variables); pargen plan --unused-sources lists them\n"
    )
    lines = done.stdout.splitlines()
    assert lines[:3] == [
        "packer_templates@os_pkrvars/debian/debian-13-x86_64.pkrvars.hcl  (3 jobs)",
        "  packer_templates@os_pkrvars/debian/debian-13-x86_64.pkrvars.hcl:parallels-iso.vm",
        "  packer_templates@os_pkrvars/debian/debian-13-x86_64.pkrvars.hcl:qemu.vm",
    ]
    assert "packer_templates@os_pkrvars/macos/macos-15-aarch64.pkrvars.hcl  (1 job)" in lines
    assert lines[-2] == "13 jobs in 1 template(s), 5 with their matrix var files"


def test_bento_jobs_each_get_their_os_var_file(tmp_path: Path) -> None:
    write_tree(tmp_path, BENTO)
    done = pargen_in(tmp_path, "plan", "--matrix-var-files", MATRIX, "--format", "json")
    jobs = json.loads(done.stdout)["jobs"]
    macos = [j for j in jobs if "macos" in j["id"]]
    assert [(j["name"], j["var_file"], j["workdir"]) for j in macos] == [
        ("parallels-ipsw.vm", "os_pkrvars/macos/macos-15-aarch64.pkrvars.hcl", "packer_templates")
    ]
    script = pargen_in(tmp_path, "render", "--matrix-var-files", MATRIX).stdout
    assert "JOB_VAR_FILE[13]=os_pkrvars/windows/windows-11-x86_64.pkrvars.hcl\n" in script


def test_bento_without_a_matrix_is_one_template(tmp_path: Path) -> None:
    # As `packer build packer_templates` would run it, with no OS chosen.
    write_tree(tmp_path, BENTO)
    os_file = "os_pkrvars/debian/debian-13-x86_64.pkrvars.hcl"
    done = pargen_in(tmp_path, "plan", "--var-file", os_file)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "packer_templates  (3 jobs)"
    assert "2 source blocks are not used" in done.stderr


# -- hashicorp/learn-packer-hcp-golden-image: HCP Packer buckets ---------------------------------


def aws_template(build: str, sources: list[str], bucket: str, reads: bool = False) -> str:
    text = 'variable "ami_prefix" {\n  type = string\n  default = "learn"\n}\n'
    if reads:
        text += (
            'data "hcp-packer-version" "golden" {\n'
            '  bucket_name  = "learn-packer-hcp-golden-base-image"\n'
            '  channel_name = "production"\n}\n'
            'data "hcp-packer-artifact" "golden_base_east" {\n'
            "  bucket_name         = data.hcp-packer-version.golden.bucket_name\n"
            "  version_fingerprint = data.hcp-packer-version.golden.fingerprint\n"
            '  platform            = "aws"\n  region = "us-east-2"\n}\n'
        )
    else:
        text += 'data "amazon-ami" "ubuntu" {\n  region = "us-east-2"\n}\n'
    ami = (
        "data.hcp-packer-artifact.golden_base_east.external_identifier"
        if reads
        else ("data.amazon-ami.ubuntu.id")
    )
    for name in sources:
        text += f'source "amazon-ebs" "{name}" {{\n  source_ami = {ami}\n}}\n'
    listed = ", ".join(f'"source.amazon-ebs.{n}"' for n in sources)
    return text + (
        f'build {{\n  name = "{build}"\n  sources = [{listed}]\n'
        '  provisioner "shell" {\n    inline = ["echo hi"]\n  }\n'
        f'  hcp_packer_registry {{\n    bucket_name = "{bucket}"\n  }}\n}}\n'
    )


GOLDEN_IMAGE = {
    "golden-image/golden.pkr.hcl": aws_template(
        "learn-packer-golden", ["base_east", "base_west"], "learn-packer-hcp-golden-base-image"
    ),
    "hashicups-image/hashicups.pkr.hcl": aws_template(
        "learn-packer-hashicups",
        ["hashicups_east", "hashicups_west"],
        "learn-packer-hcp-hashicups-image",
        reads=True,
    ),
    "loki-image/loki.pkr.hcl": aws_template(
        "learn-packer-loki-server", ["base"], "learn-packer-hcp-loki-image"
    ),
    "infrastructure/main.tf": 'resource "aws_instance" "x" {}\n',
}


def test_golden_image_children_wait_for_the_bucket_they_read(tmp_path: Path) -> None:
    write_tree(tmp_path, GOLDEN_IMAGE)
    done = pargen_in(tmp_path, "plan")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[:9] == [
        "golden-image  (2 jobs)",
        "  golden-image:learn-packer-golden.amazon-ebs.base_east",
        "  golden-image:learn-packer-golden.amazon-ebs.base_west",
        "hashicups-image  (2 jobs, after golden-image (HCP Packer bucket "
        '"learn-packer-hcp-golden-base-image"))',
        "  hashicups-image:learn-packer-hashicups.amazon-ebs.hashicups_east",
        "  hashicups-image:learn-packer-hashicups.amazon-ebs.hashicups_west",
        "loki-image  (1 job)",
        "  loki-image:learn-packer-loki-server.amazon-ebs.base",
        "5 jobs in 3 template(s)",
    ]
    jobs = json.loads(pargen_in(tmp_path, "plan", "--format", "json").stdout)["jobs"]
    assert {j["id"]: j["after"] for j in jobs}[
        "hashicups-image:learn-packer-hashicups.amazon-ebs.hashicups_west"
    ] == [
        "golden-image:learn-packer-golden.amazon-ebs.base_east",
        "golden-image:learn-packer-golden.amazon-ebs.base_west",
    ]


def test_bento_refuses_os_var_files_writing_one_directory(tmp_path: Path) -> None:
    # The OS in the output directory keeps the builds apart; without it they would collide.
    shared = BENTO_SOURCES.replace("-${var.os_name}-${var.os_version}-${var.os_arch}", "")
    write_tree(tmp_path, {**BENTO, "packer_templates/pkr-sources.pkr.hcl": shared})
    done = pargen_in(tmp_path, "plan", "--matrix-var-files", MATRIX)
    assert (done.returncode, done.stdout) == (2, "")
    fix = (
        "set output_directory in the source to a path that differs per var file, such as "
        'output_directory = "output-${var.name}"'
    )
    assert done.stderr.splitlines() == [
        f"pargen: error: packer_templates/pkr-builder.pkr.hcl:2:13: jobs "
        f"packer_templates@os_pkrvars/debian/debian-13-x86_64.pkrvars.hcl:{builder}.vm and "
        f"packer_templates@os_pkrvars/ubuntu/ubuntu-24.04-aarch64.pkrvars.hcl:{builder}.vm and "
        f"2 more would all write builds/build_files/packer-{short} at once (its {builder} "
        f"builder's output directory); {fix}"
        for builder, short in (
            ("parallels-iso", "parallels"),
            ("qemu", "qemu"),
            ("virtualbox-iso", "virtualbox"),
        )
    ]
