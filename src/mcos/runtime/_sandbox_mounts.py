"""The filesystem, environment and command line of a bubblewrap sandbox: what is visible inside.

Nothing is visible unless named here. Every host path is bound at its own absolute path, so a
path means the same inside and out; every one is resolved on the host (``realpath``) before bwrap
runs, so no symlink the agent made decides where a mount lands.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SANDBOX_UID = 1000
"""The command's uid and gid inside; they map to the runner's own uid outside."""
SANDBOX_USER = "agent"
EGRESS_SOCKET = "/run/mcos/egress.sock"
"""Where the runner's egress proxy socket is bound inside a networked sandbox."""
PROXY_PORT = 3128
"""The loopback port socat listens on inside, bridging to the egress socket."""
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LAUNCH_ENV = {"PATH": PATH}
"""All bwrap itself is started with: it is pid 1 inside, and its environ is readable there."""

MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
"""Top-level names that are symlinks into /usr on a merged-/usr system, directories otherwise."""
ETC_ENTRIES = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "gai.conf",
    "host.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "locale.alias",
    "localtime",
    "magic",
    "magic.mime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "protocols",
    "python3",
    "resolv.conf",
    "services",
    "shells",
    "ssl",
    "timezone",
)
"""What of the host's /etc is bound read-only: certificates, name service and loader config, and
what git, python3, curl and grep read. Never /etc as a whole: the command's uid maps to the
runner's, so as root it would own /etc/shadow."""
ETC_MASKED = ("ssl/private",)
"""Inside the bound /etc entries, but private keys: masked."""
SYSTEM_MOUNTS = ("/proc", "/dev", "/tmp", "/etc", "/usr", "/run")


def _python_etc() -> list[str]:
    """``/etc/python3.11`` and the like (Debian's sitecustomize lives there)."""
    try:
        return sorted(n for n in os.listdir("/etc") if n.startswith("python3."))
    except OSError:
        return []


def synthetic_etc(workspace: Path) -> dict[str, bytes]:
    """/etc files written for the sandbox rather than bound: the host's users, groups and host
    names are none of the command's business, and its own user needs an entry."""
    return {
        "/etc/passwd": (
            f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_UID}:mcos agent:{workspace}:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ).encode(),
        "/etc/group": f"{SANDBOX_USER}:x:{SANDBOX_UID}:\nnogroup:x:65534:\n".encode(),
        "/etc/hosts": b"127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost\n",
        "/etc/hostname": b"sandbox\n",
    }


@dataclass(frozen=True)
class Layout:
    """What one sandbox binds, all resolved on the host: see :meth:`resolve`."""

    workspace: Path
    read_only: tuple[Path, ...]
    read_write: tuple[Path, ...]
    hidden: tuple[Path, ...]
    egress_socket: Path | None

    @classmethod
    def resolve(
        cls,
        workspace: Path,
        read_only: Iterable[Path],
        read_write: Iterable[Path],
        hidden: Iterable[Path],
        egress_socket: Path | None,
    ) -> Layout:
        """Resolve every path on the host; ``ValueError`` naming the path that cannot be bound."""
        root = _existing(workspace, "workspace")
        if not root.is_dir():
            raise ValueError(f"workspace {workspace} is not a directory")
        state = root / ".mcos"
        if state.is_symlink() or (state.exists() and not state.is_dir()):
            raise ValueError(f"{state} is not a directory; the runtime's state must be one")
        state.mkdir(exist_ok=True)  # so it is masked, and the agent can never make one
        ro = tuple(_existing(p, "read-only path") for p in read_only)
        rw = tuple(_existing(p, "read-write path") for p in read_write)
        socket = None
        if egress_socket is not None:
            socket = Path(os.path.realpath(egress_socket))
            if not socket.is_socket():
                raise ValueError(f"no egress proxy is listening at {egress_socket}")
        binds = (root, *ro, *rw)
        kept: list[Path] = []
        for path in hidden:
            if not os.path.lexists(path):
                continue  # nothing there to hide
            real = Path(os.path.realpath(path))
            if _deepest_bind(real, binds) is not None:
                kept.append(real)
        return cls(root, ro, rw, _outermost(kept), socket)

    def binds(self) -> list[tuple[Path, bool]]:
        """(path, writable), parents before children so none hides another."""
        entries = [(p, False) for p in self.read_only] + [(self.workspace, True)]
        entries += [(p, True) for p in self.read_write]
        return sorted(entries, key=lambda entry: len(entry[0].parts))

    def masks(self) -> list[str]:
        """bwrap options hiding the runtime's state and the hidden paths.

        A masked path is a mount point, which cannot be renamed or removed. Its parents inside a
        writable bind are made mount points too (bound onto themselves, still writable): else
        renaming a parent would carry the mask away and show the path by its new name next time.
        """
        writable = [p for p, w in self.binds() if w]
        pins: list[Path] = []
        masks: list[str] = ["--tmpfs", str(self.workspace / ".mcos")]
        masks += ["--remount-ro", str(self.workspace / ".mcos")]
        for path in self.hidden:
            if path == self.workspace / ".mcos":
                continue
            bind = _deepest_bind(path, [p for p, _ in self.binds()])
            if bind is not None and bind in writable:
                pins += [a for a in path.parents if bind in a.parents and a not in pins]
            if path.is_dir():
                masks += ["--tmpfs", str(path), "--remount-ro", str(path)]
            else:
                masks += ["--ro-bind", "/dev/null", str(path)]
        pinned: list[str] = []
        for pin in sorted(pins, key=lambda p: len(p.parts)):
            pinned += ["--bind", str(pin), str(pin)]
        return pinned + masks


