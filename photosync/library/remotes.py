"""The library across machines (issue 17): git remotes, ``clone``, ``sync`` and the merge driver.

``sync`` fetches the remote's branch, merges it with the library's (photo records through
library/merge.py, config files by key, other files by git), commits the merge, moves the work tree
there under the write journal, catches the derived index up from the changed files only, and
pushes; when the remote moved meanwhile (the push is refused) it fetches and merges again.
Credentials come from the user's SSH agent or git credential helper through pygit2's callbacks:
nothing secret is written into the library.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pygit2

from .. import records
from ..errors import InvalidRecord, PhotosyncError, UsageError
from ..model import FRIENDS_AUDIENCES, VISIBILITY_LEVELS, Photo, within
from .gitstore import set_entry
from .layout import CONFIG_FILES, PHOTOS_DIR, SYNC_STATE_FILE, is_photo_path, photo_path
from .merge import Merged, fold_into, merge_records, merged_into

if TYPE_CHECKING:
    from .library import Library

#: .gitattributes: git hands photo records and config files to photosync's merge driver
GITATTRIBUTES = (
    "# photosync: a plain `git pull` merges photo records and config files the way `photosync sync` does\n"
    "photos/**/*.json merge=photosync\n"
    "config/*.json merge=photosync\n"
)
DRIVER_NAME = "photosync"
#: how many times sync fetches and merges again when the remote moved before its push
PUSH_ATTEMPTS = 6
#: fetch and push: attempts on a network fault (backoff with jitter between them)
NETWORK_ATTEMPTS = 4


class SyncError(PhotosyncError):
    pass


class Refused(SyncError):
    """The remote refused the push: it moved since the fetch (not a network fault: fetch again)."""


def _refused(message: str) -> bool:
    m = message.lower()
    # libgit2 1.9's words for a local remote ("...contains commits that are not present locally"),
    # and a server's ("non-fast-forward", "fetch first")
    return any(w in m for w in ("fast-forward", "fastforward", "fast forward", "not present locally", "fetch first"))


def driver_command() -> str:
    """The command git runs for the merge driver: this Python and this photosync, so a library
    merged by a plain `git pull` uses the photosync that wrote it."""
    return f'"{sys.executable}" -m photosync merge-driver %O %A %B %P'


def install_merge_driver(repo: pygit2.Repository) -> bool:
    """The driver in the repository's own config (git keeps drivers out of committed files, so each
    clone sets its own).  Returns True when something changed."""
    cfg = repo.config
    want = {f"merge.{DRIVER_NAME}.name": "photosync photo records and config (three-way, per field)",
            f"merge.{DRIVER_NAME}.driver": driver_command()}
    changed = False
    for key, value in want.items():
        try:
            have = cfg[key]
        except KeyError:
            have = None
        if have != value:
            cfg[key] = value
            changed = True
    return changed


def has_attributes(root: Path) -> bool:
    try:
        return "merge=photosync" in (root / ".gitattributes").read_text(errors="replace")
    except FileNotFoundError:
        return False


def attributes_bytes(root: Path) -> bytes:
    """The library's .gitattributes with photosync's lines (others' lines kept)."""
    try:
        old = (root / ".gitattributes").read_bytes()
    except FileNotFoundError:
        return GITATTRIBUTES.encode()
    return old.rstrip(b"\n") + b"\n\n" + GITATTRIBUTES.encode()


# -- credentials ---------------------------------------------------------------------------------
def git_credential(url: str) -> tuple[str, str] | None:
    """Ask the user's git credential helper (`git credential fill`) for a user name and password;
    None when git or a helper has none.  Nothing is stored by photosync."""
    try:
        out = subprocess.run(["git", "credential", "fill"], input=f"url={url}\n\n", capture_output=True,
                             text=True, timeout=60, env={"GIT_TERMINAL_PROMPT": "0", **_env()})
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    fields = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    if "username" in fields and "password" in fields:
        return fields["username"], fields["password"]
    return None


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def secret_in_url(url: str) -> bool:
    """A password in the URL (``https://user:pw@host/...``): git would keep it in .git/config."""
    from urllib.parse import urlsplit

    if "://" not in url:
        return False
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def safe_url(url: str) -> str:
    """The URL for a message: a password in it replaced by ***."""
    from urllib.parse import urlsplit

    if not secret_in_url(url):
        return url
    parts = urlsplit(url)
    netloc = f"{parts.username}:***@{parts.netloc.rsplit('@', 1)[1]}"
    return parts._replace(netloc=netloc).geturl()


def _refuse_secret_url(url: str) -> None:
    if secret_in_url(url):
        raise UsageError(f"{safe_url(url)} holds a password, which would be stored in the library's .git/config: "
                         "give the URL without it and keep the password in your git credential helper "
                         "(git config --global credential.helper ...; `git credential approve`)")


class Callbacks(pygit2.RemoteCallbacks):
    """Credentials from the SSH agent or the git credential helper; which refs a push refused.

    libgit2 calls ``credentials`` again after each refusal (HTTP 401, a key the server does not
    take): each kind of credential is offered once, then the refusal is an error naming ``where``
    (the remote), so a wrong password costs one request, not a retry storm, and never appears in
    the message."""

    def __init__(self, where: str = "") -> None:
        super().__init__()
        self.where = where
        self.offered: set[str] = set()
        self.refused: dict[str, str] = {}

    def _refused_error(self, url: str, what: str) -> SyncError:
        where = f"{self.where} ({safe_url(url)})" if self.where else safe_url(url)
        return SyncError(f"{where} refused the credentials from {what}; check them with `git ls-remote {safe_url(url)}` "
                         "(photosync uses the same SSH agent and git credential helper as git)")

    def credentials(self, url, username_from_url, allowed_types):
        from pygit2.enums import CredentialType

        if allowed_types & CredentialType.SSH_KEY:
            if not _env().get("SSH_AUTH_SOCK"):
                where = f"{self.where} ({safe_url(url)})" if self.where else safe_url(url)
                raise SyncError(f"{where} wants an SSH key and no SSH agent is running (SSH_AUTH_SOCK is not set): "
                                "start one and add your key (eval $(ssh-agent); ssh-add)")
            if "agent" in self.offered:
                raise self._refused_error(url, "your SSH agent")
            self.offered.add("agent")
            return pygit2.KeypairFromAgent(username_from_url or "git")
        if allowed_types & CredentialType.USERPASS_PLAINTEXT:
            if "helper" in self.offered:
                raise self._refused_error(url, "your git credential helper")
            self.offered.add("helper")
            found = git_credential(url)
            if found:
                return pygit2.UserPass(*found)
        if allowed_types & CredentialType.USERNAME:
            if "username" in self.offered:
                raise self._refused_error(url, "the user name alone")
            self.offered.add("username")
            return pygit2.Username(username_from_url or "git")
        where = f"{self.where} ({safe_url(url)})" if self.where else safe_url(url)
        raise SyncError(f"no credentials for {where}: start an SSH agent with your key, or set up a git "
                        "credential helper (git config credential.helper)")

    def push_update_reference(self, refname, message):
        if message:
            self.refused[refname] = message


def _network(what: str, fn: Callable[[], Any], sleep: Callable[[float], None] = time.sleep) -> Any:
    """``fn`` with retries on a network fault (backoff with jitter), then a clear error."""
    for attempt in range(NETWORK_ATTEMPTS):
        try:
            return fn()
        except SyncError:
            raise
        except pygit2.GitError as e:
            if _refused(str(e)):
                raise Refused(str(e)) from None
            if attempt == NETWORK_ATTEMPTS - 1:
                raise SyncError(f"{what} failed after {NETWORK_ATTEMPTS} attempts: {e}") from None
            sleep(min(8.0, 0.5 * 2 ** attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


# -- remotes -------------------------------------------------------------------------------------
def add_remote(lib: "Library", name: str, url: str) -> None:
    repo = lib.git.repo
    if name in {r.name for r in repo.remotes}:
        raise UsageError(f"a remote named '{name}' exists already ({safe_url(repo.remotes[name].url)}); "
                         f"remove it first: photosync remote remove {name}")
    _refuse_secret_url(url)
    repo.remotes.create(name, url)


def remove_remote(lib: "Library", name: str) -> None:
    repo = lib.git.repo
    if name not in {r.name for r in repo.remotes}:
        raise UsageError(f"no remote named '{name}' (remotes: {', '.join(r.name for r in repo.remotes) or 'none'})")
    repo.remotes.delete(name)


def list_remotes(lib: "Library") -> list[tuple[str, str]]:
    return [(r.name, safe_url(r.url)) for r in lib.git.repo.remotes]


def _check_out_remote_branch(repo: "pygit2.Repository") -> None:
    from pygit2.enums import CheckoutStrategy

    names = [n for n in repo.branches.remote if n.startswith("origin/") and n != "origin/HEAD"]
    pick = "origin/main" if "origin/main" in names else (names[0] if len(names) == 1 else None)
    if pick is None:
        return
    upstream = repo.branches.remote[pick]
    local = repo.branches.local.create(pick.split("/", 1)[1], repo[upstream.target].peel(pygit2.Commit))
    local.upstream = upstream
    repo.set_head(local.name)
    repo.checkout_head(strategy=CheckoutStrategy.FORCE)


def clone(url: str, path: Path) -> Path:
    """A library from a remote: the repository cloned, the merge driver set, the derived index built."""
    from .library import Library

    _refuse_secret_url(url)
    path = path.expanduser().resolve()
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not empty; clone into a new folder")
    cb = Callbacks()
    _network(f"cloning {safe_url(url)}", lambda: pygit2.clone_repository(url, str(path), callbacks=cb))
    repo = pygit2.Repository(str(path))
    if repo.head_is_unborn:
        # a bare repository made with a plain `git init --bare` names `master` as its HEAD while the
        # library was pushed as `main`: take the remote's main (or its only branch) instead
        _check_out_remote_branch(repo)
    if repo.head_is_unborn:
        raise SyncError(f"{url} holds no library yet (an empty repository): run `photosync init` somewhere, "
                        f"`photosync remote add origin {url}` and `photosync sync` there first")
    install_merge_driver(repo)
    with Library.open(path, write=True):
        pass  # opening builds the derived index and checks every file
    return path


# -- merging -------------------------------------------------------------------------------------
@dataclass
class SyncResult:
    remote: str = ""
    fetched: bool = False
    merged: int = 0  # photo records merged from both sides
    taken: int = 0  # files taken from the remote as they are (changed there only)
    folded: int = 0  # edits of records merged away elsewhere, put on their survivor
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (photo label, field)
    config_notes: list[str] = field(default_factory=list)
    fast_forward: bool = False
    pushed: bool = False
    attempts: int = 0
    commit: str | None = None


_MISSING = object()


def merge_config(base: Any, a: Any, b: Any, where: str, notes: list[str], path: str = "") -> Any:
    """Config merged by key: a key changed on one side takes it; two different changes of one
    value keep the narrower default visibility (or a service's narrower "friends" audience), else the
    greater value, and say so."""
    if a == b:
        return a
    if base is a or base == a:
        return b
    if base == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        base_d = base if isinstance(base, dict) else {}
        out = {}
        for k in [*a, *(k for k in b if k not in a)]:
            value = merge_config(base_d.get(k, _MISSING), a.get(k, _MISSING), b.get(k, _MISSING), where, notes,
                                 f"{path}.{k}" if path else k)
            if value is not _MISSING:
                out[k] = value
        return out
    if a is _MISSING or b is _MISSING:
        kept = b if a is _MISSING else a  # removed on one side, changed on the other: kept
        notes.append(f"{where}: '{path}' was removed on one machine and changed on the other; kept")
        return kept
    if path.endswith("default_visibility") and a in VISIBILITY_LEVELS and b in VISIBILITY_LEVELS:
        chosen = min(a, b, key=VISIBILITY_LEVELS.index)
    elif path.endswith("friends_audience") and a in FRIENDS_AUDIENCES and b in FRIENDS_AUDIENCES \
            and (within(a, b) or within(b, a)):
        chosen = a if within(a, b) else b  # what "friends" means on a service: the narrower (fail closed)
    else:
        chosen = max(a, b, key=lambda v: json.dumps(v, sort_keys=True))
    if where == SYNC_STATE_FILE:
        # bookkeeping (cursors, times of the last runs): the later one; each machine's records of
        # what it saw up to there are merged too, so nothing is skipped
        return chosen
    notes.append(f"{where}: '{path}' was changed on both machines ({json.dumps(a)} and {json.dumps(b)}); "
                 f"kept {json.dumps(chosen)} — change it with photosync if that is not what you want")
    return chosen


def visibility_sets(git, base: str | None, side: str) -> dict[str, str]:
    """photo id -> the last canonical level a `visibility set` (or `adopt`) commit between ``base``
    and ``side`` gave it (a widening needs its reason there; `visibility set` refuses one without)."""
    from .library import _History

    if base is None:
        return {}
    out: dict[str, str] = {}
    for _oid, message, _parent in reversed(git.commits_between(base, side)):  # oldest first
        lines = message.splitlines()
        if not (lines and lines[0].startswith("visibility:")):
            continue
        if not any(line.startswith("reason:") and line[7:].strip() for line in lines):
            continue  # not one `visibility set` wrote (it refuses a widening without a reason): as _History.justified
        for line in lines[1:]:
            m = _History._LINE.search(line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def _parse(data: bytes | None, where: str) -> Photo | None:
    if data is None or not data.strip():
        return None
    return records.photo_from_bytes(data, where)


class _TreeMerge:
    """The merge of two commits' trees, from the files each side changed since their base."""

    def __init__(self, lib: "Library", base: str | None, ours: str, theirs: str,
                 repo: pygit2.Repository | None = None):
        self.lib = lib
        self.git = lib.git
        self.repo: pygit2.Repository = repo or lib.git.repo
        self.base, self.ours, self.theirs = base, ours, theirs
        self.result = SyncResult()
        self.invalid: set[str] = set()
        self.sets_a = visibility_sets(self.git, base, ours)
        self.sets_b = visibility_sets(self.git, base, theirs)

    def _tree(self, oid: str | None):
        return self.repo[oid].peel(pygit2.Commit).tree if oid else None

    def _changed(self, old, new) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        if old is None:
            stack = [(new, "")]
            while stack:
                tree, base = stack.pop()
                for entry in tree:
                    if entry.type_str == "tree":
                        stack.append((self.repo[entry.id].peel(pygit2.Tree), f"{base}{entry.name}/"))
                    elif entry.type_str == "blob":
                        out[f"{base}{entry.name}"] = str(entry.id)
            return out
        for delta in old.diff_to_tree(new).deltas:
            if delta.status_char() == "D":
                out[delta.old_file.path] = None
            else:
                if delta.old_file.path != delta.new_file.path:
                    out[delta.old_file.path] = None
                out[delta.new_file.path] = str(delta.new_file.id)
        return out

    def _read(self, tree, path: str, side: str) -> Photo | None:
        """The record at ``path`` in ``tree``; an invalid one is reported (file, field, which side)
        and taken as absent."""
        try:
            return _parse(self._blob(tree, path), path)
        except InvalidRecord as e:
            self.invalid.add(path)
            self.lib.report.error(path, f"{str(e).split(': ', 1)[1]} (as {side} has it); not merged: the other side's version "
                                        "is kept, this one stays in git history")
            return None

    def _blob(self, tree, path: str) -> bytes | None:
        if tree is None:
            return None
        try:
            entry = tree[path]
        except KeyError:
            return None
        return self.repo[entry.id].peel(pygit2.Blob).data

    def run(self) -> str:
        """The merged tree's id."""
        repo = self.repo
        tb, to, tt = self._tree(self.base), self._tree(self.ours), self._tree(self.theirs)
        da = self._changed(tb, to)
        db = self._changed(tb, tt)
        index = pygit2.Index()
        index.read_tree(to)
        mode = pygit2.enums.FileMode.BLOB

        def put(path: str, data: bytes | None) -> None:
            set_entry(index, path, repo.create_blob(data) if data is not None else None)

        # photos: grouped by photo id (a record moves when its date changes; two machines may file
        # one photo under two dates)
        def ids(changes: dict[str, str | None]) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for p in changes:
                if is_photo_path(p):
                    out.setdefault(p.rsplit("/", 1)[-1][:-5], []).append(p)
            return out

        ia, ib = ids(da), ids(db)
        # files changed on the remote's side only: taken as they are
        for path, blob in db.items():
            if is_photo_path(path):
                continue
            if path not in da:
                if blob is None:
                    put(path, None)
                else:
                    index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=blob), mode))
                self.result.taken += 1
            elif da[path] != blob:
                put(path, self._merge_other(path, tb, to, tt))
        folds: list[tuple[str, Photo]] = []  # (id merged away on one side, its edit on the other)
        for pid, paths in ib.items():
            if pid not in ia:
                for path in paths:
                    blob = db[path]
                    if blob is None:
                        put(path, None)
                    else:
                        index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=blob), mode))
                self.result.taken += 1
                continue
            every = sorted({*paths, *ia[pid]})
            base_rec = next((r for p in every if (r := self._read(tb, p, "the common version")) is not None), None)
            ours_rec = next((r for p in ia[pid] if da[p] is not None and (r := self._read(to, p, "this machine"))),
                            None)
            theirs_rec = next((r for p in paths if db[p] is not None and (r := self._read(tt, p, "the remote"))),
                              None)
            bad = [p for p in every if p in self.invalid]
            if bad and ours_rec is None and theirs_rec is None:
                continue  # neither side is valid: this machine's file stays as it is, reported
            if bad and (ours_rec is None) != (theirs_rec is None):
                # one side's version is not a valid record: the valid one is kept (the other stays in
                # git history, named in the error), never a half-merged file
                kept = ours_rec or theirs_rec
                assert kept is not None
                self._write_photo(index, put, every, Merged(kept))
                continue
            if ours_rec is None and theirs_rec is None:
                for p in every:
                    put(p, None)
                continue
            if ours_rec is None or theirs_rec is None:
                # merged into another record on one side, edited on the other
                edited = ours_rec or theirs_rec
                assert edited is not None
                if base_rec is not None and edited == base_rec:
                    for p in every:
                        put(p, None)
                    continue
                folds.append((pid, edited))
                for p in every:
                    put(p, None)
                continue
            ea, eb = self.sets_a.get(pid), self.sets_b.get(pid)
            merged = merge_records(base_rec, ours_rec, theirs_rec, explicit_a=ea, explicit_b=eb)
            self._write_photo(index, put, every, merged)
        for pid, edited in folds:
            survivor = self._survivor(index, pid)
            if survivor is None:  # nothing names it as merged away: the record is kept, never lost
                where = photo_path(edited.photo_id, edited.metadata.taken_date)
                put(where, records.photo_to_bytes(edited, where))
                continue
            record, where = survivor
            folded = fold_into(record, edited)
            put(where, records.photo_to_bytes(folded, where))
            self.result.folded += 1
        return str(index.write_tree(repo))

    def _write_photo(self, index, put, paths: list[str], merged: Merged) -> None:
        photo = merged.photo
        where = photo_path(photo.photo_id, photo.metadata.taken_date)
        for p in paths:
            if p != where:
                put(p, None)
        put(where, records.photo_to_bytes(photo, where))
        self.result.merged += 1
        self.result.conflicts += [(photo.label, c.field or c.id) for c in merged.conflicts]

    def _survivor(self, index, gone: str) -> tuple[Photo, str] | None:
        """The record that holds ``gone`` (merged into it), as the merged tree has it."""
        holder = None
        for commit in (self.ours, self.theirs):
            for path, blob in self._changed(self._tree(self.base), self._tree(commit)).items():
                if blob is None or not is_photo_path(path):
                    continue
                rec = _parse(self.repo[blob].peel(pygit2.Blob).data, path)
                if rec is not None and gone in merged_into(rec):
                    holder = rec.photo_id
                    break
            if holder:
                break
        if holder is None:
            return None
        for entry in index:
            if is_photo_path(entry.path) and entry.path.endswith(f"/{holder}.json"):
                data = self.repo[entry.id].peel(pygit2.Blob).data
                return records.photo_from_bytes(data, entry.path), entry.path
        return None

    def _merge_other(self, path: str, tb, to, tt) -> bytes | None:
        """A file other than a photo record changed on both sides."""
        base, a, b = (self._blob(t, path) for t in (tb, to, tt))
        if a is None and b is None:
            return None
        if a is None or b is None:
            return a if b is None else b  # removed on one side, changed on the other: kept
        if path in CONFIG_FILES:
            try:
                merged = merge_config(records.parse_json(base, path) if base else {},
                                      records.parse_json(a, path), records.parse_json(b, path), path,
                                      self.result.config_notes)
            except InvalidRecord as e:
                raise SyncError(f"cannot merge {path}: {e}") from None
            return records.dump_json(merged)
        if path == ".gitattributes" or path == ".gitignore":
            lines = list(dict.fromkeys([*a.decode(errors="surrogateescape").splitlines(),
                                        *b.decode(errors="surrogateescape").splitlines()]))
            return ("\n".join(lines) + "\n").encode(errors="surrogateescape")
        merged = _text_merge(base or b"", a, b)
        if merged is None:
            raise SyncError(f"{path} was changed differently on both machines and photosync does not merge "
                            "such a file: merge it with git (git pull), then run photosync sync again")
        return merged


