# Two commands a newcomer needs (see README.md): `make run` and `make test`. Both install what they need.
.PHONY: run serve test api lint bench

run:
	@scripts/setup.sh app
	@.venv/bin/robocoach $(ARGS)

serve:
	@scripts/setup.sh app
	@.venv/bin/robocoach serve $(ARGS)

test:
	@scripts/setup.sh test
	@scripts/test.sh $(ARGS)

# Regenerate the API contract after changing a server Struct or route: REST (OpenAPI), the playback
# WebSocket types and constants, and the playback test fixtures written by the server's encoder.
api:
	@.venv/bin/python -m server.openapi docs/openapi.json
	@cd ui && npx --no-install openapi-typescript ../docs/openapi.json -o src/api/schema.d.ts
	@.venv/bin/python -m server.wire_ts ui/src/api/wire.gen.ts
	@.venv/bin/python ui/src/playback/__fixtures__/make_fixtures.py >/dev/null

lint:
	@.venv/bin/ruff format server desktop tests scripts && .venv/bin/ruff check --fix server desktop tests scripts
	@cd ui && npx --no-install biome check --write .
