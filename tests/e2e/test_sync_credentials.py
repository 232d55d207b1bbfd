"""Sync against a remote that needs credentials (issue 17), with the real git tools on loopback:
git's own `git http-backend` behind a server demanding basic auth (tests/fakes/githttp.py), the
password in a git credential helper (`store`, a 0600 file) of an isolated HOME. photosync asks the
helper through `git credential fill`; nothing secret may end up in the library."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from fakes.githttp import GitHttpServer
from fakes.sshd import SSHD, SshHost
from photosync.sample import generate_corpus

PASSWORD = "pw-Zq81-never-in-the-library"


@pytest.fixture
def home(tmp_path):
    """An isolated HOME whose global git config names a `store` credential helper."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
           "XDG_CONFIG_HOME": str(home / ".config"), "GIT_TERMINAL_PROMPT": "0"}
    return home, env


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "git-host"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(root / "photos.git")], check=True)
    with GitHttpServer(root, "alice", PASSWORD) as s:
        yield s
    assert s.failures == []


def _store(home: Path, env: dict, server: GitHttpServer, password: str) -> None:
    cred = home / ".git-credentials-photos"
    cred.write_text(f"http://alice:{password}@{server.url.removeprefix('http://')}\n")
    cred.chmod(0o600)
    subprocess.run(["git", "config", "--global", "credential.helper", f"store --file={cred}"],
                   env={**os.environ, **env}, check=True)


def _secret_in(root: Path) -> list[str]:
    """Files under ``root`` (the work tree and .git, config included) that hold the password."""
    out = []
    for p in root.rglob("*"):
        if p.is_file() and PASSWORD.encode() in p.read_bytes():
            out.append(str(p.relative_to(root)))
    return out


def test_clone_and_sync_over_http_with_the_credential_helper(tmp_path, cli, home, server):
    home_dir, env = home
    _store(home_dir, env, server, PASSWORD)
    url = f"{server.url}/photos.git"
    pics = tmp_path / "pics"
    generate_corpus(pics, 2, seed=5, size=(32, 24), noise=4)
    a, b = tmp_path / "laptop", tmp_path / "desktop"
    cli("init", str(a), env=env, check=0)
    cli("-L", str(a), "service", "add", "pics", "--type", "local", "--path", str(pics), env=env, check=0)
    cli("-q", "-L", str(a), "discover", env=env, check=0)
    cli("-L", str(a), "remote", "add", "origin", url, env=env, check=0)
    r = cli("-L", str(a), "sync", env=env, check=0)
    assert "pushed to origin" in r.out
    cli("clone", url, str(b), env=env, check=0)
    assert len(list((b / "photos").rglob("*.json"))) == 2
    # a change on the clone travels back through the same server
    cli("-L", str(b), "remote", "list", env=env, check=0)
    more = tmp_path / "more"
    generate_corpus(more, 1, seed=9, size=(32, 24), noise=4)
    cli("-L", str(b), "service", "add", "more", "--type", "local", "--path", str(more), env=env, check=0)
    cli("-q", "-L", str(b), "discover", env=env, check=0)
    cli("-L", str(b), "sync", env=env, check=0)
    cli("-L", str(a), "sync", env=env, check=0)
    assert len(list((a / "photos").rglob("*.json"))) == 3
    for lib in (a, b):
        assert _secret_in(lib) == [], "the password was written into the library"
        assert "alice" not in (lib / ".git" / "config").read_text()


