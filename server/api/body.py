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
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _location(error: msgspec.ValidationError) -> tuple[str, str]:
    """(message, key): msgspec's "Expected `bool`, got `int` - at `$.webgl`" -> ("Expected ...", "webgl")."""
    match = _PATH.match(str(error))
    if match is None or not match.group("path"):
        return str(error), "data"
    return match.group("message"), match.group("path").removeprefix(".")


def _integral_floats_as_ints(value: Any) -> Any:
    """JSON has one number type: `170.0` is the integer 170 (as JSON Schema says), while msgspec's strict
    mode refuses a float for an `int`. Ints are accepted where floats are expected, so this loses nothing."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


class StrictJSONRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        body = await self.body()
        field = self.route_handler.parsed_data_field
        target: Any = field.annotation if field is not None else Any
        try:
            raw = msgspec.json.decode(body or b"null")  # syntax, UTF-8 and nesting errors surface here
            return msgspec.convert(_integral_floats_as_ints(raw), target, strict=True)
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
        if not isinstance(info, msgspec.inspect.StructType):
            return schema
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            _restore_zero_bounds(field, (schema.properties or {}).get(field.encode_name))
        return schema


_BOUNDS = (("ge", "minimum"), ("gt", "exclusive_minimum"), ("le", "maximum"), ("lt", "exclusive_maximum"))


def _restore_zero_bounds(field: msgspec.inspect.Field, schema: Schema | Reference | None) -> None:
    """Litestar drops a numeric bound of 0 (it tests the value for truth), so `Meta(ge=0)` reached the
    schema as no bound at all; put it back where Litestar puts the others, on the property itself."""
    if not isinstance(schema, Schema):
        return
    kinds = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
    for kind in kinds:
        if isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
            for bound, key in _BOUNDS:
                if getattr(kind, bound) == 0 and getattr(schema, key) is None:
                    setattr(schema, key, 0)
