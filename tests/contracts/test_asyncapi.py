"""The AsyncAPI document of the WebSocket API: valid against the official AsyncAPI 3.0.0 JSON Schema, standing
alone, and what ``docs/asyncapi.yaml`` holds (``make contracts`` writes it)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match

from coinapi_emulator.server.plane.implementation import package_version
from coinapi_emulator.server.protocol.asyncapi import CLIENT_MESSAGES, SERVER_MESSAGES, asyncapi_document

from .asyncapi_yaml import DOCS_YAML, asyncapi_yaml

#: the official schema (README.md of this folder says where it comes from)
OFFICIAL: Final = Path(__file__).resolve().parent / "asyncapi-3.0.0.schema.json"
GENERATE: Final = "make contracts"


@pytest.fixture(scope="module")
def official() -> Draft7Validator:
    return Draft7Validator(json.loads(OFFICIAL.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document(package_version())


def test_the_document_is_valid_asyncapi_3(official: Draft7Validator, document: dict[str, Any]) -> None:
    error = best_match(official.iter_errors(document))
    assert error is None, f"{error.message} at /{'/'.join(map(str, error.absolute_path))}"


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("operations", "sendTrade", "action"), "publish"),
        (("components", "schemas", "trade", "type"), "thing"),
        (("servers", "emulator", "protocol"), None),
    ],
)
def test_the_official_schema_refuses_a_broken_document(
    official: Draft7Validator, document: dict[str, Any], where: tuple[str, ...], value: object
) -> None:
    broken = copy.deepcopy(document)
    *parents, last = where
    node = broken
    for key in parents:
        node = node[key]
    node[last] = value
    assert not official.is_valid(broken)


def test_every_reference_resolves_inside_the_document(document: dict[str, Any]) -> None:
    refs = _references(document)
    assert refs, "the document refers to its components"
    for ref in refs:
        assert ref.startswith("#/"), f"{ref} points outside the document"
        node: Any = document
        for key in ref[2:].split("/"):
            assert key in node, f"{ref} does not resolve"
            node = node[key]


def test_it_has_a_message_and_an_operation_for_every_type(document: dict[str, Any]) -> None:
    actions = {op["messages"][0]["$ref"].rsplit("/", 1)[-1]: op["action"] for op in document["operations"].values()}
    assert actions == {
        **{name: "receive" for name in CLIENT_MESSAGES},
        **{name: "send" for name in SERVER_MESSAGES},
    }
    assert set(document["components"]["messages"]) == set(actions)


def test_docs_asyncapi_yaml_is_up_to_date() -> None:
    assert DOCS_YAML.read_text(encoding="utf-8") == asyncapi_yaml(), f"out of date: run {GENERATE}"


def test_the_yaml_reads_back_as_the_document(document: dict[str, Any]) -> None:
    assert yaml.safe_load(DOCS_YAML.read_text(encoding="utf-8")) == document


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _references(item)]
    return []
