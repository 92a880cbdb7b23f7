"""The JSON Schemas (2020-12) of every message and REST body the emulator sends or takes: ``schemas/*.json``,
shipped with the package, the one source the AsyncAPI and OpenAPI documents and the tests read.

A file whose root is a schema is named by its stem (``trade``); the entries of any file's ``$defs`` by their own
names (``time``, ``admin_status``), one namespace for all. ``components`` gives a closed set of them with every
``$ref`` pointing into an OpenAPI or AsyncAPI document's ``#/components/schemas/``, so that document stands alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Final

JsonSchema = dict[str, Any]

PACKAGE: Final = "coinapi_emulator.server.protocol"
COMPONENTS: Final = "#/components/schemas/"
#: keywords only a file's root has: the file itself, not the schema, is what they describe
_FILE_KEYWORDS: Final = frozenset({"$schema", "$id", "$defs"})
#: a root with only these is a container of ``$defs`` (common.json), not a schema of its own
_CONTAINER_KEYWORDS: Final = _FILE_KEYWORDS | {"title", "description", "$comment"}


def schema_dir() -> Traversable:
    """The folder of the schema files inside the installed package."""
    return files(PACKAGE) / "schemas"


@cache
def _files() -> dict[str, JsonSchema]:
    paths = (path for path in schema_dir().iterdir() if path.name.endswith(".json"))
    return {path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8")) for path in paths}


def schema_names() -> list[str]:
    """The stems of the schema files, sorted."""
    return sorted(_files())


def load_schema(name: str) -> JsonSchema:
    """``schemas/<name>.json``, parsed (a copy: callers may change it)."""
    return copy.deepcopy(_files()[name])


@cache
def _index() -> dict[str, tuple[str, str | None]]:
    """Each component name: the file it is in, and its ``$defs`` entry (None for the file's root)."""
    index: dict[str, tuple[str, str | None]] = {}
    for stem, contents in _files().items():
        entries = [(name, (stem, name)) for name in contents.get("$defs", {})]
        if not set(contents) <= _CONTAINER_KEYWORDS:
            entries.append((stem, (stem, None)))
        for name, where in entries:
            if name in index:
                raise ValueError(f"schema name '{name}' is defined twice: {index[name]} and {where}")
            index[name] = where
    return index


def _component_name(ref: str, stem: str) -> str:
    """The component a ``$ref`` in file ``stem`` names: ``common.json#/$defs/time`` -> ``time``, ``trade.json`` ->
    ``trade``, ``#/$defs/level`` -> ``level``."""
    target, _, fragment = ref.partition("#")
    if not fragment:
        return target.removesuffix(".json")
    if not fragment.startswith("/$defs/") or fragment.count("/") != 2:
        raise ValueError(f"unsupported $ref '{ref}' in {stem}.json: only a file, or one of its $defs")
    return fragment.removeprefix("/$defs/")


def _rewritten(node: Any, stem: str, found: set[str]) -> Any:
    """``node`` with each ``$ref`` pointing into ``#/components/schemas/``; the names it points to go to ``found``."""
    if isinstance(node, list):
        return [_rewritten(item, stem, found) for item in node]
    if not isinstance(node, dict):
        return node
    out: JsonSchema = {}
    for key, value in node.items():
        if key == "$ref":
            name = _component_name(value, stem)
            found.add(name)
            out[key] = COMPONENTS + name
        else:
            out[key] = _rewritten(value, stem, found)
    return out


def components(roots: Iterable[str]) -> dict[str, JsonSchema]:
    """The schemas named ``roots`` and every schema they reference, by name (sorted), each with its ``$ref`` s
    rewritten to ``#/components/schemas/<name>`` and without the keywords of a file (``$schema``, ``$id``,
    ``$defs``): a set that stands alone in a document's ``components.schemas``."""
    index = _index()
    done: dict[str, JsonSchema] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in done:
            continue
        stem, entry = index[name]
        source = _files()[stem] if entry is None else _files()[stem]["$defs"][entry]
        body = {key: value for key, value in source.items() if entry is not None or key not in _FILE_KEYWORDS}
        found: set[str] = set()
        done[name] = _rewritten(body, stem, found)
        pending.extend(sorted(found - done.keys()))
    return dict(sorted(done.items()))