def _text_merge(base: bytes, a: bytes, b: bytes) -> bytes | None:
    """git's line merge of one file (`git merge-file -p`); None when the changes overlap."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        names = []
        for name, data in (("a", a), ("base", base), ("b", b)):
            p = os.path.join(d, name)
            with open(p, "wb") as f:
                f.write(data)
            names.append(p)
        try:
            out = subprocess.run(["git", "merge-file", "-p", *names], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout if out.returncode == 0 else None


def _message(result: SyncResult, remote: str) -> str:
    subject = f"sync: merged {remote}"
    parts = []
    if result.merged:
        parts.append(f"{result.merged} photo record{'s' if result.merged != 1 else ''} changed on both machines")
    if result.taken:
        parts.append(f"{result.taken} file{'s' if result.taken != 1 else ''} from {remote}")
    if result.folded:
        parts.append(f"{result.folded} edit{'s' if result.folded != 1 else ''} of merged-away records moved to "
                     "their survivor")
    if parts:
        subject += " (" + ", ".join(parts) + ")"
    body = []
    if result.conflicts:
        body.append("changed differently on both machines (photosync resolve asks):")
        body += [f"- {label}: {fld}" for label, fld in result.conflicts]
    body += result.config_notes
    return subject + ("\n\n" + "\n".join(body) if body else "")


def sync(lib: "Library", remote: str | None = None, *, push: bool = True,
         sleep: Callable[[float], None] = time.sleep, before_push: Callable[[], None] | None = None) -> SyncResult:
    """Fetch, merge, commit, push; fetched and merged again when the remote moved meanwhile.
    ``before_push`` runs before each push (tests: another machine pushes in between)."""
    git = lib.git
    repo = git.repo
    names = [r.name for r in repo.remotes]
    if remote is None:
        if not names:
            raise UsageError("this library has no remote: add one with photosync remote add origin URL")
        remote = "origin" if "origin" in names else names[0]
    if remote not in names:
        raise UsageError(f"no remote named '{remote}' (remotes: {', '.join(names) or 'none'})")
    if lib.staged_count or lib.git.commit_was_interrupted():
        raise SyncError("a commit is under way in this library; run the command again")
    if repo.head_is_unborn:
        raise SyncError("this library has no commit yet")
    branch = repo.head.shorthand
    with _under_way(lib, remote):
        total = SyncResult(remote=remote)
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            total.attempts = attempt
            cb = Callbacks(remote)
            r = repo.remotes[remote]
            _network(f"fetching from {remote} ({safe_url(r.url)})", functools.partial(r.fetch, callbacks=cb))
            total.fetched = True
            try:
                theirs: str | None = str(repo.references[f"refs/remotes/{remote}/{branch}"].target)
            except KeyError:
                theirs = None  # an empty remote: the first push fills it
            ours = git.head_oid
            assert ours is not None
            if theirs is not None and theirs != ours and not repo.descendant_of(ours, theirs):
                if repo.descendant_of(theirs, ours):
                    git.move_to(theirs, f"sync: fast-forward to {remote}/{branch}")
                    total.fast_forward = True
                    total.commit = theirs
                else:
                    base = repo.merge_base(ours, theirs)
                    # the merge's new objects (merged records, trees, the commit) are caught in memory and
                    # written as one pack, as a large commit's are (gitstore): a loose object each, with
                    # its fsync, cost 12 ms apiece here (200 merged records: 2.5 s)
                    from .gitstore import _MemoryOdb
                    from .packs import write_pack

                    work = pygit2.Repository(str(git.root))
                    mem = _MemoryOdb()
                    work.odb.add_backend(mem, 1000)
                    tm = _TreeMerge(lib, str(base) if base else None, ours, theirs, work)
                    tree = tm.run()
                    res = tm.result
                    sig = git.signature()
                    message = _message(res, remote)
                    oid = work.create_commit(None, sig, sig, message, pygit2.Oid(hex=tree),
                                             [pygit2.Oid(hex=ours), pygit2.Oid(hex=theirs)])
                    if mem.objects:
                        write_pack(((int(kind), data) for kind, data in mem.objects.values()), git.pack_dir)
                        mem.objects.clear()
                    git.repo = repo = pygit2.Repository(str(git.root))  # sees the new pack
                    git.move_to(str(oid), "sync: " + message.splitlines()[0])
                    total.merged += res.merged
                    total.taken += res.taken
                    total.folded += res.folded
                    total.conflicts += res.conflicts
                    total.config_notes += res.config_notes
                    total.commit = str(oid)
                lib._catch_up()
                lib._load_config()
                lib._undo_widenings()  # a widening the remote committed without `visibility set`: narrowed back
            if not push:
                return total
            head = git.head_oid
            if theirs == head:
                return total
            if before_push is not None:
                before_push()
            cb = Callbacks(remote)
            refspec = f"refs/heads/{branch}:refs/heads/{branch}"
            try:
                # threads=0: libgit2's pack builder uses every core for its delta search
                _network(f"pushing to {remote}", functools.partial(r.push, [refspec], callbacks=cb, threads=0))
            except Refused as e:
                cb.refused[refspec] = str(e)
            if not cb.refused:
                total.pushed = True
                return total
            sleep(min(4.0, 0.1 * 2 ** attempt) * (0.5 + random.random()))  # the remote moved: fetch again
        raise SyncError(f"{remote} kept moving while photosync pushed ({PUSH_ATTEMPTS} attempts); run photosync sync again")


@contextlib.contextmanager
def _under_way(lib: "Library", remote: str):
    """Mark a sync as under way for as long as it runs.  A sync killed with kill -9 leaves the
    mark, and may leave the lock files libgit2 holds while it updates refs during a fetch
    (``refs/remotes/origin/main.lock``): every later fetch then failed with "failed to lock file"
    until a person removed it.  The next sync finds the mark and removes those lock files first;
    it holds the library's lock, so no other photosync made them (the locks of an interrupted
    commit are removed the same way: Library._repair_interrupted_writes).  A lock file found
    without the mark is left alone: a git command may be running."""
    mark = lib.private_dir / "syncing"
    if mark.exists():
        gitdir = Path(lib.git.repo.path)
        for stale in [gitdir / "FETCH_HEAD.lock", gitdir / "packed-refs.lock",
                      *(gitdir / "refs" / "remotes" / remote).rglob("*.lock")]:
            stale.unlink(missing_ok=True)
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.write_text(remote + "\n")
    try:
        yield
    finally:
        mark.unlink(missing_ok=True)


# -- the merge driver ----------------------------------------------------------------------------
def merge_driver(base_file: str, ours_file: str, theirs_file: str, path: str) -> int:
    """`git merge` calls this for photo records and config files (.gitattributes): the merge of
    ``ours_file`` and ``theirs_file`` is written to ``ours_file``.  Returns the exit code (0 merged;
    1 when a file is not a valid record, which git then reports as a conflict)."""
    data = [Path(f).read_bytes() for f in (base_file, ours_file, theirs_file)]
    try:
        if is_photo_path(path):
            base, a, b = (_parse(d, path) for d in data)
            if a is None or b is None:
                return 1
            sets = _driver_explicit()
            ea = sets[0].get(a.photo_id) if sets else None
            eb = sets[1].get(a.photo_id) if sets else None
            merged = merge_records(base, a, b, explicit_a=ea, explicit_b=eb).photo
            out = records.photo_to_bytes(merged, path)
        elif path in CONFIG_FILES:
            notes: list[str] = []
            parsed = [records.parse_json(d, path) if d.strip() else {} for d in data]
            out = records.dump_json(merge_config(parsed[0], parsed[1], parsed[2], path, notes))
            for note in notes:
                print(f"photosync: {note}", file=sys.stderr)
        else:
            return 1
    except (InvalidRecord, ValueError) as e:
        print(f"photosync merge-driver: {e}", file=sys.stderr)
        return 1
    Path(ours_file).write_bytes(out)
    return 0


def _driver_explicit() -> tuple[dict[str, str], dict[str, str]] | None:
    """Under `git merge`/`git pull`: the `visibility set` levels of each side (HEAD is ours, the
    commit git names GITHEAD_<sha> theirs).  None when that cannot be told (a rebase): then no widening is taken
    (fail closed)."""
    try:
        repo = pygit2.Repository(".")
    except pygit2.GitError:
        return None
    if repo.head_is_unborn:
        return None
    import os

    ours = str(repo.head.target)
    # git names the commits it merges in the driver's environment (GITHEAD_<sha>=<name>; git 2.39
    # writes MERGE_HEAD only after the merge), the other side is the one that is not HEAD
    named = [k[8:] for k in os.environ if k.startswith("GITHEAD_") and len(k) == 48 and k[8:] != ours]
    merge_head = Path(repo.path) / "MERGE_HEAD"
    if len(named) == 1:
        theirs = named[0]
    elif merge_head.exists():
        theirs = merge_head.read_text().split()[0]
    else:
        return None
    base = repo.merge_base(ours, theirs)
    if base is None:
        return None

    class _G:
        def commits_between(self, old: str, new: str):
            walker = repo.walk(pygit2.Oid(hex=new), pygit2.enums.SortMode.TOPOLOGICAL)
            walker.hide(pygit2.Oid(hex=old))
            return [(str(c.id), c.message, str(c.parent_ids[0]) if c.parent_ids else None) for c in walker]

    return visibility_sets(_G(), str(base), ours), visibility_sets(_G(), str(base), theirs)


__all__ = ["sync", "clone", "merge_driver", "add_remote", "remove_remote", "list_remotes", "install_merge_driver",
           "GITATTRIBUTES", "SyncResult", "SyncError", "PHOTOS_DIR"]