def _existing(path: Path, what: str) -> Path:
    if not Path(path).is_absolute():
        raise ValueError(f"{what} {path} is not an absolute path")
    real = Path(os.path.realpath(path))
    if not real.exists():
        raise ValueError(f"{what} {path} does not exist")
    if real == Path("/") or any(real == Path(m) for m in SYSTEM_MOUNTS):
        raise ValueError(f"{what} {path} cannot be bound into a sandbox")
    return real


def _deepest_bind(path: Path, binds: Sequence[Path]) -> Path | None:
    inside = [b for b in binds if path == b or b in path.parents]
    return max(inside, key=lambda b: len(b.parts)) if inside else None


def _outermost(paths: Sequence[Path]) -> tuple[Path, ...]:
    """Drop the paths inside another one: hiding the outer hides them."""
    ordered = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in ordered:
        if not any(k == path or k in path.parents for k in kept):
            kept.append(path)
    return tuple(kept)


def system_mounts(file_bytes: int) -> list[str]:
    """/usr and its merged-/usr names, the curated /etc, a fresh /proc, a minimal /dev and a
    private /tmp, all read-only but /tmp and /dev/shm."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in MERGED_USR:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    for name in (*ETC_ENTRIES, *_python_etc()):
        host = Path("/etc") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.exists():
            args += ["--ro-bind", str(host), str(host)]
    for name in ETC_MASKED:
        host = Path("/etc") / name
        if host.is_dir() and not host.is_symlink() and not host.parent.is_symlink():
            args += ["--tmpfs", str(host), "--remount-ro", str(host)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(file_bytes), "--tmpfs", "/dev/shm"]
    args += ["--remount-ro", "/dev"]
    args += ["--size", str(file_bytes), "--tmpfs", "/tmp"]
    return args


def environment(workspace: Path, networked: bool) -> dict[str, str]:
    """The command's whole environment: nothing of the runner's but the time zone."""
    env = {
        "PATH": PATH,
        "HOME": str(workspace),
        "LANG": "C.UTF-8",
        "TZ": os.environ.get("TZ") or ":/etc/localtime",
        "TMPDIR": "/tmp",
        "USER": SANDBOX_USER,
    }
    if networked:
        proxy = f"http://127.0.0.1:{PROXY_PORT}"
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env[name] = proxy
        env["NO_PROXY"] = env["no_proxy"] = ""
    return env


# The egress bridge: socat listens on the sandbox's own loopback and forwards each connection to
# the runner's proxy socket; the command starts once it listens (seen in /proc/net/tcp).
_BRIDGE = (
    '"$1" TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:{socket} &\n'
    # Read /proc/net/tcp with the shell's own `read`: no process per look while socat starts.
    "listening() {{\n"
    "  while read -r _ address _ state _; do\n"
    '    [ "$address $state" = "0100007F:{hexport} 0A" ] && return 0\n'
    "  done < /proc/net/tcp\n"
    "  return 1\n"
    "}}\n"
    "tries=0\n"
    "until listening; do\n"
    "  tries=$((tries + 1))\n"
    '  if [ "$tries" -gt 2000 ]; then echo "mcos sandbox: the egress bridge did not start" >&2;'
    " exit 125; fi\n"
    "  sleep 0.002\n"
    "done\n"
    'exec /bin/sh -c -- "$2"\n'
).format(port=PROXY_PORT, socket=EGRESS_SOCKET, hexport=f"{PROXY_PORT:04X}")


def socat_path() -> str | None:
    """socat, if it is installed where the sandbox sees it (under /usr or a merged-/usr name)."""
    found = shutil.which("socat", path=PATH)
    if found is None:
        return None
    real = os.path.realpath(found)
    return found if real.startswith("/usr/") else None


def bwrap_args(
    layout: Layout,
    file_bytes: int,
    data_fds: Mapping[str, int],
    info_fd: int | None,
    command: str,
) -> list[str]:
    """bwrap's options and the command after them; the command is one argument to ``sh -c``."""
    args = [] if info_fd is None else ["--info-fd", str(info_fd)]
    args += [
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    for name, value in environment(layout.workspace, layout.egress_socket is not None).items():
        args += ["--setenv", name, value]
    args += system_mounts(file_bytes)
    for destination, fd in data_fds.items():
        args += ["--ro-bind-data", str(fd), destination]
    for path, writable in layout.binds():
        args += ["--bind" if writable else "--ro-bind", str(path), str(path)]
    args += layout.masks()
    if layout.egress_socket is not None:
        args += ["--dir", "/run/mcos", "--ro-bind", str(layout.egress_socket), EGRESS_SOCKET]
    args += ["--remount-ro", "/", "--chdir", str(layout.workspace), "--"]
    if layout.egress_socket is None:
        return [*args, "/bin/sh", "-c", "--", command]
    socat = socat_path()
    if socat is None:
        raise ValueError("socat is not installed (apt install socat): no network for commands")
    return [*args, "/bin/sh", "-c", _BRIDGE, "sh", socat, command]
