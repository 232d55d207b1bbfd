"""On the wire: request parameters (query, form, multipart), the OAuth 1.0a
signature check, and Flickr's JSON and XML answers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote
from xml.sax.saxutils import escape, quoteattr

from oauthlib.common import safe_string_equals
from oauthlib.oauth1.rfc5849 import signature as oauth_sig
from oauthlib.oauth1.rfc5849 import utils as oauth_utils


@dataclass
class Incoming:
    """One request, parsed: everything the handlers need."""

    method: str
    path: str
    query: str
    headers: dict
    body: bytes
    host: str
    query_pairs: list = field(default_factory=list)
    form_pairs: list = field(default_factory=list)   # urlencoded body, or multipart's non-file fields
    files: dict = field(default_factory=dict)        # multipart file parts: name -> (filename, bytes)
    multipart: bool = False

    @property
    def params(self) -> dict:
        """Request parameters (not the OAuth protocol ones), the last one of a name winning."""
        out = {}
        for k, v in self.query_pairs + self.form_pairs:
            if not k.startswith("oauth_"):
                out[k] = v
        return out

    @property
    def uri(self) -> str:
        """The URI as the client signed it: scheme, the Host it sent, the path
        (RFC 5849 3.4.1.2: the query is not part of the base string URI)."""
        return f"http://{self.host}{self.path}"


def parse_request(method: str, raw_path: str, headers: dict, body: bytes, default_host: str) -> Incoming:
    path, _, query = raw_path.partition("?")
    host = headers.get("host") or default_host
    inc = Incoming(method=method, path=path, query=query, headers=headers, body=body, host=host)
    inc.query_pairs = parse_qsl(query, keep_blank_values=True)
    ctype = headers.get("content-type", "")
    if body and ctype.startswith("application/x-www-form-urlencoded"):
        inc.form_pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    elif ctype.startswith("multipart/form-data"):
        inc.multipart = True
        fields, files = parse_multipart(body, ctype)
        inc.form_pairs = fields
        inc.files = files
    return inc


_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.I)
_DISP_PARAM = re.compile(r';\s*([A-Za-z*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def parse_multipart(body: bytes, ctype: str) -> tuple[list, dict]:
    """(non-file fields as (name, str) pairs, file parts as name -> (filename, bytes))."""
    m = _BOUNDARY.search(ctype)
    if not m:
        return [], {}
    boundary = (m.group(1) or m.group(2)).encode()
    delim = b"--" + boundary
    fields: list = []
    files: dict = {}
    chunks = body.split(delim)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        disp = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disp = value.strip()
        params = {}
        for key, quoted, bare in _DISP_PARAM.findall(disp):
            val = quoted if quoted or not bare else bare.strip()
            params[key.lower()] = val
        if "filename*" in params:  # RFC 5987: utf-8''na%C3%AFve.jpg
            enc, _, rest = params["filename*"].partition("''")
            params["filename"] = unquote(rest, encoding=enc or "utf-8")
        name = params.get("name", "")
        if "filename" in params:
            # urllib3 (used by requests_toolbelt) escapes '"' as %22 in the HTML5 style
            fname = params["filename"].replace("%22", '"').replace('\\"', '"')
            files[name] = (fname, content)
        else:
            fields.append((name, content.decode("utf-8", "replace")))
    return fields, files


# -- OAuth 1.0a ----------------------------------------------------------------------------------

@dataclass
class OAuthParams:
    present: bool
    params: dict            # oauth_* (unescaped), without oauth_signature
    signature: str | None
    base_pairs: list        # everything the signature covers


def oauth_params(inc: Incoming) -> OAuthParams:
    """The OAuth protocol parameters from the Authorization header, the query or the
    form body, and the parameter list the signature covers (RFC 5849 3.4.1.3.1). For
    a multipart upload that is the form fields except ``photo`` (upload.api.html:
    "the 'photo' parameter should not be included in the signature")."""
    pairs = list(inc.query_pairs)
    auth = inc.headers.get("authorization")
    if auth and auth[:6].lower() == "oauth ":
        try:
            header_pairs = oauth_utils.parse_authorization_header(auth)
        except ValueError:
            header_pairs = []
        # header values are percent-encoded (RFC 5849 3.5.1)
        pairs += [(k, oauth_utils.unescape(v)) for k, v in header_pairs if k != "realm"]
    pairs += [(k, v) for k, v in inc.form_pairs if not (inc.multipart and k == "photo")]
    oauth = {}
    signature = None
    base = []
    for k, v in pairs:
        if k == "oauth_signature":
            signature = v
            continue
        if k == "realm":
            continue
        if k.startswith("oauth_"):
            oauth[k] = v
        base.append((k, v))
    return OAuthParams(present=bool(oauth) or signature is not None, params=oauth, signature=signature,
                       base_pairs=base)


def base_string(inc: Incoming, op: OAuthParams) -> str:
    return oauth_sig.signature_base_string(inc.method, oauth_sig.base_string_uri(inc.uri),
                                           oauth_sig.normalize_parameters(op.base_pairs))


class _Secrets:
    def __init__(self, client_secret: str, token_secret: str | None):
        self.client_secret = client_secret
        self.resource_owner_secret = token_secret or ""


def signature_ok(inc: Incoming, op: OAuthParams, client_secret: str, token_secret: str | None) -> bool:
    """HMAC-SHA1 (the only method Flickr takes: flickr.com/services/api/auth.oauth.html)."""
    if op.signature is None or op.params.get("oauth_signature_method", "HMAC-SHA1") != "HMAC-SHA1":
        return False
    expected = oauth_sig.sign_hmac_sha1_with_client(base_string(inc, op), _Secrets(client_secret, token_secret))
    return safe_string_equals(expected, op.signature)


def form_encode(pairs: list[tuple[str, str]]) -> bytes:
    """``a=b&c=d`` with %20 for spaces and %40 for @, as Flickr's OAuth endpoints answer
    (flickr.com/services/api/auth.oauth.html: "fullname=Jamal%20Fanaian&oauth_token=...&user_nsid=21207597%40N07")."""
    return "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in pairs).encode()


# -- REST answers ------------------------------------------------------------------------------

def to_json(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _xml_value(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _xml_element(name: str, node, out: list, indent: str) -> None:
    if isinstance(node, dict):
        attrs = "".join(f" {k}={quoteattr(_xml_value(v))}" for k, v in node.items()
                        if k != "_content" and v is not None and not isinstance(v, (dict, list)))
        children: list = []
        for k, v in node.items():
            if isinstance(v, dict):
                _xml_element(k, v, children, indent + "\t")
            elif isinstance(v, list):
                for item in v:
                    _xml_element(k, item, children, indent + "\t")
        text = node.get("_content")
        if children:
            out.append(f"{indent}<{name}{attrs}>\n" + "".join(children)
                       + (escape(_xml_value(text)) if text is not None else "") + f"{indent}</{name}>\n")
        elif text is not None:
            out.append(f"{indent}<{name}{attrs}>{escape(_xml_value(text))}</{name}>\n")
        else:
            out.append(f"{indent}<{name}{attrs} />\n")
    elif node is None:
        out.append(f"{indent}<{name} />\n")
    else:
        out.append(f"{indent}<{name}>{escape(_xml_value(node))}</{name}>\n")


def to_xml(payload: dict) -> bytes:
    """Flickr's REST (XML) form of a JSON answer: JSON is derived from the XML, so scalars are
    attributes, ``_content`` is text and lists are repeated elements
    (flickr.com/services/api/response.json.html, response.rest.html)."""
    stat = payload.get("stat", "ok")
    parts = ['<?xml version="1.0" encoding="utf-8" ?>\n', f'<rsp stat="{stat}">\n']
    if stat == "fail":
        parts.append(f'\t<err code={quoteattr(str(payload.get("code")))} '
                     f'msg={quoteattr(str(payload.get("message", "")))} />\n')
    else:
        for k, v in payload.items():
            if k == "stat":
                continue
            if isinstance(v, list):
                for item in v:
                    _xml_element(k, item, parts, "")
            else:
                _xml_element(k, v, parts, "")
    parts.append("</rsp>\n")
    return "".join(parts).encode("utf-8")


def upload_ok(photo_id: str, attrs: dict | None = None) -> bytes:
    # upload.api.html / replace.api.html: XML only, whatever format was asked (flickrapi#93)
    a = "".join(f" {k}={quoteattr(str(v))}" for k, v in (attrs or {}).items())
    return (f'<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="ok">\n<photoid{a}>{escape(photo_id)}</photoid>\n'
            f"</rsp>\n").encode("utf-8")


def upload_fail(code: int, msg: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="fail">\n\t<err code="{code}" '
            f"msg={quoteattr(msg)} />\n</rsp>\n").encode("utf-8")
