"""`helm test` probe: the release answers end to end (stdlib only; runs in the inference image).

Environment: INFERENCE_URL (required), BATCH_URL and MLFLOW_URL (optional: "" skips),
API_KEY (optional: without it the authenticated calls are skipped).
Exit 0 when every check passes; one line per check on stdout.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

TIMEOUT = 10.0
ATTEMPTS = int(os.environ.get("ATTEMPTS", "30"))  # readiness may lag a fresh install


def call(url, key=None):
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# A fresh pod's first connections can fail until the node's NetworkPolicy agent has put it
# into the peers' allow sets (found on kind with kube-router: "connection refused" for a
# few seconds): a call that reaches no server is tried again, for up to this many attempts
CONNECT_ATTEMPTS = int(os.environ.get("CONNECT_ATTEMPTS", "15"))


def check(name, url, want, key=None, attempts=1):
    status, body = 0, b""
    attempt = 0
    while True:
        try:
            status, body = call(url, key)
        except OSError as err:
            status, body = 0, str(err).encode()
        attempt += 1
        limit = max(attempts, CONNECT_ATTEMPTS) if status == 0 else attempts
        if status == want or attempt >= limit:
            break
        time.sleep(2)
    ok = status == want
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {url} -> {status} (want {want})", flush=True)
    return ok, body


def main():
    inference = os.environ["INFERENCE_URL"].rstrip("/")
    key = os.environ.get("API_KEY", "")
    results = [check("inference live", f"{inference}/healthz", 200)[0]]
    ready, _ = check(
        "inference ready (model loaded)", f"{inference}/readyz", 200, attempts=ATTEMPTS
    )
    results.append(ready)
    if key:
        ok, body = check("model info with API key", f"{inference}/api/v1/model/info", 200, key)
        results.append(ok)
        if ok:
            model = json.loads(body).get("model") or {}  # ModelInfo: name/version/track
            print(
                f"     serving {model.get('name')} v{model.get('version')} ({model.get('track')})"
            )
            if not model.get("version"):
                print("FAIL model info names no model version")
                results.append(False)
        results.append(
            check("model info without API key refused", f"{inference}/api/v1/model/info", 401)[0]
        )
    results.append(check("inference metrics", f"{inference}/metrics", 200)[0])
    batch = os.environ.get("BATCH_URL", "").rstrip("/")
    if batch:
        results.append(check("batch API live", f"{batch}/healthz", 200, attempts=ATTEMPTS)[0])
    mlflow = os.environ.get("MLFLOW_URL", "").rstrip("/")
    if mlflow:
        results.append(
            check("MLflow tracking server", f"{mlflow}/health", 200, attempts=ATTEMPTS)[0]
        )
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
