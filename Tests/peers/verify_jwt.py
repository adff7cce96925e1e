"""Verifies a Tollgate access token with PyJWT against a JWKS document, as a product would.

usage: verify_jwt.py JWKS_JSON TOKEN AUDIENCE  -> prints the verified claims as JSON, exit 0
"""
import json
import sys

import jwt

jwks, token, audience = sys.argv[1], sys.argv[2], sys.argv[3]
key_set = jwt.PyJWKSet.from_dict(json.loads(jwks))
kid = jwt.get_unverified_header(token)["kid"]
key = next(k for k in key_set.keys if k.key_id == kid)
claims = jwt.decode(token, key=key.key, algorithms=["EdDSA"], audience=audience, issuer="tollgate")
print(json.dumps(claims))
