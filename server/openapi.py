"""Writes the server's OpenAPI schema, from which the UI's TypeScript types are generated.

Usage: python -m server.openapi docs/openapi.json
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from server.app import create_app
from server.settings import load_settings


def openapi_json() -> str:
    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(data_dir=Path(scratch), token="schema")  # noqa: S106 - never served; only renders the schema
        schema = create_app(settings).openapi_schema.to_schema()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    text = openapi_json()
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
