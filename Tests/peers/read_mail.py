"""Reads an .eml file as a mail program would (Python's email package) and prints what it holds
as JSON: headers decoded (RFC 2047), the text and HTML alternatives."""

import json
import sys
from email import policy
from email.parser import BytesParser

with open(sys.argv[1], "rb") as handle:
    message = BytesParser(policy=policy.default).parse(handle)

parts = {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}
print(json.dumps({
    "from": str(message["From"]),
    "to": str(message["To"]),
    "subject": str(message["Subject"]),
    "messageId": str(message["Message-ID"]),
    "contentType": message.get_content_type(),
    "text": parts.get("text/plain", ""),
    "html": parts.get("text/html", ""),
}))
