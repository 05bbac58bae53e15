"""Print the model version a GET /api/v1/model/info answer (stdin) names: the ``version``
of its ``model`` object (services.inference.responses.ModelInfo). Exits 1 with the answer
when it names none, so the kind e2e never compares a missing version.

usage: curl -fsS -H "X-API-Key: $KEY" "$URL/api/v1/model/info" | python3 model_version.py
"""

from __future__ import annotations

import json
import sys


def served_version(info: object) -> str | None:
    model = info.get("model") if isinstance(info, dict) else None
    version = model.get("version") if isinstance(model, dict) else None
    return str(version) if version not in (None, "") else None


def main() -> int:
    text = sys.stdin.read()
    try:
        version = served_version(json.loads(text))
    except ValueError:
        version = None
    if version is None:
        print(f"no model version in the model info answer: {text[:300]}", file=sys.stderr)
        return 1
    print(version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
