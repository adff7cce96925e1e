"""An SMTP server for the tests (aiosmtpd): AUTH PLAIN as user/secret required (without TLS, on
loopback), RCPT to refused@… answered 550, each message saved as <directory>/<n>.eml. Prints
'listening on PORT' once it accepts connections; runs until killed."""

import itertools
import os
import socket
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

directory = sys.argv[1]
counter = itertools.count()


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
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    valid = isinstance(auth_data, LoginPassword) and auth_data.login == b"user" and auth_data.password == b"secret"
    return AuthResult(success=valid)


probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
controller = Controller(
    Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True,
    auth_require_tls=False)
controller.start()
print(f"listening on {port}", flush=True)
while True:
    time.sleep(3600)
