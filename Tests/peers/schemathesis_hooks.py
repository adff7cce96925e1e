"""Schemathesis hooks for Tollgate's run (the test sets SCHEMATHESIS_HOOKS to this file)."""

import os

import schemathesis

RUN_KEY_ID = os.environ.get("TOLLGATE_RUN_KEY_ID", "")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # The one call left out: revoking or rotating the API key the run itself calls with would
    # turn every later call into a 401. Keys the run creates are revoked and rotated like any.
    if case.operation.path.startswith("/v1/api-keys/{id}") and (case.path_parameters or {}).get("id") == RUN_KEY_ID:
        case.path_parameters["id"] = "key_not_the_runs_own"
