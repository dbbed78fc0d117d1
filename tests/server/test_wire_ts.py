"""The generator of the UI's playback wire types (server/wire_ts.py): what it writes and what it refuses.

scripts/test.sh checks that the committed ui/src/api/wire.gen.ts is current; these check that the
generator itself leaves nothing out.
"""

from __future__ import annotations

import re

import msgspec
import msgspec.inspect as mi
import pytest

from server import security
from server.inference import protocol
from server.wire_ts import UnsupportedTypeError, _Writer, close_codes, wire_ts


def test_every_message_and_field_is_written() -> None:
    text = wire_ts()
    for union in (protocol.ClientMessage, protocol.ServerMessage):
        info = mi.type_info(union)
        assert isinstance(info, mi.UnionType)
        for struct in info.types:
            assert isinstance(struct, mi.StructType)
            body = re.search(rf"export interface {struct.cls.__name__} {{\n(.*?)\n}}", text, re.S)
            assert body is not None, struct.cls.__name__
            assert f'  type: "{struct.tag}";' in body.group(1)
            for field in struct.fields:
                assert re.search(rf"^  {field.encode_name}\??: ", body.group(1), re.M), field.name


def test_defaults_are_optional_only_in_frames_the_server_decodes() -> None:
    text = wire_ts()
    assert "  seed?: number; // int >= 0, <= 2147483647" in text  # Reset: browser -> server
    assert "  qacc_warmstart?: Uint8Array;" in text
    assert "  message: string;" in text  # Status.message has a default, but msgspec always writes it
    assert "  seq: number | null; // int" in text  # Error.seq likewise


def test_close_codes_are_the_servers_own() -> None:
    codes = {name: code for name, code, _meaning in close_codes()}
    assert codes["CLOSE_UNAUTHORIZED"] == security.CLOSE_UNAUTHORIZED
    assert codes["CLOSE_UNKNOWN_MODEL"] == protocol.CLOSE_UNKNOWN_MODEL
    assert codes["CLOSE_WORKER_FAILED"] == protocol.CLOSE_WORKER_FAILED
    # Refused before the handshake: a page never sees it, so the UI must not handle it.
    assert "CLOSE_HANDSHAKE_REFUSED" not in codes
    assert "CLOSE_HANDSHAKE_REFUSED" not in wire_ts()


def test_a_type_without_a_typescript_form_is_refused() -> None:
    class Odd(msgspec.Struct):
        table: dict[int, int]  # msgpack allows int keys; a TypeScript Record would lie about them
        named: dict[str, float]

    writer = _Writer()
    info = mi.type_info(Odd)
    assert isinstance(info, mi.StructType)
    with pytest.raises(UnsupportedTypeError, match="no TypeScript form"):
        writer.ts_type(info.fields[0].type)
    assert writer.ts_type(info.fields[1].type) == "Record<string, number>"
