"""Answers for generated bodies (API listings, filtered feeds) with ETag and 304.

The ETag is a hash of the body, so it is right by construction: the body is cheap to
build (pre-rendered fragments joined), and a 304 then saves the transfer.
"""

from __future__ import annotations

import gzip
import hashlib

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from aggregator.web import conditional
from aggregator.web.conditional import Outcome, Validators

API_CACHE = "public, max-age=60, stale-while-revalidate=300"
GZIP_MIN = 1400  # below one packet compression gains nothing


def conditional_response(
    request: Request, body: bytes, media_type: str, cache_control: str = API_CACHE
) -> Response:
    tag = hashlib.blake2b(body, digest_size=16).hexdigest()
    accept = request.headers.get("accept-encoding")
    coding = conditional.choose_coding(accept, len(body) >= GZIP_MIN)
    if coding is None:
        coding = "identity"  # a listing has no other form to offer; better than a 406
    etag = f'"{tag}-gz"' if coding == "gzip" else f'"{tag}"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    outcome = conditional.evaluate(
        {k.lower(): v for k, v in request.headers.items()}, Validators(etag, None)
    )
    if outcome is Outcome.NOT_MODIFIED:
        return Response(status_code=304, headers=headers)
    if outcome is Outcome.FAILED:
        return JSONResponse(
            {"error": "Svaret har ändrats sedan din kopia.", "field": None},
            status_code=412,
            headers=headers,
        )
    if coding == "gzip":
        body = gzip.compress(body, compresslevel=1, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)
