"""Tests for pargen.plan.formats' Mermaid flowchart (``pargen plan --format mermaid``)."""

from __future__ import annotations

from pathlib import Path

from pargen.cli import cli
from pargen.plan.formats import as_mermaid, mermaid_label
from pargen.plan.jobs import Job, Plan
from tests.trees import pargen

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def job(job_id: str, after: tuple[str, ...] = ()) -> Job:
    template, _, name = job_id.partition(":")
    return Job(job_id, template, name, name, after, "null", template, ".", False, ())


def test_the_example_tree_is_one_box_per_template_and_one_arrow_per_nesting() -> None:
    code, out, _ = pargen("plan", str(EXAMPLES), "--format", "mermaid")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  subgraph t1["base"]' in lines
    assert '    j1["null.aws-eu-west-1"]' in lines
    assert '  subgraph t5["legacy/app.json"]' in lines
    # Every job of a child waits for every job of its parent: one arrow between the boxes.
    assert [line for line in lines if "-->" in line] == [
        "  t1 --> t2",
        "  t1 --> t3",
        "  t3 --> t4",
    ]
    assert sum(1 for line in lines if line.startswith("    j")) == 13


def test_waits_finer_than_whole_templates_are_drawn_job_to_job() -> None:
    jobs = (
        job("base:null.eu"),
        job("base:null.us"),
        job("web:null.eu", ("base:null.eu",)),
        job("web:null.us", ("base:null.us",)),
    )
    text = as_mermaid(Plan(root=".", jobs=jobs, var_files=()))
    assert [line for line in text.splitlines() if "-->" in line] == ["  j1 --> j3", "  j2 --> j4"]


def test_no_name_can_end_a_label_or_be_taken_for_markup() -> None:
    assert (
        mermaid_label('a "quoted" <b>`x`</b>\tz')
        == "\"a 'quoted' \u2039b\u203a'x'\u2039/b\u203a z\""
    )
    jobs = (job('t "1":null.$(x) ]; end'),)
    text = as_mermaid(Plan(root=".", jobs=jobs, var_files=()))
    assert text.splitlines() == [
        "flowchart LR",
        "  subgraph t1[\"t '1'\"]",
        '    j1["null.$(x) ]; end"]',
        "  end",
    ]


def test_mermaid_is_one_of_the_plan_formats() -> None:
    option = next(p for p in cli.commands["plan"].params if p.name == "fmt")
    assert "mermaid" in option.type.choices  # type: ignore[attr-defined]
