"""Dockerfiles without a Docker engine: read one, lay out its build context, and run its install steps locally.

:func:`parse` reads the instructions (comments dropped, continuation lines joined, JSON-form arguments decoded).
:func:`build_context` copies the files a ``docker build`` would send, by the ``.dockerignore`` rules Docker applies
(patterns in order, the last match wins, ``!`` re-includes; a pattern that matches a directory matches what is in
it; ``*`` stays within one path segment, ``**`` spans any). :func:`run_build_stage` runs the build stage's ``RUN``
commands, in order and through ``sh -c`` as Docker does, in that context, with the stage's ``ENV``, and with the
image's absolute paths mapped to directories of the test by an explicit table.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ...
    arguments: str  # as written (continuations joined)

    def exec_form(self) -> list[str]:
        """The JSON-array form's items (ENTRYPOINT, CMD, HEALTHCHECK's CMD); ValueError for the shell form."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1].strip()
        value = json.loads(text)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"{self.keyword} is not in exec form: {self.arguments}")
        return value


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.base} has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """The stage's ``ENV key=value ...`` settings (the only form these Dockerfiles use), ``$VAR`` unexpanded."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for item in instruction.arguments.split():
                key, sep, value = item.partition("=")
                assert sep, f"ENV {instruction.arguments!r}: only key=value is understood here"
                values[key] = value
        return values

    def labels(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("LABEL"):
            for key, value in re.findall(r'([\w.-]+)="([^"]*)"', instruction.arguments):
                values[key] = value
        return values


def parse(path: Path) -> list[Stage]:
    """The Dockerfile's stages, in order."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path}: the last instruction ends with a continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if instruction.keyword == "FROM":
            base, _, name = instruction.arguments.partition(" AS ")
            stages.append(Stage(base=base.strip(), name=name.strip() or None, instructions=[]))
        else:
            assert stages, f"{path}: {keyword} before FROM"
            stages[-1].instructions.append(instruction)
    return stages


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        elif pattern[index] == "*":
            out += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            out += "[^/]"
            index += 1
        else:
            out += re.escape(pattern[index])
            index += 1
    return re.compile(out + r"\Z")


def _ignore_rules(dockerignore: Path) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in dockerignore.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        rules.append((include, _pattern_regex(line.lstrip("!").strip("/"))))
    return rules


def _ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for include, regex in rules:
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not include
    return ignored


def build_context(root: Path, destination: Path) -> list[str]:
    """Copy what ``docker build`` would send from ``root`` (by its ``.dockerignore``); the relative paths sent."""
    rules = _ignore_rules(root / ".dockerignore")
    sent: list[str] = []
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory)
        subdirectories[:] = sorted(d for d in subdirectories if d != ".git")
        for name in sorted(files):
            relative = (here / name).relative_to(root).as_posix()
            if _ignored(relative, rules):
                continue
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(here / name, target)
            sent.append(relative)
    return sent


def map_paths(text: str, paths: dict[str, Path]) -> str:
    """``text`` with each image path (a key of ``paths``) replaced by the test's directory for it."""
    for image_path, local in paths.items():
        text = re.sub(re.escape(image_path) + r"(?=/|\s|$|\")", str(local), text)
    return text


def run_build_stage(
    stage: Stage,
    *,
    context: Path,
    paths: dict[str, Path],
    env: dict[str, str],
    log: Path,
) -> None:
    """Run the stage's ``RUN`` commands in order in ``context`` (the stage's WORKDIR), with its ``ENV`` over ``env``;
    AssertionError with the log's tail when one fails."""
    workdir = stage.last("WORKDIR").arguments
    assert stage.last("COPY").arguments == ". .", "the build stage copies the whole context"
    stage_env = {**env, **{key: map_paths(value, paths) for key, value in stage.env().items()}}
    with log.open("a") as output:
        for instruction in stage.all("RUN"):
            command = map_paths(instruction.arguments, paths)
            output.write(f"\n$ (in {workdir}) {command}\n")
            output.flush()
            result = subprocess.run(
                ["sh", "-c", command], cwd=context, env=stage_env, stdout=output, stderr=subprocess.STDOUT
            )
            if result.returncode != 0:
                tail = "\n".join(log.read_text().splitlines()[-30:])
                raise AssertionError(f"RUN {instruction.arguments} failed ({result.returncode}):\n{tail}")
