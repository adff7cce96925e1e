"""Makes a Stripe-Signature header with Stripe's own library, as Stripe would send it.

usage: stripe_sign.py PAYLOAD_FILE SECRET TIMESTAMP  -> prints the header
"""
import sys

import stripe

payload = open(sys.argv[1], encoding="utf-8").read()
print(stripe.WebhookSignature.generate_signature_header(payload, sys.argv[2], int(sys.argv[3])))