def test_wrong_password_is_one_clear_refusal_naming_the_remote(tmp_path, cli, home, server):
    home_dir, env = home
    _store(home_dir, env, server, "not-the-password")
    url = f"{server.url}/photos.git"
    a = tmp_path / "laptop"
    cli("init", str(a), env=env, check=0)
    cli("-L", str(a), "remote", "add", "nas", url, env=env, check=0)
    before = server.refused
    r = cli("-L", str(a), "sync", env=env)
    assert r.code != 0
    err = " ".join(r.err.split())
    assert "nas" in err and url in err and "credential" in err, r.err
    assert "not-the-password" not in r.out + r.err and PASSWORD not in r.out + r.err
    # libgit2 asks for credentials again after each 401: the helper's answer is offered once, not
    # again and again (one anonymous request, one with the refused password)
    assert server.refused - before <= 2, server.refused - before
    # clone says the same, and leaves no half library behind
    before = server.refused
    r = cli("clone", url, str(tmp_path / "copy"), env=env)
    assert r.code != 0 and url in " ".join(r.err.split()) and "not-the-password" not in r.err
    assert server.refused - before <= 2
    assert json.loads(json.dumps(_secret_in(a))) == []


def test_a_password_in_the_url_is_refused_not_stored(tmp_path, cli, home, server):
    _home, env = home
    a = tmp_path / "laptop"
    cli("init", str(a), env=env, check=0)
    url = f"http://alice:{PASSWORD}@{server.url.removeprefix('http://')}/photos.git"
    r = cli("-L", str(a), "remote", "add", "origin", url, env=env)
    assert r.code != 0 and "credential helper" in r.err and PASSWORD not in r.out + r.err
    assert _secret_in(a) == []
    r = cli("clone", url, str(tmp_path / "copy"), env=env)
    assert r.code != 0 and PASSWORD not in r.out + r.err
    assert not (tmp_path / "copy").exists() or _secret_in(tmp_path / "copy") == []


# -- SSH through the agent -----------------------------------------------------------------------

# sshd comes from the openssh-server package (.ci/run installs it); a machine without it cannot
# run these two tests, and says so instead of failing
needs_sshd = pytest.mark.skipif(SSHD is None, reason="sshd is not installed (apt-get install openssh-server)")


@pytest.fixture
def ssh(tmp_path, home):
    home_dir, env = home
    with SshHost(tmp_path / "ssh") as host:
        (home_dir / ".ssh").mkdir()
        (home_dir / ".ssh" / "known_hosts").write_text(host.known_hosts_line())
        yield host, {**env, **host.agent_env}


@needs_sshd
def test_clone_and_sync_over_ssh_through_the_agent(tmp_path, cli, ssh):
    host, env = ssh
    bare = tmp_path / "nas" / "photos.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    url = host.url(bare)
    pics = tmp_path / "pics"
    generate_corpus(pics, 2, seed=5, size=(32, 24), noise=4)
    a, b = tmp_path / "laptop", tmp_path / "nas-lib"
    cli("init", str(a), env=env, check=0)
    cli("-L", str(a), "service", "add", "pics", "--type", "local", "--path", str(pics), env=env, check=0)
    cli("-q", "-L", str(a), "discover", env=env, check=0)
    cli("-L", str(a), "remote", "add", "origin", url, env=env, check=0)
    assert "pushed to origin" in cli("-L", str(a), "sync", env=env, check=0).out
    cli("clone", url, str(b), env=env, check=0)
    assert len(list((b / "photos").rglob("*.json"))) == 2
    key = host.user_key.read_text().splitlines()[1]
    for lib in (a, b):
        assert not any(p.is_file() and key.encode() in p.read_bytes() for p in lib.rglob("*")), "the key is in the library"
    # the agent forgets the key: one clear refusal naming the remote, not a retry storm
    subprocess.run(["ssh-add", "-D"], env={**os.environ, **env}, check=True, capture_output=True)
    r = cli("-L", str(a), "sync", env=env)
    assert r.code != 0
    err = " ".join(r.err.split())
    assert "origin" in err and "SSH agent" in err, r.err
    # no agent at all: said so, naming the remote
    no_agent = {k: v for k, v in env.items() if k != "SSH_AUTH_SOCK"}
    r = cli("-L", str(a), "sync", env={**no_agent, "SSH_AUTH_SOCK": ""})
    assert r.code != 0 and "origin" in r.err and "no SSH agent is running" in " ".join(r.err.split()), r.err
