"""The REST quota: CoinAPI's cost rule, the daily reset, the headers on every keyed answer and 429 past the budget."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.http.app import create_app
from coinapi_emulator.server.http.rate_limit import MAX_TRACKED_KEYS, RestQuota, request_cost

DAY_NS = 86_400 * 1_000_000_000
START_NS = 1_704_067_200_000_000_000


@given(st.integers(1, 100_000))
def test_every_100_items_asked_for_count_as_one_request(limit: int) -> None:
    assert request_cost(str(limit)) == -(-limit // 100)


def test_no_or_a_bad_limit_costs_one() -> None:
    assert request_cost(None) == request_cost("ten") == 1


def test_the_budget_is_per_key_and_per_utc_day() -> None:
    now = [START_NS + 10]
    quota = RestQuota(5, epoch_ns=lambda: now[0])
    assert [quota.charge("a", 2).remaining for _ in range(2)] == [3, 1]
    refused = quota.charge("a", 2)
    assert refused.exceeded and refused.headers()["X-RateLimit-Remaining"] == "0"
    assert quota.charge("a", 1).remaining == 0, "a refused request is not counted"
    assert quota.charge("b", 1).remaining == 4
    assert refused.headers()["X-RateLimit-Reset"] == "2024-01-02T00:00:00.0000000Z"
    now[0] += DAY_NS
    assert quota.charge("a", 1).remaining == 4


def test_the_keys_tracked_are_bounded() -> None:
    quota = RestQuota(3, epoch_ns=lambda: START_NS)
    for n in range(MAX_TRACKED_KEYS + 10):
        quota.charge(f"k{n}", 1)
    assert len(quota._used) == MAX_TRACKED_KEYS


def test_answers_carry_the_headers_and_past_the_budget_get_429() -> None:
    client = TestClient(create_app(Settings(start_time_ns=START_NS, exchanges=3, rest_rate_limit=3)))
    first = client.get("/v1/exchanges", headers={"X-CoinAPI-Key": "k"})
    assert first.headers["X-RateLimit-Limit"] == "3" and first.headers["X-RateLimit-Remaining"] == "2"
    assert first.headers["X-RateLimit-Request-Cost"] == "1"
    costly = client.get("/v1/exchanges?limit=200", headers={"X-CoinAPI-Key": "k"})
    assert costly.status_code == 200 and costly.headers["X-RateLimit-Remaining"] == "0"
    refused = client.get("/v1/assets", headers={"X-CoinAPI-Key": "k"})
    assert refused.status_code == 429 and refused.json() == {
        "error": "Too many requests: the daily request limit is reached"
    }
    assert client.get("/health").status_code == 200 and "X-RateLimit-Limit" not in client.get("/health").headers


def test_bodies_are_gzipped_for_clients_that_accept_it() -> None:
    client = TestClient(create_app(Settings(start_time_ns=START_NS, exchanges=3)))
    zipped = client.get("/v1/symbols", headers={"X-CoinAPI-Key": "k", "Accept-Encoding": "gzip"})
    plain = client.get("/v1/symbols", headers={"X-CoinAPI-Key": "k", "Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.json() == plain.json()
