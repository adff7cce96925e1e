"""Verifies a Tollgate access token against a JWKS document, as a product would: with PyJWT
(which knows the Ed25519 signature only by its JOSE name EdDSA), or with joserfc (which knows
both EdDSA and RFC 9864's fully specified Ed25519).

usage: verify_jwt.py JWKS_JSON TOKEN AUDIENCE [pyjwt|joserfc]  -> prints the verified claims as JSON, exit 0
"""
import json
import sys

jwks, token, audience = sys.argv[1], sys.argv[2], sys.argv[3]
library = sys.argv[4] if len(sys.argv) > 4 else "pyjwt"

if library == "pyjwt":
    import jwt

    key_set = jwt.PyJWKSet.from_dict(json.loads(jwks))
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in key_set.keys if k.key_id == kid)
    claims = jwt.decode(token, key=key.key, algorithms=["EdDSA"], audience=audience, issuer="tollgate")
else:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    key_set = KeySet.import_key_set(json.loads(jwks))
    decoded = jwt.decode(token, key_set, algorithms=["EdDSA", "Ed25519"])
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": "tollgate"}, aud={"essential": True, "value": audience},
        exp={"essential": True})
    registry.validate(decoded.claims)
    claims = decoded.claims
print(json.dumps(claims))
