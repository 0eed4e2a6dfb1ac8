#!/usr/bin/env python3
"""Independent JOSE implementation (jwcrypto) for Provisio's interop tests.

Reads one JSON object on standard input and writes one on standard output.

  open: {"recipient": <private EC JWK>, "signer": <public EC JWK>, "jwe": "..."}
        -> {"claims": {...}, "header": {...}}   decrypts a nested JWT made by Provisio
  make: {"recipient": <public EC JWK with kid>, "signer": <private EC JWK with kid>,
         "claims": {...}}
        -> {"nested": "<JWE(ECDH-ES+A256KW, A256GCM) of a JWS(ES256)>",
            "direct": "<JWE(ECDH-ES, A256GCM) of the claims>"}
"""
import json
import sys

from jwcrypto import jwe, jwk, jws
from jwcrypto.common import json_encode


def open_nested(req):
    recipient = jwk.JWK(**req["recipient"])
    signer = jwk.JWK(**req["signer"])
    token = jwe.JWE()
    token.deserialize(req["jwe"], key=recipient)
    header = json.loads(token.objects["protected"])
    inner = jws.JWS()
    inner.deserialize(token.payload.decode())
    inner.verify(signer, alg="ES256")
    return {"claims": json.loads(inner.payload), "header": header}


def make(req):
    recipient = jwk.JWK(**req["recipient"])
    signer = jwk.JWK(**req["signer"])
    payload = json.dumps(req["claims"]).encode()
    inner = jws.JWS(payload)
    inner.add_signature(signer, alg="ES256", protected=json_encode({"alg": "ES256", "kid": req["signer"]["kid"], "typ": "JWT"}))
    nested = jwe.JWE(
        inner.serialize(compact=True).encode(),
        protected=json_encode({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": req["recipient"]["kid"], "cty": "JWT"}),
    )
    nested.add_recipient(recipient)
    direct = jwe.JWE(payload, protected=json_encode({"alg": "ECDH-ES", "enc": "A256GCM"}))
    direct.add_recipient(recipient)
    return {"nested": nested.serialize(compact=True), "direct": direct.serialize(compact=True)}


def main():
    command = sys.argv[1]
    req = json.load(sys.stdin)
    out = {"open": open_nested, "make": make}[command](req)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
