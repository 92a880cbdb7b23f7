"""The shipped JSON Schemas as one closed set of components for the AsyncAPI and OpenAPI documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from coinapi_emulator.server.protocol import json_schemas
from coinapi_emulator.server.protocol.json_schemas import COMPONENTS, components, load_schema, schema_names


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def test_the_package_ships_the_schemas_of_every_message_type() -> None:
    names = set(schema_names())
    server_types = {"trade", "quote", "book", "book5", "book20", "book50", "ohlcv", "exrate"}
    metadata = {"asset", "exchange", "symbol"}
    assert server_types | metadata | {"hearbeat", "error", "reconnect", "hello", "subscribe", "unsubscribe"} <= names
    assert {"common", "admin", "rest_error", "rest_trade", "rest_ohlcv"} <= names


def test_a_schema_comes_with_everything_it_references_and_nothing_else() -> None:
    found = components(["trade"])
    assert set(found) == {"trade", "id", "sequence", "time", "uuid", "price", "size", "taker_side"}
    assert found["trade"]["properties"]["time_exchange"] == {"$ref": COMPONENTS + "time"}


def test_references_reach_definitions_inside_files_and_whole_files() -> None:
    found = components(["rest_current_quote", "hello"])
    assert {"last_trade", "client_message", "data_type", "update_limit_ms"} <= set(found)
    assert "resting_level" not in found  # neither refers to a book
    assert found["hello"]["allOf"] == [{"$ref": COMPONENTS + "client_message"}]


@pytest.mark.parametrize("name", schema_names())
def test_every_component_stands_alone(name: str) -> None:
    roots = list(load_schema(name).get("$defs", {})) if name in ("common", "admin") else [name]
    found = components(roots)
    for schema in found.values():
        assert not {"$schema", "$id", "$defs"} & set(schema)
        for ref in _refs(schema):
            assert ref.startswith(COMPONENTS) and ref.removeprefix(COMPONENTS) in found, ref


def test_load_schema_hands_out_a_copy() -> None:
    load_schema("trade")["properties"].clear()
    assert load_schema("trade")["properties"]


@pytest.fixture
def schema_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[str, Any]]]:
    """Stand-in schema files for the loader (its index is rebuilt for them, and again afterwards)."""
    files: dict[str, dict[str, Any]] = {}
    monkeypatch.setattr(json_schemas, "_files", lambda: files)
    json_schemas._index.cache_clear()
    yield files
    json_schemas._index.cache_clear()


def test_a_name_defined_twice_is_refused(schema_files: dict[str, dict[str, Any]]) -> None:
    schema_files["one"] = {"$defs": {"time": {"type": "string"}}}
    schema_files["two"] = {"$defs": {"time": {"type": "integer"}}}
    with pytest.raises(ValueError, match="'time' is defined twice"):
        components(["time"])


@pytest.mark.parametrize("ref", ["common.json#/properties/x", "common.json#/$defs/a/b"])
def test_a_reference_to_anything_but_a_file_or_its_defs_is_refused(
    schema_files: dict[str, dict[str, Any]], ref: str
) -> None:
    schema_files["thing"] = {"type": "object", "properties": {"x": {"$ref": ref}}}
    with pytest.raises(ValueError, match="unsupported \\$ref"):
        components(["thing"])


def test_a_reference_to_a_whole_file_names_its_root(schema_files: dict[str, dict[str, Any]]) -> None:
    schema_files["leg"] = {"$schema": "x", "type": "string"}
    schema_files["pair"] = {"type": "array", "items": {"$ref": "leg.json"}}
    assert components(["pair"]) == {
        "leg": {"type": "string"},
        "pair": {"type": "array", "items": {"$ref": COMPONENTS + "leg"}},
    }
