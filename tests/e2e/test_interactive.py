"""resolve --interactive, driven as a person would: in a real terminal (a pty),
then scripted through a pipe."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from fakes.flickr import FakeFlickr
from helpers import git, git_status
from photosync.sample import make_photo

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "fedcba9876543210"


class Terminal:
    """A photosync process on a pseudo-terminal: read the screen, type keys."""

    def __init__(self, *args: str):
        master, slave = os.openpty()
        env = dict(os.environ, COLUMNS="120", LINES="40", TERM="xterm")
        self.proc = subprocess.Popen([sys.executable, "-m", "photosync", *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, close_fds=True, start_new_session=True)
        os.close(slave)
        self.fd = master
        self.screen = ""

    def read_until(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.screen):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} never appeared; the screen:\n{self.screen}")
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the process ended and closed the terminal
                    chunk = b""
                if not chunk and self.proc.poll() is not None:
                    raise AssertionError(f"ended before {pattern!r}; the screen:\n{self.screen}")
                self.screen += re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", chunk.decode("utf-8", "replace"))
        return self.screen

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait(self, timeout: float = 60) -> int:
        try:
            while self.proc.poll() is None:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
                if ready:
                    try:
                        self.screen += os.read(self.fd, 65536).decode("utf-8", "replace")
                    except OSError:
                        break
            return self.proc.wait(timeout)
        finally:
            os.close(self.fd)


@pytest.fixture
def conflicted(tmp_path, cli):
    """A folder and a Flickr account holding the same two photos with other captions."""
    fake = FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid="12345678@N00", username="t", fullname="T")
    fake.start()
    pics = tmp_path / "pics"
    pics.mkdir()
    captions = {"IMG_1234.jpg": ("Sunset at Ocean Beach", "Ocean Beach sunset with friends"),
                "IMG_2000.jpg": ("Fog over the bridge", "The Golden Gate in fog")}
    for i, (name, (local, remote)) in enumerate(captions.items()):
        path = make_photo(pics / name, seed=30 + i, size=(160, 120), taken=datetime(2021, 3, 4, 5, 6, 7 + i),
                          caption=local)
        fake.add_photo(data=path.read_bytes(), title=remote, date_taken=f"2021-03-04 05:06:{7 + i:02d}")
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    args = ["-L", str(lib), "service", "add", "flickr", "--type", "flickr", "--api-key", KEY, "--api-secret", SECRET]
    for k, v in fake.endpoints.items():
        args += ["--endpoint", f"{k}={v}"]
    cli(*args, check=0)
    token, secret = fake.issue_token("read")
    cred = Path(os.environ["PHOTOSYNC_CONFIG_DIR"]) / "credentials/services/flickr.json"
    data = json.loads(cred.read_text())
    data.update(oauth_token=token, oauth_token_secret=secret, perms="read")
    cred.write_text(json.dumps(data))
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    yield lib
    fake.stop()


def caption_of(lib: Path, filename: str) -> str:
    for p in (lib / "photos").rglob("*.json"):
        rec = json.loads(p.read_text())
        if rec["metadata"]["filename"] == filename:
            return rec["metadata"]["caption"]
    raise KeyError(filename)


def option_number(screen: str, text: str) -> str:
    """The number printed before the option line that contains ``text`` (the last conflict shown)."""
    last = screen[screen.rindex("conflict "):]
    for line in last.splitlines():
        m = re.match(r"\s*(\d+)\. (.*)", line)
        if m and text in m.group(2):
            return m.group(1)
    raise AssertionError(f"no option with {text!r} in:\n{last}")


def test_a_person_resolves_one_conflict_quits_and_the_next_run_goes_on(conflicted, cli):
    lib = conflicted
    term = Terminal("-L", str(lib), "resolve", "--interactive")
    screen = term.read_until(r"choice> ")
    # everything needed to choose is on the screen
    assert "different captions across copies" in screen
    assert "Sunset at Ocean Beach" in screen and "Ocean Beach sunset with friends" in screen
    assert "IMG_1234.jpg" in screen and "160×120" in screen and "2021-03-04" in screen
    assert re.search(r"[@%#*+=:.-]{20,}", screen), "no picture preview"
    term.type(option_number(screen, "Use flickr") + "\r")
    screen = term.read_until(r"IMG_2000.jpg.*\n(.*\n)*.*choice> ")
    term.type("q\r")
    assert term.wait() == 0, term.screen
    assert "1 decision saved" in term.screen and "run it again" in term.screen
    assert caption_of(lib, "IMG_1234.jpg") == "Ocean Beach sunset with friends"
    assert "resolve: IMG_1234.jpg caption from flickr (manual)" in git(lib, "log", "--format=%s")
    assert git_status(lib) == ""

    # the next run starts with what is left; scripted through a pipe this time, with a custom value
    p = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "resolve", "--interactive"],
                       input="9\n" + "4\n" + "Fog, from the Marin side\n", capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "IMG_1234.jpg" not in p.stdout.split("conflict 1", 1)[1]  # decided before: not asked again
    assert "type a number" in p.stdout  # 9 was refused, the question asked again
    assert caption_of(lib, "IMG_2000.jpg") == "Fog, from the Marin side"
    assert "resolve: IMG_2000.jpg caption set to Fog, from the Marin side (manual)" in git(lib, "log", "--format=%s")
    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["states"]["resolved"] == 2
    assert git_status(lib) == ""


def test_a_person_sees_both_look_alikes_in_a_terminal_and_keeps_them_apart(tmp_path, cli):
    """A crop and its original: the terminal shows both photos (facts and a character picture),
    the person types the number for "different photos"; the answer is one commit on both records."""
    pics = tmp_path / "pics"
    src = make_photo(pics / "IMG_3000.jpg", seed=41, size=(320, 240), taken=datetime(2022, 5, 6, 7, 8, 9),
                     make="Canon", model="EOS 80D")
    from PIL import Image

    with Image.open(src) as im:
        exif = im.info["exif"]
        im.crop((40, 30, 280, 210)).save(pics / "IMG_3000_crop.jpg", "JPEG", quality=90, exif=exif)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "all", check=0)
    term = Terminal("-L", str(lib), "resolve", "--interactive")
    screen = term.read_until(r"choice> ")
    assert "A:" in screen and "B:" in screen and "IMG_3000.jpg" in screen and "IMG_3000_crop.jpg" in screen
    assert "320×240" in screen and "240×180" in screen  # each photo's size, side by side in the facts
    assert re.search(r"[@%#*+=:.-]{20,}", screen), "a character picture of the photos"
    term.type(option_number(screen, "different photos") + "\n")
    assert term.wait() == 0
    subjects = subprocess.run(["git", "-C", str(lib), "log", "--format=%s"], capture_output=True, text=True).stdout
    assert re.search(r"resolve: IMG_3000\S* not related to IMG_3000\S* \(\w{8}\) \(manual\)", subjects), subjects
    recs = [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]
    assert len(recs) == 2
    assert all(r["resolutions"][-1]["choice"] == "unrelated" for r in recs)
    assert all(not r["conflicts"] for r in recs)
