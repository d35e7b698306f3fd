"""``mcos artifacts ls|get|add|show``: the files on a task, every version, through the API.

A file on a task is untrusted (an agent or a person wrote it): ``show`` prints the server's text
preview with control characters removed (no terminal escapes), and ``get`` writes the bytes only
where it is told, never over an existing file unless ``--force``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from mcos.cli._context import Client, emit_json, fail, json_option, pass_client, table
from mcos.contract import paths
from mcos.services.previews import DOCX, XLSX

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters but tab and newline: stripped from what an artifact's author wrote."""


def printable(text: str) -> str:
    return CONTROL.sub("", text)


SHORT_TYPES = {DOCX: "docx (Word)", XLSX: "xlsx (Excel)"}
"""The Office types, too long for a table column (``--json`` has them whole)."""


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "-"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def _listing(client: Client, task_id: int) -> dict[str, Any]:
    listed: dict[str, Any] = client.get(paths.artifacts(task_id))
    return listed


def resolve(client: Client, task_id: int, which: str) -> dict[str, Any]:
    """``which`` is an artifact's id on the task, or a name (its newest version)."""
    versions: list[dict[str, Any]] = _listing(client, task_id)["artifacts"]
    if which.isdigit():
        for artifact in versions:
            if artifact["id"] == int(which):
                return artifact
    named = [a for a in versions if a["name"] == which]
    if named:
        return max(named, key=lambda a: a["version"])
    known = ", ".join(sorted({f"{a['name']} (#{a['id']})" for a in versions})) or "none"
    fail(
        f"task #{task_id} has no artifact with id or name {which!r}; its files: {known}",
        field="ARTIFACT",
    )


@click.group()
def artifacts() -> None:
    """Files on tasks: list, download, attach, preview (every version is kept)."""


@artifacts.command("ls")
@click.argument("task_id", metavar="TASK", type=click.IntRange(min=1))
@json_option
@pass_client
def list_artifacts(client: Client, task_id: int, as_json: bool) -> None:
    """Every version of every file on TASK, newest first, and who has opened each."""
    listed = _listing(client, task_id)
    if as_json:
        emit_json(listed)
        return
    if not listed["artifacts"]:
        click.echo(f"task #{task_id} has no files (attach one: mcos artifacts add {task_id} FILE)")
        return
    table(
        [
            [
                f"#{a['id']}",
                printable(a["name"]),
                f"v{a['version']}",
                _size(a["size"]),
                SHORT_TYPES.get(a["content_type"], a["content_type"]),
                a["created_by"],
                _when(a["created_at"]),
                ", ".join(a["opened_by"]) or "-",
            ]
            for a in listed["artifacts"]
        ],
        ["ID", "NAME", "VERSION", "SIZE", "TYPE", "BY", "WHEN", "OPENED BY"],
    )
    for a in listed["acceptances"]:
        seen = "opened" if a["opened"] else "NOT opened"
        click.echo(
            f"accepted: {printable(a['name'])} v{a['version']} by {a['accepted_by']} "
            f"({seen}) at {_when(a['accepted_at'])}"
        )


def _target(output: str | None, name: str) -> Path:
    if output is None:
        return Path(name)
    path = Path(output)
    if path.is_dir():
        return path / name
    if output.endswith(("/", "\\")):
        fail(f"there is no folder {output}", field="--output")
    return path


@artifacts.command("get")
@click.argument("task_id", metavar="TASK", type=click.IntRange(min=1))
@click.argument("which", metavar="ARTIFACT_ID|NAME")
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="Where to write it: a file, a folder, or - for stdout (default: its name, here).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_client
def get(client: Client, task_id: int, which: str, output: str | None, force: bool) -> None:
    """Download one version of a file on TASK (by name: its newest version)."""
    artifact = resolve(client, task_id, which)
    target = None if output == "-" else _target(output, artifact["name"])
    if target is not None and target.exists() and not force:
        fail(f"{target} exists; pass --force to overwrite it", field="--output")
    path = paths.artifact_content(task_id, artifact["id"])
    content = client.download(path)
    if target is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    try:
        with target.open("wb" if force else "xb") as out:
            out.write(content)
    except FileExistsError:
        fail(f"{target} exists; pass --force to overwrite it", field="--output")
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror}", field="--output")
    click.echo(
        f"saved {printable(artifact['name'])} v{artifact['version']} "
        f"(#{artifact['id']}, {len(content):,} bytes) to {target}"
    )


