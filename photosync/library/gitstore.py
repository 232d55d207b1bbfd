"""The git side of the library, through pygit2.

A commit is made from the changed files only: each changed file is written to
the work tree (temp file + rename), added to the index (which records its stat
data, so ``git status`` stays fast and clean), and the tree is written from the
index, whose tree cache reuses every unchanged directory.  The cost is O(files
changed), not O(library).

Write order (restic's habit): work-tree files, then objects and the commit, then
the ref, then the index file.  A run killed half-way leaves work-tree files that
are *newer* than HEAD, never older, and :meth:`GitStore.pending_changes` finds
them on the next run so they can be committed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import pygit2
from pygit2.enums import FileMode, FileStatus

from .headref import read_head_oid  # noqa: F401  (re-exported)

FALLBACK_NAME = "photosync"
FALLBACK_EMAIL = "photosync@localhost"

_WT_CHANGED = FileStatus.WT_MODIFIED | FileStatus.WT_DELETED | FileStatus.WT_NEW | FileStatus.WT_TYPECHANGE
_INDEX_CHANGED = (
    FileStatus.INDEX_MODIFIED | FileStatus.INDEX_DELETED | FileStatus.INDEX_NEW | FileStatus.INDEX_TYPECHANGE
)


class GitStore:
    def __init__(self, root: Path):
        self.root = root
        self.repo = pygit2.Repository(str(root))
        self.tmpdir = Path(self.repo.path) / "photosync" / "tmp"

    # -- creation ---------------------------------------------------------------------
    @classmethod
    def init(cls, root: Path) -> "GitStore":
        if not (root / ".git").exists():
            pygit2.init_repository(str(root), initial_head="main")
        return cls(root)

    # -- reading ------------------------------------------------------------------------
    @property
    def head_oid(self) -> str | None:
        if self.repo.head_is_unborn:
            return None
        return str(self.repo.head.target)

    def head_tree(self) -> pygit2.Tree | None:
        if self.repo.head_is_unborn:
            return None
        return self.repo.head.peel(pygit2.Commit).tree

    def has_commit(self, oid: str) -> bool:
        try:
            return isinstance(self.repo.get(oid), pygit2.Commit)
        except (ValueError, KeyError):
            return False

    def read_blob(self, oid: str) -> bytes:
        return self.repo[oid].data

    def head_blob_oid(self, path: str) -> str | None:
        tree = self.head_tree()
        if tree is None:
            return None
        try:
            entry = tree[path]
        except KeyError:
            return None
        return str(entry.id) if entry.type_str == "blob" else None

    def walk(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(path, blob oid) of every file under ``prefix`` at HEAD."""
        tree = self.head_tree()
        if tree is None:
            return
        try:
            sub = tree[prefix]
        except KeyError:
            return
        stack = [(prefix, self.repo[sub.id])]
        while stack:
            base, t = stack.pop()
            for entry in t:
                path = f"{base}/{entry.name}"
                if entry.type_str == "tree":
                    stack.append((path, self.repo[entry.id]))
                elif entry.type_str == "blob":
                    yield path, str(entry.id)

    def changed_between(self, old_commit: str, prefixes: tuple[str, ...]) -> list[tuple[str, str | None]]:
        """Files under ``prefixes`` that differ between ``old_commit`` and HEAD:
        (path, blob oid at HEAD or None when deleted)."""
        old_tree = self.repo[old_commit].peel(pygit2.Commit).tree
        new_tree = self.head_tree()
        out: list[tuple[str, str | None]] = []
        diff = old_tree.diff_to_tree(new_tree)
        for delta in diff.deltas:
            for f, is_new in ((delta.old_file, False), (delta.new_file, True)):
                if not f.path.startswith(prefixes):
                    continue
                if is_new and delta.status_char() != "D":
                    out.append((f.path, str(f.id)))
                elif not is_new and delta.status_char() in ("D", "R"):
                    out.append((f.path, None))
        return out

    def pending_changes(self, prefixes: tuple[str, ...]) -> dict[str, int]:
        """Files under ``prefixes`` whose work-tree or index state differs from HEAD."""
        out = {}
        for path, flags in self.repo.status(untracked_files="all").items():
            if path.startswith(prefixes) and flags & (_WT_CHANGED | _INDEX_CHANGED):
                out[path] = int(flags)
        return out

    def is_worktree_new(self, flags: int) -> bool:
        return bool(flags & FileStatus.WT_NEW) or bool(flags & FileStatus.INDEX_NEW)

    # -- writing -----------------------------------------------------------------------
    def signature(self) -> pygit2.Signature:
        try:
            return self.repo.default_signature
        except (KeyError, pygit2.GitError):
            return pygit2.Signature(FALLBACK_NAME, FALLBACK_EMAIL)

    def write_worktree_file(self, path: str, data: bytes) -> None:
        dest = self.root / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.tmpdir, prefix="w-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def remove_worktree_file(self, path: str) -> None:
        dest = self.root / path
        try:
            dest.unlink()
        except FileNotFoundError:
            pass
        parent = dest.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def commit(self, changes: dict[str, bytes | None], message: str, also_add: Iterable[str] = ()) -> str | None:
        """Write ``changes`` (path -> bytes, or None to delete) to the work tree and
        commit them.  ``also_add`` names files already written to the work tree
        (recovered changes) to include.  Returns the new commit id, or None when
        the tree did not change (no commit is made)."""
        for path, data in changes.items():
            if data is None:
                self.remove_worktree_file(path)
            else:
                self.write_worktree_file(path, data)
        index = self.repo.index
        index.read()
        for path in [*changes, *also_add]:
            if (self.root / path).is_file():
                index.add(path)
            else:
                try:
                    index.remove(path)
                except (OSError, KeyError, pygit2.GitError):
                    pass
        tree = index.write_tree()
        head_tree = self.head_tree()
        if head_tree is not None and head_tree.id == tree:
            index.write()
            return None
        sig = self.signature()
        parents = [] if self.repo.head_is_unborn else [self.repo.head.target]
        oid = self.repo.create_commit("HEAD", sig, sig, message, tree, parents)
        index.write()
        return str(oid)

    def sync_index_to_worktree(self, paths: Iterable[str]) -> None:
        """Refresh index entries (stat data) for files whose content equals HEAD,
        e.g. after a run was killed between writing the ref and the index."""
        index = self.repo.index
        index.read()
        for path in paths:
            if (self.root / path).is_file():
                index.add(path)
            else:
                try:
                    index.remove(path)
                except (OSError, KeyError, pygit2.GitError):
                    pass
        index.write()


def blob_mode() -> int:
    return FileMode.BLOB
