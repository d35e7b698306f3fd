"""``git_commit`` and ``deploy``: changes counted from what would really change, asked of the
policy with that count and their target, and refused before they happen.

A shell command is asked about by its text, which says nothing of what it does: the seed's
runaway commit swept 3,571 files into production from one innocent-looking line. So commits and
deploys are tools of their own. ``git_commit`` stages the change, counts the staged files and
asks (``git.commit`` with the count and where they are); only then does it commit, and a refusal
unstages it. In the sandbox, a repository's ``.git`` is read-only to shell commands, so this is
the one way a commit happens. ``deploy`` compares a folder of the workspace with a declared
``[[deploy_targets]]`` folder file by file, asks (``deploy.run`` with the count and the target's
path), and copies only then, opening nothing through a link on either side.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import Field

from mcos.contract.vocab import ActionKind
from mcos.fleet.schema import DeployTarget
from mcos.runtime import files
from mcos.runtime.permission import ToolError, ask_before_acting
from mcos.runtime.tooling import Tool, ToolArgs, ToolContext

MAX_FILE_BYTES = 1 << 30
"""The largest file a deploy copies."""
MAX_PATHS = 100
"""Paths sent with one action (the API's limit): the files, or else their folders."""
GIT = (
    "git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c commit.gpgSign=false "
    "-c core.editor=true -c advice.detachedHead=false"
)
"""Git with nothing of the repository's run: no hooks, no file-system monitor, no signing."""


class GitCommit(ToolArgs):
    message: str = Field(min_length=1, max_length=10_000, description="The commit message.")
    repository: str = Field(
        ".", description="The repository's folder, relative to your workspace (default: it)."
    )
    paths: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Only these files or folders (relative to the repository); default: every "
        "change in it, new files included.",
    )


class Deploy(ToolArgs):
    target: str = Field(description="A deploy target of the fleet file, by name.")
    source: str = Field(description="The folder of your workspace to deploy.")
    delete: bool = Field(
        False, description="Also delete files of the target that the source does not have."
    )


def _paths_for_policy(root: Path, changed: list[str]) -> list[str]:
    """The absolute paths an action touches, for protected paths: the files if they fit, else
    their folders, else the top-level folders; always led by ``root`` itself."""
    absolute = [str(root / name) for name in changed]
    if len(absolute) < MAX_PATHS:
        return [str(root), *absolute]
    for depth in (None, 1):
        folders = sorted(
            {
                str(root / PurePosixPath(*PurePosixPath(n).parts[: depth or -1]))
                for n in changed
                if len(PurePosixPath(n).parts) > 1
            }
        )
        if len(folders) < MAX_PATHS:
            return [str(root), *folders]
    return [str(root)]


async def _asked(ctx: ToolContext, action: dict[str, Any], what: str) -> None:
    """Ask the policy about ``action``; or, carrying out an approved one, make sure the change
    is still exactly the one approved (a change that grew since is not)."""
    if ctx.approved is None:
        await ask_before_acting(ctx.link, action | {"reason": ctx.reason})
    elif {k: ctx.approved.get(k) for k in action} != action:
        raise ToolError(
            f"the {what} is no longer the one approved ({action['files_touched']} files now); "
            "nothing was done: ask again"
        )


# -- git_commit ------------------------------------------------------------------------------


def _repository(ctx: ToolContext, relative: str) -> Path:
    try:
        repo = files.workspace_path(ctx.workspace.root, relative)
    except files.UnsafePath as exc:
        raise ToolError(str(exc)) from None
    if not (repo / ".git").is_dir() or (repo / ".git").is_symlink():
        raise ToolError(f"{relative!r} is not a git repository (no .git folder in it)")
    return repo


def _pathspec(paths: list[str]) -> str:
    for path in paths:
        if not path or path.startswith(("/", "-", ":")) or ".." in PurePosixPath(path).parts:
            raise ToolError(f"{path!r}: give paths relative to the repository, without '..'")
    return " ".join(shlex.quote(p) for p in paths) if paths else "."


async def _git(ctx: ToolContext, repo: Path, script: str) -> str:
    commands = ctx.commands
    if commands is None:
        raise ToolError("no commands can run here, so nothing was committed")
    result = await commands.run(f"cd {shlex.quote(str(repo))} && {script}", writable_git=(repo,))
    if result.exit_status != 0:
        raise ToolError(f"git failed: {result.report()}")
    return result.output


async def _git_commit(ctx: ToolContext, args: GitCommit) -> str:
    held = set(ctx.agent.capabilities) | set(ctx.granted)
    if "write" not in held and ctx.approved is None:
        # Never offered: put to the control plane (which refuses and records it) before
        # anything is staged.
        await ask_before_acting(
            ctx.link,
            {
                "kind": ActionKind.GIT_COMMIT,
                "paths": [str(ctx.workspace.root)],
                "reason": ctx.reason,
            },
        )
    repo = _repository(ctx, args.repository)
    spec = _pathspec(args.paths)
    staged = f"{GIT} diff --cached --name-only -z"
    listed = await _git(
        ctx,
        repo,
        f"{GIT} add -A -- {spec} && {staged} | tr -cd '\\0' | wc -c && {staged}",
    )
    # The count first: the names may be more than a command's output keeps.
    counted, _, names = listed.partition("\n")
    count = int(counted.strip() or 0)
    changed = [name for name in names.split("\0") if name][:count]
    if not count:
        return "nothing to commit: the repository has no change there"
    action = {
        "kind": ActionKind.GIT_COMMIT,
        # Every file, or their folders; only the repository when the names did not all fit.
        "paths": _paths_for_policy(repo, changed) if len(changed) == count else [str(repo)],
        "files_touched": count,
        "target": str(repo),
    }
    try:
        await _asked(ctx, action, "commit")
    except BaseException:
        await _git(ctx, repo, f"{GIT} reset -q")  # refused or waiting: nothing stays staged
        raise
    who = shlex.quote(ctx.agent.label)
    email = shlex.quote(f"{ctx.agent.name}@agents.mcos")
    done = await _git(
        ctx,
        repo,
        f"{GIT} -c user.name={who} -c user.email={email} commit -q --no-verify "
        f"-m {shlex.quote(args.message)} && {GIT} rev-parse --short HEAD",
    )
    return f"committed {count} file{'s' if count != 1 else ''} as {done.strip()}"


