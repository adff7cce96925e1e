"""A webhook receiver for the tests: it checks every request's signature with the
`standardwebhooks` package (as a product's backend would) against each secret it was given, and
answers from a script. Control routes (JSON):
  POST /_config   {"secrets": [...], "statuses": [500, 500, 410, ...], "now": 1780000000}  the next
                  answers (then 200); "now" (seconds): the time signatures are checked against (the
                  test's clock, so a slow run never makes a timestamp look old), real time without it
  GET  /_received {"data": [{"id", "timestamp", "signature", "body", "answered", "verified": [bool per secret]}]}
Prints 'listening on PORT' once it accepts connections; runs until killed."""

import json
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standardwebhooks.webhooks
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
state = {"secrets": [], "statuses": [], "received": [], "now": None}


class TestClock(datetime):
    """The package's own timestamp check, against the test's clock when it gave one."""

    @classmethod
    def now(cls, tz=None):
        if state["now"] is None:
            return super().now(tz)
        return datetime.fromtimestamp(state["now"], tz)


standardwebhooks.webhooks.datetime = TestClock


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, payload, headers=()):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_received":
            with lock:
                return self.answer(200, {"data": state["received"]})
        self.answer(404, {})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/_config":
            config = json.loads(body)
            with lock:
                state["secrets"] = config.get("secrets", state["secrets"])
                state["statuses"] = list(config.get("statuses", state["statuses"]))
                state["now"] = config.get("now", state["now"])
            return self.answer(200, {})
        headers = {name.lower(): value for name, value in self.headers.items()}
        with lock:
            verified = []
            for secret in state["secrets"]:
                try:
                    Webhook(secret).verify(body, headers)
                    verified.append(True)
                except WebhookVerificationError:
                    verified.append(False)
            status = state["statuses"].pop(0) if state["statuses"] else 200
            state["received"].append({
                "id": headers.get("webhook-id"), "timestamp": headers.get("webhook-timestamp"),
                "signature": headers.get("webhook-signature"), "body": body.decode(), "answered": status,
                "verified": verified,
            })
        # A redirect points back here: a sender that followed it would be seen twice.
        self.answer(status, {"received": status < 300, "padding": "x" * 4000},
                    headers=[("location", "/followed")] if 300 <= status < 400 else ())


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
