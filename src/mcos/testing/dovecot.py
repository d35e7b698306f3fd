"""A private Dovecot IMAP server: the real thing, for the mail tests, ``mcos demo`` and benchmarks.

Debian's ``/usr/sbin/dovecot`` (``scripts/ensure-dovecot`` installs it) runs as a child process
with a throwaway configuration in a temp folder: its own ``base_dir``, logs and Maildirs, a
free loopback port, plain-text login (loopback only), users from a passwd-file. The system's
Dovecot service and ``/etc/dovecot`` are never touched. Mail is put in place the way a local
delivery agent does, by writing Maildir files (:meth:`Dovecot.deliver`).

As root (CI), Dovecot refuses to run its login processes or mail access as root: they run as
the package's ``dovenull``/``dovecot`` users and the Maildirs belong to ``nobody``. As anyone
else, every process runs as the current user.

    with Dovecot.start({"donna": "secret"}) as server:
        server.deliver("donna", raw_message)
        ...  # an ImapAccount with host=server.host, port=server.port, tls="none"

After a failed login, Dovecot delays later logins from the same address for a while (its auth
penalty, seconds that double): try wrong passwords on a server of their own.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

DOVECOT = "/usr/sbin/dovecot"
"""Debian's package ``dovecot-core`` (pulled in by ``dovecot-imapd``)."""
_ROOT_USERS = ("dovenull", "dovecot", "nobody")
"""As root: the login user, the internal user, the owner of the mail."""
_START_TIMEOUT = 15.0


def available() -> str | None:
    """``None`` when :meth:`Dovecot.start` can work here; else why not, and the fix."""
    if sys.platform == "darwin":
        return "macOS has no Dovecot package: the demo uses scripted mail there"
    if not os.access(DOVECOT, os.X_OK):
        return (
            "dovecot is not installed; run scripts/ensure-dovecot (apt-get install dovecot-imapd)"
        )
    if os.getuid() == 0:
        for name in _ROOT_USERS:
            try:
                pwd.getpwnam(name)
            except KeyError:
                return f"user {name!r} is missing; reinstall dovecot-core, which creates it"
    return None


