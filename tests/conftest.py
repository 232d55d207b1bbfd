"""Shared fixtures: an isolated user config dir, libraries, folders of real
photo files, and a way to run the real ``photosync`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("photosync-cache")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch, session_cache):
    """No test touches the real user's config, credentials, cache or libraries."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PHOTOSYNC_CONFIG_DIR", str(home / "photosync-config"))
    monkeypatch.setenv("PHOTOSYNC_CACHE_DIR", str(session_cache))
    # S3 tests talk to moto; never to a real account, never to the instance metadata service
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("PHOTOSYNC_LIBRARY", raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Person")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.org")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Person")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.org")
    yield


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, check: int | None = None,
            timeout: float = 300) -> Run:
    """Run the real photosync command in a new process."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "200")
    p = subprocess.run(
        [sys.executable, "-m", "photosync", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
    run = Run(p.returncode, p.stdout, p.stderr)
    if check is not None and run.code != check:
        raise AssertionError(f"photosync {' '.join(args)} exited {run.code}, expected {check}\n"
                             f"stdout:\n{run.out}\nstderr:\n{run.err}")
    return run


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def library(tmp_path):
    """A new, empty library."""
    from photosync.library.library import Library

    root, _ = Library.init(tmp_path / "library")
    return root


@pytest.fixture
def photos(tmp_path):
    """A folder factory: photos(name) -> Path of an empty folder to fill."""
    def make(name: str = "pictures") -> Path:
        p = tmp_path / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    return make


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's S3 server on loopback for the whole test session."""
    from fakes.s3 import start_moto

    server, url = start_moto()
    yield url
    server.stop()


_bucket_counter = [0]


@pytest.fixture
def bucket(moto_endpoint):
    """A new, empty bucket on the moto server: its name."""
    import boto3

    _bucket_counter[0] += 1
    name = f"photos-{os.getpid()}-{_bucket_counter[0]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket=name)
    return name


@pytest.fixture
def fault_proxy(moto_endpoint):
    from fakes.s3 import FaultProxy

    proxy = FaultProxy(moto_endpoint)
    yield proxy
    proxy.stop()
