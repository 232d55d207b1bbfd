"""A real OpenSSH server on a loopback port, run as the current user with a throwaway host key and
one authorized key, and an ssh-agent holding that key: what a NAS reached over ssh:// looks like,
without touching the machine's own sshd or the user's ~/.ssh.

OpenSSH's sshd must be started by its absolute path; as root it needs its privilege separation
directory (/run/sshd, made by the Debian package's service, which a container does not start).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if Path(p).exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SshHost:
    """sshd on 127.0.0.1:port serving the user's own account; ``agent_env`` names the agent."""

    def __init__(self, work: Path):
        if SSHD is None:
            raise RuntimeError("sshd is not installed")
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.user = getpass.getuser()
        self.port = _free_port()
        self.host_key = self.work / "host_ed25519"
        self.user_key = self.work / "id_ed25519"
        for key in (self.host_key, self.user_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        (self.work / "authorized_keys").write_text((self.user_key.with_suffix(".pub")).read_text())
        self.config = self.work / "sshd_config"
        self.config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.work / 'authorized_keys'}", f"PidFile {self.work / 'sshd.pid'}",
            "StrictModes no", "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin prohibit-password", "LogLevel ERROR", "",
        ]))
        self.sshd: subprocess.Popen | None = None
        self.agent_pid: int | None = None
        self.agent_env: dict[str, str] = {}

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.with_suffix('.pub').read_text().split(' ')[0]} " \
               f"{self.host_key.with_suffix('.pub').read_text().split(' ')[1]}\n"

    def __enter__(self) -> "SshHost":
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        assert SSHD is not None
        self.log = open(self.work / "sshd.log", "wb")
        self.sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while True:  # ready when the port answers
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.sshd.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not start: {(self.work / 'sshd.log').read_text()}") from None
                time.sleep(0.05)
        sock = self.work / "agent.sock"
        out = subprocess.run(["ssh-agent", "-s", "-a", str(sock)], capture_output=True, text=True, check=True).stdout
        for part in out.replace("\n", ";").split(";"):
            if part.strip().startswith("SSH_AGENT_PID="):
                self.agent_pid = int(part.split("=", 1)[1])
        self.agent_env = {"SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(self.user_key)], env={**os.environ, **self.agent_env},
                       check=True, capture_output=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.agent_pid:
            try:
                os.kill(self.agent_pid, 15)
            except ProcessLookupError:
                pass
        if self.sshd is not None:
            self.sshd.terminate()
            self.sshd.wait(timeout=10)
        self.log.close()

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{Path(path).resolve()}"
