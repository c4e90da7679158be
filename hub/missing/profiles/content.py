"""The released profile as text: what the share record holds, written in the protocol's parts and
sections so that it reads as the form in any export, and parsed back into them for the police's
page. Pure: nothing here reads or writes the database.

    == Part 1: kept ahead ==
    -- Description --
    Tall, dark hair
    -- Photo --
    ...
    == Part 2: when the child goes missing ==
    -- Clothing --
    Not recorded

A heading is a whole line naming a known part or section; a line of the practitioner's text that
looks like one is indented by a space, so it can never start a section.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_RECORDED = "Not recorded"
PHOTO_HELD = "A photo is held with the profile: open the released profile in the hub to see it."
NO_PHOTO = "No photo kept."


@dataclass
class Section:
    label: str
    text: str


@dataclass
class Part:
    title: str
    sections: list[Section]


def _part_line(title: str) -> str:
    return f"== {title} =="


def _section_line(label: str) -> str:
    return f"-- {label} --"


def _guard(text: str) -> str:
    return "\n".join(f" {line}" if _looks_like_heading(line) else line for line in text.splitlines())


def _looks_like_heading(line: str) -> bool:
    return (line.startswith("== ") and line.endswith(" ==")) or (line.startswith("-- ") and line.endswith(" --"))


def render(parts: list[Part]) -> str:
    lines: list[str] = []
    for part in parts:
        lines.append(_part_line(part.title))
        for section in part.sections:
            lines += [_section_line(section.label), _guard(section.text or NOT_RECORDED)]
        lines.append("")
    return "\n".join(lines).strip() + "\n"


def parse(content: str, parts: dict[str, list[str]]) -> list[Part]:
    """The parts and sections of released text; `parts` names the known parts and their section
    labels. Text before the first heading (none is written) is dropped."""
    part_titles = {_part_line(t): t for t in parts}
    labels = {_section_line(label): label for labels in parts.values() for label in labels}
    found: list[Part] = []
    body: list[str] | None = None
    for line in content.splitlines():
        if line in part_titles:
            found.append(Part(part_titles[line], []))
            body = None
        elif line in labels and found:
            body = []
            found[-1].sections.append(Section(labels[line], ""))
        elif body is not None:
            body.append(line)
            found[-1].sections[-1].text = "\n".join(body).strip()
    return found
