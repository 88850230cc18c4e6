"""Every answer the end-to-end tests receive, checked against the document
the service publishes (docs/openapi.json, served as /openapi.json).

An answer conforms when its operation documents its status; every header
the response declares as required is present; its Content-Type is one the
response documents; a JSON body validates against the response's schema; a
response without content has no body; and an error's code is one the
response names (in its description, or as an example). A compressed
answer is gzip with `Vary: Accept-Encoding`, of a path the document's
`x-compression` does not keep in identity encoding. The answers any
request may get (a malformed body, one too large) are the document's
`x-every-request`, the web server's own `x-web-server`, a CORS preflight
`x-preflight`. Paths
the document does not describe are the service's 404s and the web server's
own files.
"""
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema

DOC = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
_RESOLVER = jsonschema.RefResolver.from_schema(DOC)
_VALIDATORS = {}

# What the checks saw: answers validated against an operation, 404s of
# undocumented paths, files the web server serves itself, and the
# (method, path template, status) triples met.
SEEN = {"validated": 0, "unrouted": 0, "web_server": 0, "files": 0, "operations": set()}


class Drift(AssertionError):
    """An answer the document does not describe."""


def _compile(template):
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
                      + r"\Z")


# Literal paths first: /organizations/current before /organizations/{id}.
_ROUTES = sorted(((t.count("{"), t, _compile(t), item) for t, item in DOC["paths"].items()),
                 key=lambda r: r[0])


def deref(obj):
    """obj with its $ref followed (components only), however deep."""
    while isinstance(obj, dict) and "$ref" in obj:
        node = DOC
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def _validator(schema):
    key = json.dumps(schema, sort_keys=True)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = jsonschema.Draft202012Validator(schema, resolver=_RESOLVER)
    return _VALIDATORS[key]


def route(path):
    """(template, path item) of the documented path that path is, or None."""
    for _, template, rx, item in _ROUTES:
        if rx.match(path):
            return template, item
    return None


def documented_codes(spec):
    """The error codes a response names: `code` in its description, and the
    code of each example."""
    codes = set(re.findall(r"`([a-z][a-z0-9_]*)`", spec.get("description", "")))
    for media in spec.get("content", {}).values():
        for example in media.get("examples", {}).values():
            value = deref(example).get("value")
            if isinstance(value, dict) and isinstance(value.get("error"), dict):
                codes.add(value["error"].get("code"))
        value = media.get("example")
        if isinstance(value, dict) and isinstance(value.get("error"), dict):
            codes.add(value["error"].get("code"))
    return codes


def _media_type(resp):
    return (resp.header("Content-Type") or "").split(";")[0].strip().lower()


def _media(content, resp):
    """The documented media type the answer's Content-Type is: the same
    string, or the same type when the document names no parameters."""
    ctype = (resp.header("Content-Type") or "").strip()
    if ctype in content:
        return content[ctype]
    return content.get(_media_type(resp))