def dovecot_version() -> tuple[int, int]:
    """Dovecot's major and minor version (``dovecot --version``: "2.3.19.1 (9b53102964)")."""
    out = subprocess.run(
        [DOVECOT, "--version"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    major, minor = out.split()[0].split(".")[:2]
    return int(major), int(minor)


class DovecotError(RuntimeError):
    """The server did not start; the message carries the end of its log."""


class Dovecot:
    """One running private Dovecot; build it with :meth:`start`, end it with :meth:`stop`."""

    host = "127.0.0.1"

    def __init__(
        self, root: Path, users: Mapping[str, str], certificate: tuple[Path, Path] | None = None
    ) -> None:
        self.root = root
        """The temp folder holding the configuration, the runtime files, the logs and the mail."""
        self.users = dict(users)
        self.port = 0
        """The IMAP port (plain text, STARTTLS refused: ``tls = "none"`` in an account)."""
        self.tls_port: int | None = None
        """With a certificate: the IMAPS port (TLS from the first byte; ``tls = "ssl"``). The
        IMAP port then also offers STARTTLS."""
        self._certificate = certificate
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], Dovecot] | None = None
        if os.getuid() == 0:
            mail_user = pwd.getpwnam("nobody")
            self._mail_uid, self._mail_gid = mail_user.pw_uid, mail_user.pw_gid
        else:
            self._mail_uid, self._mail_gid = os.getuid(), os.getgid()
        self._delivered = 0

    @classmethod
    def start(
        cls, users: Mapping[str, str], *, certificate: tuple[Path, Path] | None = None
    ) -> Dovecot:
        """Start a server for ``users`` (name → password) and return once it greets clients.

        ``certificate`` (PEM certificate chain, PEM key: ``trustme`` makes them) turns TLS on.
        """
        why_not = available()
        if why_not:
            raise DovecotError(why_not)
        for name, password in users.items():
            if (
                not name
                or any(c in name for c in ":/\n\r\t .")
                or any(c in password for c in "\n\r")
            ):
                raise ValueError(
                    f"user {name!r}: a name without ':', '/', '.', spaces or line breaks"
                )
        root = Path(tempfile.mkdtemp(prefix="mcos-dovecot-"))
        root.chmod(0o711)  # the mail user (nobody, as root) must reach its Maildirs
        server = cls(root, users, certificate)
        try:
            server._start()
        except BaseException:
            server.stop()
            raise
        return server

    def __enter__(self) -> Dovecot:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- mail ----------------------------------------------------------------------------

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """The Maildir of ``folder`` (Maildir++: ``INBOX`` at the top, others as ``.Name``)."""
        if user not in self.users:
            raise KeyError(f"user {user!r} is not one of this server's: {sorted(self.users)}")
        if "/" in folder or folder.startswith(".") or not folder:
            raise ValueError(f"folder {folder!r}: give a top-level folder name")
        top = self.root / "mail" / user
        return top if folder.upper() == "INBOX" else top / f".{folder}"

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> Path:
        """Put ``raw`` (an RFC 5322 message) in ``folder`` as new mail; UIDs follow the order
        of delivery. Returns the file written."""
        box = self.create_folder(user, folder)
        self._delivered += 1
        # Dovecot sorts new files by the time in their names: make it strictly increasing.
        name = f"{int(time.time())}.M{self._delivered:06d}P{os.getpid()}Q{id(self)}.mcos"
        staged = box / "tmp" / name
        staged.write_bytes(raw.replace(b"\r\n", b"\n"))  # Maildir files use bare newlines
        os.chown(staged, self._mail_uid, self._mail_gid)
        final = box / "new" / name
        staged.rename(final)  # atomic: the server never sees half a message
        return final

    def renumber(self, user: str, folder: str = "INBOX") -> None:
        """Give ``folder`` a new UIDVALIDITY, as a restored or rebuilt server does: its
        messages get new UIDs from 1. Call it while no client has the folder open."""
        box = self.maildir(user, folder)
        for index in [*box.glob("dovecot-uidlist*"), *box.glob("dovecot.index*")]:
            index.unlink()
        for index in (self.root / "mail" / user).glob("dovecot.list.index*"):
            index.unlink()

    def create_folder(self, user: str, folder: str = "INBOX") -> Path:
        """Make ``folder`` exist (empty), as a mail client's CREATE would; returns its Maildir."""
        box = self.maildir(user, folder)
        for path in (box.parent, box, box / "cur", box / "new", box / "tmp"):
            if not path.exists():
                path.mkdir(mode=0o700)
                os.chown(path, self._mail_uid, self._mail_gid)
        if box != self.maildir(user):
            marker = box / "maildirfolder"
            marker.touch()
            os.chown(marker, self._mail_uid, self._mail_gid)
        return box

    # -- the process ---------------------------------------------------------------------

    @property
    def log(self) -> str:
        """The server's log so far (for a failing test's message)."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _start(self) -> None:
        (self.root / "run").mkdir()
        (self.root / "state").mkdir()
        mail = self.root / "mail"
        mail.mkdir()
        os.chown(mail, self._mail_uid, self._mail_gid)
        for user in self.users:
            self.create_folder(user, "INBOX")
        passwd = self.root / "passwd"
        passwd.write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in self.users.items()))
        passwd.chmod(0o600)
        if os.getuid() == 0:  # read by the auth process, which runs as the internal user
            internal = pwd.getpwnam(_ROOT_USERS[1])
            os.chown(passwd, internal.pw_uid, internal.pw_gid)
        version = dovecot_version()
        for _attempt in range(5):  # another process may take the free port before Dovecot
            self.port = _free_port()
            self.tls_port = _free_port() if self._certificate else None
            config = self.root / "dovecot.conf"
            config.write_text(self._config(version))
            log = (self.root / "dovecot.log").open("ab")
            self._process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group, ended as one by stop()
            )
            log.close()
            self._finalizer = weakref.finalize(self, _end_group, self._process)
            if self._wait_ready():
                return
            self._end_process()
            if "Address already in use" not in self.log:
                break
        raise DovecotError(f"dovecot did not start; its log ({self.root}):\n{self.log[-3000:]}")

    def _wait_ready(self) -> bool:
        """Wait for the IMAP greeting: the server is only ready once a client is answered."""
        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as conn:
                    if conn.recv(64).startswith(b"* OK"):
                        return True
            except OSError:
                # Not listening yet: poll again shortly (no event tells us it is).
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """End the server and its children, and remove its temp folder."""
        self._end_process()
        shutil.rmtree(self.root, ignore_errors=True)

    def _end_process(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._process = None

    def _config(self, version: tuple[int, int]) -> str:
        me_user = pwd.getpwuid(os.getuid()).pw_name
        me_group = grp.getgrgid(os.getgid()).gr_name
        login_user, internal_user = _ROOT_USERS[:2] if os.getuid() == 0 else (me_user, me_user)
        internal_group = internal_user if os.getuid() == 0 else me_group
        root, mail = self.root, self.root / "mail"
        services = f"""
service imap-login {{
  chroot =
  inet_listener imap {{
    {"listen" if version >= (2, 4) else "address"} = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    {"listen" if version >= (2, 4) else "address"} = {self.host}
    port = {self.tls_port or 0}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
        common = f"""base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {self.host}
{self._ssl_settings(version)}
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {self._mail_uid}
last_valid_uid = 0
mail_uid = {self._mail_uid}
mail_gid = {self._mail_gid}
"""
        if version >= (2, 4):  # new setting names; written from the 2.4 docs
            return f"""dovecot_config_version = {version[0]}.{version[1]}.0
dovecot_storage_version = {version[0]}.{version[1]}.0
{common}auth_allow_cleartext = yes
mail_home = {mail}/%{{user}}
mail_driver = maildir
mail_path = {mail}/%{{user}}
namespace inbox {{
  inbox = yes
}}
passdb passwd-file {{
  passwd_file_path = {root}/passwd
  default_password_scheme = PLAIN
}}
userdb static {{
}}
{services}"""
        return f"""{common}disable_plaintext_auth = no
auth_failure_delay = 0
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = home={mail}/%u
}}
{services}"""

    def _ssl_settings(self, version: tuple[int, int]) -> str:
        if self._certificate is None:
            return "ssl = no"
        cert, key = self._certificate
        if version >= (2, 4):
            return f"ssl = yes\nssl_server_cert_file = {cert}\nssl_server_key_file = {key}"
        return f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to Dovecot's master (it ends its children), then SIGKILL to its process group
    (ours alone: started with ``start_new_session``) if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    # Children that outlived the master (an imap process mid-command) share its group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