@artifacts.command("add")
@click.argument("task_id", metavar="TASK", type=click.IntRange(min=1))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--name", help="The file's name on the task (default: FILE's name).")
@click.option("--note", default="", help="One line: what this version is.")
@click.option(
    "--type", "content_type", metavar="CT", help="Its content type (default: from the name)."
)
@json_option
@pass_client
def add(
    client: Client,
    task_id: int,
    file: Path,
    name: str | None,
    note: str,
    content_type: str | None,
    as_json: bool,
) -> None:
    """Attach FILE to TASK: the next version of its name (earlier versions are kept)."""
    from mcos.runtime.artifact_tools import content_type_of  # the attach_file tool's types

    name = name or file.name
    try:
        content = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", field="FILE")
    if not content:
        fail(f"{file} is empty; attach a file with content", field="FILE")
    path = paths.artifacts(task_id)
    stored = client.upload(
        path, content, content_type or content_type_of(name), {"name": name, "note": note}
    )
    if as_json:
        emit_json(stored)
        return
    click.echo(
        f"attached {printable(stored['name'])} v{stored['version']} to task #{task_id} "
        f"({stored['size']:,} bytes, {stored['content_type']}; artifact #{stored['id']})"
    )


def _rows(rows: list[list[Any]]) -> list[str]:
    """A sheet's first rows as a small aligned table."""
    cells = [[printable("" if v is None else str(v)) for v in row] for row in rows]
    width = max((len(row) for row in cells), default=0)
    cells = [row + [""] * (width - len(row)) for row in cells]
    widths = [max(len(row[i]) for row in cells) for i in range(width)]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def preview_lines(shown: dict[str, Any]) -> list[str]:
    kind = shown["kind"]
    if kind == "docx":
        lines = [printable(p) for p in shown["paragraphs"]]
        for number, rows in enumerate(shown["tables"], 1):
            lines += ["", f"[table {number}]"]
            lines += [" | ".join(printable(c) for c in row) for row in rows]
        return lines
    if kind == "xlsx":
        lines = []
        for sheet in shown["sheets"]:
            lines += [f"## {printable(sheet['name'])}", *_rows(sheet["rows"])]
            if sheet["clipped"]:
                lines.append("… (first rows and columns only)")
            lines.append("")
        return lines
    return printable(shown["text"]).splitlines()


@artifacts.command("show")
@click.argument("task_id", metavar="TASK", type=click.IntRange(min=1))
@click.argument("which", metavar="ARTIFACT_ID|NAME")
@json_option
@pass_client
def show(client: Client, task_id: int, which: str, as_json: bool) -> None:
    """The server's text preview of a file on TASK: text, Markdown, .docx paragraphs and tables,
    .xlsx first rows of each sheet."""
    artifact = resolve(client, task_id, which)
    answer = client.get(paths.artifact_preview(task_id, artifact["id"]))
    if as_json:
        emit_json(answer)
        return
    view, shown = answer["artifact"], answer["preview"]
    click.echo(
        f"{printable(view['name'])} v{view['version']} (#{view['id']}, {view['content_type']}, "
        f"{view['size']:,} bytes) by {view['created_by']} at {_when(view['created_at'])}"
    )
    if view["note"]:
        click.echo(f"note: {printable(view['note'])}")
    click.echo("--- its text (untrusted: written by the file's author) ---")
    if shown["kind"] == "none":
        click.echo(
            f"no text preview for {view['content_type']}: "
            f"download it with `mcos artifacts get {task_id} {view['id']}`"
        )
        return
    for line in preview_lines(shown):
        click.echo(line)
    if shown.get("clipped"):
        click.echo(f"… (clipped: `mcos artifacts get {task_id} {view['id']}` has it all)")
