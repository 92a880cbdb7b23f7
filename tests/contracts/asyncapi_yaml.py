"""Writes ``docs/asyncapi.yaml``, the AsyncAPI document as YAML (``make contracts``); the server serves the same
document as ``GET /asyncapi.json`` and needs no YAML library."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import yaml

from coinapi_emulator.server.plane.implementation import package_version
from coinapi_emulator.server.protocol.asyncapi import asyncapi_document

DOCS_YAML: Final = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def asyncapi_yaml() -> str:
    """The AsyncAPI document as YAML: what ``docs/asyncapi.yaml`` holds."""
    document = asyncapi_document(package_version())
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


if __name__ == "__main__":
    DOCS_YAML.write_text(asyncapi_yaml(), encoding="utf-8")
