"""A real Dovecot IMAP server for tests: config written to a tmp dir, plain auth on loopback,
one passwd-file user, maildir storage. Installed with apt-get when missing and running as
root; otherwise the tests skip (or fail when CI=true)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from dutydesk.config import Settings

DOVECOT = "/usr/sbin/dovecot"
PACKAGE = "dovecot-imapd"
USER, PASSWORD = "desk", "secret-pass"


def ensure_dovecot() -> str:
    if Path(DOVECOT).exists():
        return DOVECOT
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", PACKAGE], env=env, capture_output=True)
        if not Path(DOVECOT).exists():
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", PACKAGE], env=env, capture_output=True)
    if Path(DOVECOT).exists():
        return DOVECOT
    message = f"the Debian package {PACKAGE} is not installed (apt-get install {PACKAGE})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Imap:
    port: int
    home: Path

    def settings(self, **extra: object) -> dict[str, object]:
        return {
            "mail_in_imap_host": "127.0.0.1",
            "mail_in_imap_port": self.port,
            "mail_in_imap_security": "none",
            "mail_in_imap_username": USER,
            "mail_in_imap_password": PASSWORD,
            "mail_in_imap_poll_seconds": 0,  # every call polls (the schedule has its own test)
            **extra,
        }

    def env(self) -> dict[str, str]:
        return {f"DUTYDESK_{k.upper()}": str(v) for k, v in self.settings().items()}

    @contextmanager
    def client(self) -> Iterator[IMAPClient]:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(USER, PASSWORD)
        try:
            client.select_folder("INBOX")
            yield client
        finally:
            client.logout()

    def append(self, *messages: bytes) -> None:
        with self.client() as client:
            for raw in messages:
                client.append("INBOX", raw)

    def seen(self) -> set[int]:
        with self.client() as client:
            return set(client.search(["SEEN"]))


CONFIG = """
base_dir = {tmp}/run
state_dir = {tmp}/state
instance_name = dutydesk-test-{port}
log_path = {tmp}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
first_valid_gid = 0
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/passwd
}}
userdb {{
  driver = static
  args = home={tmp}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


@contextmanager
def running_dovecot(tmp: Path) -> Iterator[Imap]:
    binary = ensure_dovecot()
    port = free_port()
    for sub in ("run", "state", "home"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    # Dovecot refuses to touch mail as root: run mail processes as nobody, owning the maildir.
    uid, gid = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    if os.geteuid() == 0:
        os.chown(tmp / "home", uid, gid)
    (tmp / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    conf = tmp / "dovecot.conf"
    conf.write_text(CONFIG.format(tmp=tmp, port=port, uid=uid, gid=gid))
    log = (tmp / "dovecot.out").open("wb")
    proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=log, stderr=log)
    imap = Imap(port, tmp / "home")
    pause = threading.Event()  # never set: a bounded poll interval
    try:
        for _ in range(200):
            if proc.poll() is not None:
                raise RuntimeError((tmp / "dovecot.out").read_text())
            try:
                with imap.client():
                    break
            except (OSError, Exception):
                pause.wait(0.05)
        else:
            raise RuntimeError("dovecot did not start")
        yield imap
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def imap_settings(base: Settings, imap: Imap, **extra: object) -> Settings:
    return base.model_copy(update=imap.settings(**extra))
