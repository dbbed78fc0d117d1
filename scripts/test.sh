#!/usr/bin/env bash
# The whole suite: linters and type checks for both languages, the API contract, pytest (server, desktop
# window under Xvfb, end-to-end in headless Chromium) and vitest. Run through `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never
PY=.venv/bin/python
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "ruff (format + lint)"
.venv/bin/ruff format --check server desktop tests scripts
.venv/bin/ruff check server desktop tests scripts

step "mypy (strict)"
.venv/bin/mypy

step "API contract: docs/openapi.json, ui/src/api/*.ts and the playback fixtures are generated from the server"
$PY -m server.openapi > .cache/openapi.json
if ! cmp -s .cache/openapi.json docs/openapi.json; then
  diff -u docs/openapi.json .cache/openapi.json | head -40
  echo "docs/openapi.json is stale: run 'make api'" >&2; exit 1
fi
(cd ui && npx --no-install openapi-typescript ../docs/openapi.json -o ../.cache/schema.d.ts >/dev/null 2>&1)
if ! cmp -s .cache/schema.d.ts ui/src/api/schema.d.ts; then
  echo "ui/src/api/schema.d.ts is stale: run 'make api'" >&2; exit 1
fi
$PY -m server.wire_ts > .cache/wire.gen.ts
if ! cmp -s .cache/wire.gen.ts ui/src/api/wire.gen.ts; then
  diff -u ui/src/api/wire.gen.ts .cache/wire.gen.ts | head -40
  echo "ui/src/api/wire.gen.ts (the playback WebSocket contract) is stale: run 'make api'" >&2; exit 1
fi
rm -rf .cache/playback-fixtures
$PY ui/src/playback/__fixtures__/make_fixtures.py .cache/playback-fixtures >/dev/null
if ! diff -r .cache/playback-fixtures ui/src/playback/__fixtures__ -x make_fixtures.py -x __pycache__; then
  echo "ui/src/playback/__fixtures__ is stale: run 'make api'" >&2; exit 1
fi

step "UI: biome, typescript, vitest"
(cd ui && npm run --silent lint && npx --no-install tsc --noEmit -p . && npm run --silent test)

step "pytest"
$PY -m pytest -p no:cacheprovider -ra --durations=30 "$@"
