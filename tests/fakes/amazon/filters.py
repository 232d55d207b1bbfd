"""The ``filters`` query parameter of Amazon Drive v1 (/nodes, /search, /trash,
/nodes/{id}/children): a Lucene-like language, ``field:value`` terms joined by AND,
``field:(a OR b)`` alternatives, a trailing ``*`` for a prefix, a backslash escaping
a special character (a space included).

Sources: trevorhobenshield/amazon_photos README "Query Syntax" (``kind:(FILE* OR FOLDER*)
AND status:(AVAILABLE*)``, ``type:(PHOTOS OR VIDEOS) AND timeYear:(2019)``), its
``get_root`` (``isRoot:true``), the old Amazon Cloud Drive API's escaped characters
(Rambalac/AmazonCloudDriveApi AmazonNodes.cs: ``[ +\\-&|!(){}[\\]^'"~*?:\\\\]`` are escaped).
"""

from __future__ import annotations

from dataclasses import dataclass


class FilterError(ValueError):
    """A filter the service refuses (HTTP 400)."""


@dataclass
class Term:
    field: str
    values: list          # alternatives; each (text, is_prefix)
    unescaped_space: bool  # a bare space inside the value: Lucene reads the rest as another term


def _split_top(text: str, word: str) -> list[str]:
    """Split on `` AND `` (or another word) outside parentheses and escapes."""
    out, depth, i, start = [], 0, 0, 0
    sep = f" {word} "
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            out.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    out.append(text[start:])
    return [p.strip() for p in out if p.strip()]


def _unescape(value: str) -> tuple[str, bool, bool]:
    """(text, prefix?, had an unescaped space?)"""
    out, i, bare_space = [], 0, False
    prefix = False
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if ch == "*" and i == len(value) - 1:
            prefix = True
        elif ch == " ":
            bare_space = True
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out), prefix, bare_space


def parse(text: str) -> list[Term]:
    terms = []
    for part in _split_top(text or "", "AND"):
        if part.startswith("(") and part.endswith(")") and ":" not in part.split("(", 1)[0]:
            part = part[1:-1].strip()
        field, sep, value = part.partition(":")
        if not sep or not field.strip():
            raise FilterError(f"Invalid filter: {part!r}")
        field = field.strip()
        value = value.strip()
        bare = False
        if value.startswith("(") and value.endswith(")"):
            alts = []
            for alt in _split_top(value[1:-1], "OR"):
                text_, prefix, sp = _unescape(alt)
                bare = bare or sp
                alts.append((text_, prefix))
        else:
            text_, prefix, bare = _unescape(value)
            alts = [(text_, prefix)]
        terms.append(Term(field, alts, bare))
    return terms


def _matches(actual, alts) -> bool:
    if actual is None:
        return False
    if isinstance(actual, (list, tuple, set)):
        return any(_matches(a, alts) for a in actual)
    a = str(actual).lower()
    for text, prefix in alts:
        t = text.lower()
        if (prefix and a.startswith(t)) or a == t:
            return True
    return False


def matches(node_fields: dict, terms: list[Term]) -> bool:
    """node_fields: field name -> value(s) to compare (see FakeAmazonPhotos._fields)."""
    return all(_matches(node_fields.get(t.field), t.values) for t in terms)