def _check_response(where, method, spec, resp):
    spec = deref(spec)
    for name, header in spec.get("headers", {}).items():
        if deref(header).get("required") and resp.header(name) is None:
            raise Drift(f"{where}: no {name} header, which the document requires: {resp!r}")
    content = spec.get("content")
    if not content or method == "HEAD":
        if not content and resp.body:
            raise Drift(f"{where}: a body where the document has none: {resp!r}")
        return
    media = _media(content, resp)
    if media is None:
        raise Drift(f"{where}: Content-Type {resp.header('Content-Type')!r} is not one of "
                    f"{sorted(content)}: {resp!r}")
    if _media_type(resp) != "application/json" or "schema" not in media:
        return
    try:
        data = json.loads(resp.body)
    except ValueError:
        raise Drift(f"{where}: the body is not JSON: {resp!r}") from None
    errors = sorted(_validator(media["schema"]).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise Drift(f"{where}: the body does not match the schema at "
                    f"/{'/'.join(map(str, e.path))}: {e.message}: {resp!r}")
    if resp.status >= 400 and isinstance(data, dict) and "error" in data:
        code = data["error"]["code"]
        if code not in documented_codes(spec):
            raise Drift(f"{where}: error code {code!r} is not one the response documents "
                        f"({sorted(documented_codes(spec))}): {resp!r}")


def _is_file(path):
    """A file the web server serves from share/: the docs page's assets,
    the account pages' scripts and styles, its error documents."""
    return re.fullmatch(r"/(docs|account)/[A-Za-z0-9_.-]+\.(js|css|png|html)|/favicon[^/]*",
                        path) is not None


# The paths whose answers are never compressed (BREACH): a token, a key or
# a secret may stand in them beside what the client sent.
_IDENTITY_ONLY = re.compile(DOC["x-compression"]["identity-only"])


def _check_encoding(where, path, resp):
    encoding = (resp.header("Content-Encoding") or "identity").strip().lower()
    if encoding == "identity":
        return
    if encoding not in ("gzip", "x-gzip"):
        raise Drift(f"{where}: Content-Encoding {encoding!r}, not gzip: {resp!r}")
    if _IDENTITY_ONLY.search(path):
        raise Drift(f"{where}: compressed, though x-compression keeps this path in "
                    f"identity encoding: {resp!r}")
    vary = [v.strip().lower() for v in (resp.header("Vary") or "").split(",")]
    if "accept-encoding" not in vary:
        raise Drift(f"{where}: compressed without Vary: Accept-Encoding: {resp!r}")


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _normal_path(path):
    """path with the escapes of unreserved characters decoded (RFC 3986,
    6.2.2.2): /api/v1/%61uth/me is /api/v1/auth/me to both web servers and
    to the programs, so it is to these checks too."""
    def decode(m):
        c = chr(int(m[1], 16))
        return c if c.isascii() and (c.isalnum() or c in "-._~") else m[0]
    return _ESCAPE.sub(decode, path)


def check(method, target, resp):
    """Raises Drift unless the answer to method target conforms."""
    path = _normal_path(urlsplit(target).path)
    _check_encoding(f"{method} {path} {resp.status}", path, resp)
    if resp.header("X-Request-ID") is None and resp.status >= 400:
        # No program saw it: the web server's own answer (x-web-server).
        _check_web_server(f"{method} {path} {resp.status}", method, resp)
        return
    found = route(path)
    if found is None:
        if resp.status == 404 and _media_type(resp) == "application/json":
            SEEN["unrouted"] += 1
            _check_response(f"{method} {path} (undocumented path)", method,
                            DOC["components"]["responses"]["NotFound"], resp)
            return
        if _is_file(path) or not path.startswith("/api/"):
            SEEN["files"] += 1
            return
        raise Drift(f"{method} {path}: no documented path, and not a 404: {resp!r}")
    template, item = found
    op = item.get("get" if method == "HEAD" else method.lower())
    if op is None:
        # Another method of a documented path: a preflight, the 405 every
        # operation of the path documents, the 404 of a path that is not
        # there for this client (/metrics), or an answer of every request.
        any_op = next(o for m, o in item.items() if m in ("get", "post", "patch", "delete", "put"))
        responses = {k: v for k, v in any_op["responses"].items()
                     if k == "404" or (k == "405" and method != "OPTIONS")}
        if method == "OPTIONS":
            responses.update(DOC["x-preflight"])
    else:
        responses = op.get("responses", {})
    spec = responses.get(str(resp.status)) or responses.get("default")
    every = DOC["x-every-request"].get(str(resp.status))
    where = f"{method} {template} {resp.status}"
    if spec is None and every is None:
        raise Drift(f"{where}: the operation does not document this status "
                    f"({sorted(responses)}): {resp!r}")
    try:
        _check_response(where, method, spec or every, resp)
    except Drift:
        # The operation's own answer of this status, or the one any
        # request may get (a 400 for a malformed query, say).
        if spec is None or every is None:
            raise
        _check_response(where, method, every, resp)
    SEEN["validated"] += 1
    SEEN["operations"].add((method, template, resp.status))


def _check_web_server(where, method, resp):
    """resp is the web server's own answer, which no program saw."""
    SEEN["web_server"] += 1
    _check_response(f"{where} (the web server's)", method, DOC["x-web-server"]["default"], resp)


def check_server_answer(resp):
    """Raises Drift unless resp is an error answer to bytes that name no
    operation: the web server's own, or one any request may get (a web
    server may hand its refusal to a program that writes the envelope)."""
    if resp.status < 400:
        raise Drift(f"a success for what names no operation: {resp!r}")
    if resp.header("X-Request-ID") is None:
        _check_web_server(str(resp.status), "GET", resp)
        return
    every = DOC["x-every-request"].get(str(resp.status))
    if every is None:
        raise Drift(f"{resp.status} for what names no operation, and not an answer of "
                    f"every request: {resp!r}")
    _check_response(f"{resp.status} (of every request)", "GET", every, resp)
    SEEN["validated"] += 1


def summary():
    return (f"contract: {SEEN['validated']} answers validated against /openapi.json "
            f"({len(SEEN['operations'])} distinct operation and status pairs), "
            f"{SEEN['unrouted']} 404s of undocumented paths, {SEEN['web_server']} answers of "
            f"the web server itself, {SEEN['files']} files")
