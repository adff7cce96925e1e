"""An SMTP server for the tests (aiosmtpd): AUTH as user/secret required, RCPT to refused@…
answered 550, each message saved as <directory>/<n>.eml (numbered on from the files there).
Usage: smtp_server.py DIRECTORY [plain|slow [PORT]] or DIRECTORY starttls|implicit CERT KEY [PORT],
where `plain` is no TLS, AUTH PLAIN on loopback (the default),
`slow` (plain, answering DATA only after 30 s, once the message is saved),
`starttls` (STARTTLS required before AUTH, and only AUTH LOGIN offered) or `implicit` (TLS from
the first byte); PORT reuses a port (a server brought back up). Prints 'listening on PORT' once it
accepts connections; runs until killed."""

import asyncio
import itertools
import os
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

directory = sys.argv[1]
counter = itertools.count(len([name for name in os.listdir(directory) if name.endswith('.eml')]))


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        path = os.path.join(directory, f"{next(counter)}.eml")
        with open(path + ".tmp", "wb") as handle:
            handle.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        if slow:
            # Saved, but the answer comes late: a sender killed now never learns it was sent.
            await asyncio.sleep(30)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    valid = isinstance(auth_data, LoginPassword) and auth_data.login == b"user" and auth_data.password == b"secret"
    return AuthResult(success=valid)


mode = sys.argv[2] if len(sys.argv) > 2 else "plain"
slow = mode == "slow"
mode = "plain" if slow else mode
context = None
if mode not in ("plain",):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
explicit_port = sys.argv[5] if len(sys.argv) > 5 else (sys.argv[3] if mode == "plain" and len(sys.argv) > 3 else None)
if explicit_port:
    port = int(explicit_port)
else:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
options = dict(hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True)
if mode == "plain":
    controller = Controller(Handler(), auth_require_tls=False, **options)
elif mode == "starttls":
    controller = Controller(
        Handler(), tls_context=context, require_starttls=True, auth_require_tls=True,
        auth_exclude_mechanism=["PLAIN"], **options)
else:
    controller = Controller(Handler(), ssl_context=context, auth_require_tls=False, **options)
controller.start()
print(f"listening on {port}", flush=True)
while True:
    time.sleep(3600)
