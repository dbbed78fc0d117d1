"""JSON request bodies: decoded strictly, straight into the handler's declared type; a bad body is a 400.

Litestar decodes a body to builtins and then converts it with msgspec's lax rules (meant for query strings),
so `{"webgl": 0}` became `True` and `"5"` an int; and msgspec raises UnicodeDecodeError for invalid UTF-8
inside a string and RecursionError for deeply nested JSON, which reached the client as 500s. This request
class decodes once, strictly, into the `data` parameter's type; the signature model then passes the typed
value through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin  # pinned litestar
from litestar.exceptions import ClientException, ValidationException
from litestar.openapi.spec import Schema
from litestar.typing import FieldDefinition

_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _location(error: msgspec.ValidationError) -> tuple[str, str]:
    """(message, key): msgspec's "Expected `bool`, got `int` - at `$.webgl`" -> ("Expected ...", "webgl")."""
    match = _PATH.match(str(error))
    if match is None or not match.group("path"):
        return str(error), "data"
    return match.group("message"), match.group("path").removeprefix(".")


class StrictJSONRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        body = await self.body()
        field = self.route_handler.parsed_data_field
        target: Any = field.annotation if field is not None else Any
        try:
            return msgspec.json.decode(body or b"null", type=target, strict=True)
        except msgspec.ValidationError as exc:
            # The same shape as Litestar's own validation errors: the UI and tests read `extra[].key`.
            message, key = _location(exc)
            raise ValidationException(
                detail=f"Validation failed for {self.method} {self.url.path}",
                extra=[{"message": message, "key": key, "source": "body"}],
            ) from exc
        except msgspec.DecodeError as exc:
            raise ClientException(detail=f"the request body is not valid JSON: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ClientException(detail="the request body is not valid JSON: a string is not UTF-8") from exc
        except RecursionError as exc:
            raise ClientException(
                detail="the request body is not valid JSON: it is nested too deeply"
            ) from exc


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Says in the schema what the decoder enforces: a Struct with `forbid_unknown_fields` is an object with
    `additionalProperties: false` (Litestar's own plugin leaves it open, so clients and schemathesis
    believed extra fields were accepted). Registered on the app, it runs before the built-in one."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        return schema
