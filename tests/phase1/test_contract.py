"""The checker every answer goes through (contract.py) refuses what the
document does not describe: without these, a checker that accepted
everything would pass every test."""
import gzip
import json

import pytest

import contract
from conftest import Response

RID = ("X-Request-ID", "4f1c9a2e-5b7d-4c3e-9a1f-2d8e6b0c7a15")
JSON = ("Content-Type", "application/json")


def answer(status, body, headers=(RID, JSON)):
    return Response(status, list(headers), json.dumps(body).encode() if body is not None else b"")


def error(code):
    return {"error": {"code": code, "message": "m", "request_id": RID[1]}}


def test_a_documented_answer_passes():
    contract.check("GET", "/api/v1/members/x", answer(405, error("method_not_allowed"),
                                                     (RID, JSON, ("Allow", "PATCH, DELETE"))))
    contract.check("DELETE", "/api/v1/api-keys/abc", answer(204, None, (RID,)))
    contract.check("GET", "/health", answer(200, {"status": "ok", "version": "0.1.0"}))


@pytest.mark.parametrize("method, target, resp, why", [
    ("GET", "/health", answer(418, error("teapot")), "does not document this status"),
    ("GET", "/health", answer(200, {"status": "ok", "version": "0.1.0"}, (JSON,)), "no X-Request-ID"),
    ("GET", "/health", answer(200, {"status": 3, "version": "0.1.0"}), "does not match the schema"),
    ("GET", "/health", answer(200, {"status": "ok", "version": "0.1.0"}, (RID, ("Content-Type", "text/html"))),
     "Content-Type"),
    ("PATCH", "/api/v1/members/2b1e", answer(409, error("bogus")), "error code 'bogus'"),
    ("GET", "/api/v1/auth/me", answer(401, error("invalid_token")), "WWW-Authenticate"),
    ("POST", "/health", answer(200, {"status": "ok", "version": "0.1.0"}), r"does not document this status \(\[.405.\]\)"),
    ("DELETE", "/api/v1/api-keys/abc", answer(204, {"x": 1}), "a body where"),
    ("GET", "/api/v1/nothing", answer(200, {}), "no documented path"),
    ("GET", "/api/v1/jobs", answer(503, {"error": {"code": "service_unavailable",
                                                   "message": "m", "request_id": "r"}}, (JSON,)),
     "does not match the schema"),
], ids=["status", "request-id", "schema", "content-type", "error-code", "www-authenticate",
        "method", "empty-body", "path", "web-server-envelope"])
def test_an_answer_the_document_does_not_describe_is_drift(method, target, resp, why):
    with pytest.raises(contract.Drift, match=why):
        contract.check(method, target, resp)


def test_an_answer_to_what_is_no_request_is_an_error_of_the_web_server_or_of_every_request():
    contract.check_server_answer(answer(400, {"error": {"code": "malformed_request",
                                                        "message": "m"}}, (JSON,)))
    contract.check_server_answer(answer(505, error("http_version_not_supported")))
    for resp, why in ((answer(200, {"status": "ok", "version": "0.1.0"}), "a success"),
                      (answer(418, error("teapot")), "not an answer of every request"),
                      (answer(505, error("bogus")), "error code 'bogus'")):
        with pytest.raises(contract.Drift, match=why):
            contract.check_server_answer(resp)


def gzipped(status, body, headers):
    return Response(status, [RID, JSON, ("Content-Encoding", "gzip")] + list(headers),
                    gzip.compress(json.dumps(body).encode()))


def test_a_compressed_answer_passes_with_its_content_checked():
    contract.check("GET", "/health", gzipped(200, {"status": "ok", "version": "0.1.0"},
                                             [("Vary", "Origin, Accept-Encoding")]))
    with pytest.raises(contract.Drift, match="does not match the schema"):
        contract.check("GET", "/health", gzipped(200, {"status": 3, "version": "0.1.0"},
                                                 [("Vary", "Accept-Encoding")]))


@pytest.mark.parametrize("target, resp, why", [
    ("/api/v1/auth/me", gzipped(401, error("invalid_token"), [("Vary", "Accept-Encoding")]),
     "identity encoding"),
    ("/api/v1/api-keys/abc", gzipped(404, error("not_found"), [("Vary", "Accept-Encoding")]),
     "identity encoding"),
    ("/api/v1/secrets/abc/reveal", gzipped(404, error("not_found"), [("Vary", "Accept-Encoding")]),
     "identity encoding"),
    ("/health", gzipped(200, {"status": "ok", "version": "0.1.0"}, []), "without Vary"),
    ("/health", Response(200, [RID, JSON, ("Content-Encoding", "br")], b"{}"), "not gzip"),
], ids=["auth", "api-keys", "reveal", "vary", "encoding"])
def test_a_compressed_answer_the_document_keeps_in_identity_is_drift(target, resp, why):
    with pytest.raises(contract.Drift, match=why):
        contract.check("GET", target, resp)