# -- deploy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployPlan:
    target: DeployTarget
    copy: list[str]
    """Files of the source that are new or differ in the target (relative paths)."""
    remove: list[str]
    """Files of the target the source lacks (only when deleting)."""

    @property
    def touched(self) -> list[str]:
        return sorted(self.copy + self.remove)


def _tree(top: Path, shown: str) -> dict[str, tuple[int, str]]:
    """Every regular file under ``top``: relative path -> (size, sha256), read without
    following a link. A link, a device or a file with another hard link is refused."""
    found: dict[str, tuple[int, str]] = {}
    if not top.exists():
        return found
    for folder, _, names, fd in os.fwalk(top, follow_symlinks=False):
        for name in names:
            relative = os.path.relpath(os.path.join(folder, name), top)
            status = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(status.st_mode) or status.st_nlink > 1:
                kind = "a link" if stat.S_ISLNK(status.st_mode) else "not a plain file"
                raise ToolError(f"{shown}/{relative} is {kind}; a deploy carries plain files only")
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            handle = os.open(name, flags, dir_fd=fd)
            opened = os.fstat(handle)  # what was opened, not what the name was a moment ago
            if (opened.st_dev, opened.st_ino) != (status.st_dev, status.st_ino):
                os.close(handle)
                raise ToolError(f"{shown}/{relative} changed while it was read; deploy again")
            with os.fdopen(handle, "rb") as stream:
                digest = hashlib.file_digest(stream, "sha256").hexdigest()
            found[relative] = (status.st_size, digest)
    return found


def plan_deploy(ctx: ToolContext, args: Deploy) -> DeployPlan:
    target = next((t for t in ctx.deploy_targets if t.name == args.target), None)
    if target is None:
        known = ", ".join(t.name for t in ctx.deploy_targets) or "none"
        raise ToolError(f"no deploy target named {args.target!r}; the fleet's are: {known}")
    if target.machine != ctx.agent.machine:
        raise ToolError(
            f"deploy target {target.name!r} is on machine {target.machine!r}; you run on "
            f"{ctx.agent.machine!r}"
        )
    try:
        source = files.workspace_path(ctx.workspace.root, args.source)
    except files.UnsafePath as exc:
        raise ToolError(str(exc)) from None
    if not source.is_dir() or source.is_symlink():
        raise ToolError(f"{args.source!r} is not a folder of your workspace")
    ours = _tree(source, args.source)
    theirs = _tree(Path(target.path), target.path)
    copy = sorted(name for name, seen in ours.items() if theirs.get(name) != seen)
    remove = sorted(set(theirs) - set(ours)) if args.delete else []
    return DeployPlan(target, copy, remove)


def _apply(ctx: ToolContext, plan: DeployPlan, args: Deploy) -> None:
    source = files.workspace_path(ctx.workspace.root, args.source)
    root = Path(plan.target.path)
    for name in plan.copy:
        parts = PurePosixPath(name).parts
        data = files.read_bytes_at(source, parts, limit=MAX_FILE_BYTES)
        if data is None or len(data) > MAX_FILE_BYTES:
            raise ToolError(f"{args.source}/{name} is gone or larger than {MAX_FILE_BYTES} bytes")
        files.replace_bytes_at(root, parts, data)
    for name in plan.remove:
        files.remove_at(root, PurePosixPath(name).parts)


async def _deploy(ctx: ToolContext, args: Deploy) -> str:
    held = set(ctx.agent.capabilities) | set(ctx.granted)
    if "exec" not in held and ctx.approved is None:
        await ask_before_acting(
            ctx.link, {"kind": ActionKind.DEPLOY_RUN, "target": args.target, "reason": ctx.reason}
        )
    plan = plan_deploy(ctx, args)
    touched = plan.touched
    if not touched:
        return f"nothing to deploy: {plan.target.name} already matches {args.source}"
    action = {
        "kind": ActionKind.DEPLOY_RUN,
        "target": plan.target.name,
        "paths": _paths_for_policy(Path(plan.target.path), touched),
        "files_touched": len(touched),
    }
    await _asked(ctx, action, "deploy")
    try:
        _apply(ctx, plan, args)
    except (files.UnsafePath, OSError) as exc:
        raise ToolError(f"the deploy stopped part way: {exc}") from None
    removed = f", deleted {len(plan.remove)}" if plan.remove else ""
    return f"deployed {args.source} to {plan.target.name}: copied {len(plan.copy)}{removed}"


CHANGE_TOOLS: tuple[Tool, ...] = (
    Tool(
        "git_commit",
        "Commit changes in a git repository of your workspace: the files are counted and the "
        "commit is asked of the control plane first (shell commands cannot commit).",
        GitCommit,
        _git_commit,
        "write",
        asks=True,
    ),
    Tool(
        "deploy",
        "Copy a folder of your workspace to a deploy target of the fleet: the files that would "
        "change are counted and the deploy is asked of the control plane first.",
        Deploy,
        _deploy,
        "exec",
        asks=True,
    ),
)
