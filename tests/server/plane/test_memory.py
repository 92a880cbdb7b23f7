"""Giving memory back: glibc's malloc_trim found where it exists, the collection alone elsewhere."""

from __future__ import annotations

import ctypes.util
import gc
import platform
import weakref

import pytest

from coinapi_emulator.server.plane import memory


def test_malloc_trim_is_found_in_glibc_and_skipped_without_a_c_library(monkeypatch: pytest.MonkeyPatch) -> None:
    if platform.libc_ver()[0] == "glibc":
        assert callable(memory._find_malloc_trim())
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert memory._find_malloc_trim() is None


def test_releasing_memory_collects_cycles_then_trims_the_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda pad: trims.append(pad) or 1)

    class Node:
        other: object = None

    gc.disable()
    try:
        first, second = Node(), Node()
        first.other, second.other = second, first
        marker = weakref.ref(first)
        del first, second
        memory.release_memory()
        assert marker() is None
    finally:
        gc.enable()
    assert trims == [0]
