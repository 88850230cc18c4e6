"""What the web server answers itself is the error envelope of api.md §1.

lighttpd and Apache refuse some requests before any program sees them (a
malformed request line or header, an unknown method, a body too large or
without a length, a URI or headers too long) and answer for a program they
cannot reach. Behind either server every such answer is JSON: the envelope
with a code, as application/json with the programs' security headers,
never the server's HTML page. Behind lighttpd a program writes it (through
server.error-handler), so it has a request_id like every other answer;
Apache sends a static document, which has none.

The same request can meet different rules behind the two servers (Apache
passes unknown methods on, lighttpd answers 501), so each case names what
each server answers. Raw sockets send what an HTTP client would refuse to.
"""
import json
import os
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import (ROOT, SERVER_ERROR_HEADERS, assert_server_error, own_stack,
                      parse_response)


def exchange(stack, data):
    """Sends raw bytes, half-closes, and parses whatever comes back."""
    with socket.create_connection((stack.host, stack.port), timeout=30) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before it took everything
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            chunks.append(c)
    return parse_response(b"".join(chunks), data)


def web(stack):
    return stack.env.get("HOMEBOT_WEB", "lighttpd")


def request(line, *headers, body=b""):
    head = line + "\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode("latin-1") + body


# Each case: the request, and (status, code) behind each server. Where a
# server passes the request on, the program's answer is named (still the
# envelope); a code of None is a plain success.
CASES = {
    "malformed_request_line": (
        b"GARBAGE\r\n\r\n",
        {"lighttpd": (400, "malformed_request"), "apache": (400, "malformed_request")}),
    "control_character_in_request_line": (
        b"GET /he\x01alth HTTP/1.1\r\nHost: x\r\n\r\n",
        {"lighttpd": (400, "malformed_request"), "apache": (400, "malformed_request")}),
    "header_line_without_colon": (
        request("GET /health HTTP/1.1", "Host: x", "NoColonHere"),
        {"lighttpd": (400, "malformed_request"), "apache": (400, "malformed_request")}),
    "http11_without_host": (
        request("GET /health HTTP/1.1"),
        {"lighttpd": (400, "malformed_request"), "apache": (400, "malformed_request")}),
    "bare_lf_line_ends": (
        b"GET /health HTTP/1.1\nHost: x\n\n",
        {"lighttpd": (400, "malformed_request"), "apache": (400, "malformed_request")}),
    "content_length_not_a_number": (
        request("POST /health HTTP/1.1", "Host: x", "Content-Length: abc"),
        {"lighttpd": (400, "malformed_request"), "apache": (400, "malformed_request")}),
    "two_content_lengths": (
        request("POST /health HTTP/1.1", "Host: x", "Content-Type: application/json",
                "Content-Length: 1", "Content-Length: 2", body=b"{}"),
        {"lighttpd": (400, "malformed_request"), "apache": (400, "malformed_request")}),
    "nul_escape_in_path": (
        request("GET /x%00y HTTP/1.1", "Host: x"),
        {"lighttpd": (400, "malformed_request"), "apache": (404, "not_found")}),
    "bad_escape_in_path": (
        request("GET /%zz HTTP/1.1", "Host: x"),
        {"lighttpd": (400, "malformed_request"), "apache": (400, "malformed_request")}),
    "dot_segments_above_the_root": (
        request("GET /../../etc/passwd HTTP/1.1", "Host: x"),
        {"lighttpd": (404, "not_found"), "apache": (400, "malformed_request")}),
    "unknown_method": (
        request("FOO /health HTTP/1.1", "Host: x"),
        {"lighttpd": (501, "not_implemented"), "apache": (405, "method_not_allowed")}),
    "trace": (
        request("TRACE /health HTTP/1.1", "Host: x"),
        {"lighttpd": (405, "method_not_allowed"), "apache": (405, "method_not_allowed")}),
    "get_with_a_body": (
        request("GET /health HTTP/1.1", "Host: x", "Content-Length: 5", body=b"hello"),
        {"lighttpd": (400, "malformed_request"), "apache": (415, "unsupported_media_type")}),
    "post_without_content_length": (
        request("POST /health HTTP/1.1", "Host: x", "Content-Type: application/json"),
        {"lighttpd": (411, "length_required"), "apache": (405, "method_not_allowed")}),
    "unknown_transfer_coding": (
        request("POST /health HTTP/1.1", "Host: x", "Transfer-Encoding: gzip"),
        {"lighttpd": (501, "not_implemented"), "apache": (400, "malformed_request")}),
    "content_length_over_the_server_limit": (
        request("POST /api/v1/auth/login HTTP/1.1", "Host: x", "Content-Type: application/json",
                "Content-Length: 2000000", body=b"{"),
        {"lighttpd": (413, "payload_too_large"), "apache": (413, "payload_too_large")}),
    "chunked_body_over_the_server_limit": (
        request("POST /api/v1/auth/login HTTP/1.1", "Host: x", "Content-Type: application/json",
                "Transfer-Encoding: chunked",
                body=b"".join(b"10000\r\n" + b"x" * 0x10000 + b"\r\n" for _ in range(20))
                + b"0\r\n\r\n"),
        {"lighttpd": (413, "payload_too_large"), "apache": (413, "payload_too_large")}),
    "request_line_over_8_kib": (
        request("GET /" + "a" * 9000 + " HTTP/1.1", "Host: x"),
        {"lighttpd": (431, "headers_too_large"), "apache": (414, "uri_too_long")}),
    "header_over_8_kib": (
        request("GET /health HTTP/1.1", "Host: x", "X-Big: " + "a" * 10000),
        {"lighttpd": (431, "headers_too_large"), "apache": (400, "malformed_request")}),
    "header_of_100_kib": (
        request("GET /health HTTP/1.1", "Host: x", "X-Big: " + "a" * 100000),
        {"lighttpd": (431, "headers_too_large"), "apache": (400, "malformed_request")}),
    "unknown_http_version": (
        request("GET /health HTTP/9.9", "Host: x"),
        {"lighttpd": (505, "http_version_not_supported"), "apache": (200, None)}),
    "expectation_other_than_100_continue": (
        request("GET /health HTTP/1.1", "Host: x", "Expect: teapot"),
        {"lighttpd": (200, None), "apache": (417, "expectation_failed")}),
    "a_range_is_ignored": (
        request("GET /health HTTP/1.1", "Host: x", "Range: bytes=1000-2000"),
        {"lighttpd": (200, None), "apache": (200, None)}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_request_gets_the_envelope(stack, case):
    data, expected = CASES[case]
    status, code = expected[web(stack)]
    r = exchange(stack, data)
    if code is None:
        assert r is not None and r.status == status, r
        assert r.header("Content-Type") == "application/json", r.headers
        assert r.json()["status"] == "ok", r
        assert r.header("Accept-Ranges") is None, r.headers
        assert "Content-Length" not in (r.header("Vary") or ""), r.headers
    else:
        assert_server_error(stack, r, status, code)
    assert stack.get("/health").status == 200


def test_head_of_a_refused_request_has_the_headers_and_no_body(stack):
    r = exchange(stack, request("HEAD /health HTTP/1.1", "Host: x", "Transfer-Encoding: gzip"))
    assert r.status in (400, 501), r
    assert r.header("Content-Type") == "application/json", r.headers
    assert r.body == b"", r
    for name, value in SERVER_ERROR_HEADERS.items():
        assert r.header(name) == value, (name, r.headers)


def test_a_clients_request_id_is_kept_on_the_servers_own_error(stack):
    # A POST without Content-Length: lighttpd has read the headers when it
    # refuses it (an unknown method it refuses before reading any).
    r = exchange(stack, request("POST /health HTTP/1.1", "Host: x", "X-Request-ID: refused-1",
                                "Content-Type: application/json"))
    err = assert_server_error(stack, r, *CASES["post_without_content_length"][1][web(stack)])
    assert err["request_id"] == "refused-1", err


# Apache answers from a static document: no program logs it.
@pytest.mark.only_behind("lighttpd")
def test_refused_request_is_logged_with_its_path_and_status(stack):
    stack.need_own()
    marker = "refused-" + uuid.uuid4().hex
    exchange(stack, request("POST /api/v1/organizations HTTP/1.1", "Host: x",
                            "X-Request-ID: " + marker))
    deadline = time.time() + 5
    while True:
        lines = [json.loads(l) for l in stack.web_log().splitlines()
                 if l.startswith("{") and marker in l]
        if lines or time.time() > deadline:
            break
        time.sleep(0.1)
    assert len(lines) == 1, lines
    assert lines[0]["status"] == 411 and lines[0]["path"] == "/api/v1/organizations", lines


# Apache's static documents carry no CORS headers.
@pytest.mark.only_behind("lighttpd")
def test_a_cross_origin_client_can_read_the_servers_own_error(stack):
    r = exchange(stack, request("POST /api/v1/auth/login HTTP/1.1", "Host: x",
                                "Origin: https://app.example.com"))
    assert_server_error(stack, r, 411, "length_required")
    assert r.header("Access-Control-Allow-Origin") == "https://app.example.com", r.headers


@pytest.mark.parametrize("path", ["/.server-error", "/.server-errors/400.html",
                                  "/.server-errors/503.html"])
def test_the_error_documents_are_not_resources(stack, path):
    r = stack.get(path)
    assert_server_error(stack, r, 404, "not_found")


def test_the_servers_own_errors_are_never_html_on_any_path(stack):
    for path in ("/health", "/api/v1/auth/login", "/docs", "/openapi.json", "/nope"):
        r = exchange(stack, request("GET " + path + " HTTP/1.1", "Host: x",
                                    "Content-Length: abc"))
        assert_server_error(stack, r, 400, "malformed_request")


def error_documents():
    """The build's share/errors/, the static documents, made first."""
    subprocess.run(["make", "-s", "-C", str(ROOT), "build"], check=True)
    build = Path(os.environ.get("BUILD", "build"))
    return (build if build.is_absolute() else ROOT / build) / "share" / "errors"


def test_every_error_document_is_an_apache_error_document():
    docs = error_documents()
    files = {int(p.stem) for p in docs.glob("*.html")}
    conf = (ROOT / "apache.conf").read_text()
    configured = {int(s): doc for s, doc in
                  re.findall(r"^ErrorDocument (\d{3}) (\S+)$", conf, re.M)}
    assert files and set(configured) == files, (sorted(files), sorted(configured))
    for status, doc in configured.items():
        assert doc == f"/.server-errors/{status}.html", (status, doc)
    for p in docs.glob("*.html"):
        body = json.loads(p.read_text())
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, (p, body)


# ---- a program that cannot be reached ---------------------------------------

@pytest.fixture(scope="module")
def doomed():
    """A stack of this module's own: its programs get broken on purpose."""
    yield from own_stack()


def break_program(stack, program):
    """Replaces the program with one that exits at once, and ends the
    processes it runs as: the web server can no longer reach it."""
    app = Path(stack.dir, "app", "cgi-bin")
    broken = app / (program + ".broken")
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    os.rename(broken, app / program)
    for pid in stack.worker_pids(program):
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass


def answer_once_broken(stack, path, healthy_status):
    """The answer for path once the web server settled on its program
    being gone (the same status twice in a row). The answers on the way
    (lighttpd's 500 for the request the dying program dropped) are
    envelopes too. A request may wait for mod_fcgid's answer up to its
    slot wait (about half a minute, below)."""
    deadline = time.time() + 30
    last = None
    while True:
        r = stack.get(path, timeout=90)
        if r.status != healthy_status:
            assert r.header("Content-Type") == "application/json", r
            assert set(r.json()) == {"error"}, r
            if last is not None and last.status == r.status or time.time() > deadline:
                return r
        last = r
        time.sleep(0.2)


def test_a_program_that_cannot_be_reached_gets_the_envelope(doomed):
    assert doomed.get("/api/v1/jobs").status == 401
    break_program(doomed, "jobs")
    r = answer_once_broken(doomed, "/api/v1/jobs", 401)
    if web(doomed) == "lighttpd":
        # A program writes it: 503 with Retry-After and a request_id.
        assert_server_error(doomed, r, 503, "service_unavailable")
        assert int(r.header("Retry-After")) > 0, r.headers
    elif r.status == 503:
        # Under load, mod_fcgid's process manager may stop spawning a
        # program that keeps dying at its start for a while: a request
        # then waits for a slot (about half a minute) and gets 503.
        assert_server_error(doomed, r, 503, "service_unavailable")
    else:
        # mod_fcgid answers a program that dies at its start with 500
        # ("End of script output before headers"). Only an error document
        # that rewrites every 500 alike could change that.
        assert_server_error(doomed, r, 500, "internal_error")
    # Everything else still answers.
    assert doomed.get("/health").status == 200


# Apache always answers from its static documents.
@pytest.mark.only_behind("lighttpd")
def test_when_even_the_error_program_is_gone_the_static_envelope_goes_out(doomed):
    break_program(doomed, "jobs")
    break_program(doomed, "health")
    deadline = time.time() + 30
    while True:
        r = doomed.get("/api/v1/jobs")
        if r.header("X-Request-ID") is None or time.time() > deadline:
            break
        time.sleep(0.2)
    # lighttpd's errorfile-prefix document: the envelope as JSON, though
    # lighttpd 1.4.69 sends no module's headers with it.
    assert r.status == 503, r
    assert r.header("Content-Type") == "application/json", r.headers
    assert r.json() == json.loads((error_documents() / "503.html").read_text()), r
    assert r.json()["error"]["code"] == "service_unavailable", r
