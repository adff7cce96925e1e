"""Reads an .eml file as a mail program would (Python's email package) and prints what it holds
as JSON: headers decoded (RFC 2047), the text and HTML alternatives, and the attachments if any
(name, type, content in base64)."""

import base64
import json
import sys
from email import policy
from email.parser import BytesParser

with open(sys.argv[1], "rb") as handle:
    message = BytesParser(policy=policy.default).parse(handle)

parts = {part.get_content_type(): part.get_content() for part in message.walk()
         if not part.is_multipart() and not part.is_attachment()}
attachments = [{"filename": part.get_filename(), "contentType": part.get_content_type(),
                "content": base64.b64encode(part.get_content()).decode()}
               for part in message.iter_attachments()]
read = {
    "from": str(message["From"]),
    "to": str(message["To"]),
    "subject": str(message["Subject"]),
    "messageId": str(message["Message-ID"]),
    "contentType": message.get_content_type(),
    "text": parts.get("text/plain", ""),
    "html": parts.get("text/html", ""),
}
# Only when there are some: the other readers expect strings only.
if attachments:
    read["attachments"] = attachments
print(json.dumps(read))
