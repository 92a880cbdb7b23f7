"""The open-files limit a server sets itself, without touching this process's: the rule, the platform's refusal,
and what it logs."""

from __future__ import annotations

import logging
import resource

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.cli.open_files import (
    SPARE_DESCRIPTORS,
    OpenFilesLimit,
    log_open_files_limit,
    raise_open_files_limit,
    wanted_soft_limit,
)

_limits = st.integers(16, 1 << 21)


@given(soft=_limits, hard=st.one_of(st.just(-1), _limits), max_connections=st.integers(1, 1 << 20))
def test_the_soft_limit_is_raised_within_the_hard_one_and_never_lowered(
    soft: int, hard: int, max_connections: int
) -> None:
    hard = hard if hard < 0 else max(hard, soft)  # the kernel keeps soft <= hard
    wanted = wanted_soft_limit(soft, hard, max_connections)
    assert wanted >= soft
    assert hard < 0 or wanted <= hard
    enough = max_connections + SPARE_DESCRIPTORS
    assert wanted == max(soft, enough if hard < 0 else min(enough, hard))


class _FakeResource:
    """``resource.getrlimit``/``setrlimit`` of a pretend process; ``refuse``: setrlimit fails as macOS's may."""

    def __init__(self, soft: int, hard: int, *, refuse: bool = False) -> None:
        self.limits, self.refuse, self.calls = (soft, hard), refuse, 0

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE
        self.calls += 1
        if self.refuse:
            raise ValueError("current limit exceeds maximum limit")
        self.limits = limits


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> _FakeResource:
    fake = _FakeResource(1024, 1 << 20)
    monkeypatch.setattr(resource, "getrlimit", fake.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", fake.setrlimit)
    return fake


def test_a_low_soft_limit_is_raised_for_max_connections(fake: _FakeResource) -> None:
    limit = raise_open_files_limit(10_000)
    assert limit == OpenFilesLimit(before=1024, after=10_064, hard=1 << 20)
    assert fake.limits == (10_064, 1 << 20) and limit.connections == 10_000


def test_a_high_enough_soft_limit_is_left_alone(fake: _FakeResource) -> None:
    fake.limits = (65_536, 1 << 20)
    assert raise_open_files_limit(10_000) == OpenFilesLimit(before=65_536, after=65_536, hard=1 << 20)
    assert fake.calls == 0


def test_an_unlimited_hard_limit_and_a_refused_raise(fake: _FakeResource) -> None:
    fake.limits, fake.refuse = (256, resource.RLIM_INFINITY), True
    assert raise_open_files_limit(10_000) == OpenFilesLimit(before=256, after=256, hard=-1)
    assert fake.calls == 1 and fake.limits == (256, resource.RLIM_INFINITY)


def test_only_windows_has_no_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "win32")
    assert raise_open_files_limit(10_000) is None


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, []),
        (OpenFilesLimit(65_536, 65_536, 1 << 20), []),
        (
            OpenFilesLimit(1024, 10_064, 1 << 20),
            ["open files limit raised from 1024 to 10064 for --max-connections 10000"],
        ),
        (
            OpenFilesLimit(256, 4096, 4096),
            [
                "open files limit raised from 256 to 4096 for --max-connections 10000",
                "the open files limit (4096, hard limit 4096) leaves room for about 4032 connections, fewer than"
                " --max-connections 10000: the system refuses the others; raise the hard limit (ulimit -Hn, compose's"
                " `ulimits: nofile`)",
            ],
        ),
        (OpenFilesLimit(32, 32, -1), ["the open files limit (32, hard limit unlimited) leaves room for about 0"]),
    ],
    ids=["windows", "enough", "raised", "raised-not-enough", "refused"],
)
def test_what_is_logged(limit: OpenFilesLimit | None, expected: list[str], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="coinapi_emulator.server.cli.open_files"):
        log_open_files_limit(limit, 10_000)
    assert len(caplog.messages) == len(expected)
    for message, start in zip(caplog.messages, expected, strict=True):
        assert message.startswith(start), message
