from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinapi_emulator.simulator.catalog import Catalog, CatalogConfig, build_catalog
from coinapi_emulator.simulator.events import Bar, TakerSide, Trade
from coinapi_emulator.simulator.history import PERIODS_MESSAGE, MarketHistory, RateBar
from coinapi_emulator.simulator.market import Market
from coinapi_emulator.simulator.ohlcv import PERIOD_SECONDS
from tests.simulator.helpers import SECOND_NS, START_NS

MINUTE = 60 * SECOND_NS
HOUR = 60 * MINUTE
DAY = 24 * HOUR
BTC_USDT = "BINANCE_SPOT_BTC_USDT"
#: the periods history has: 1MIN to 10DAY
PERIODS = tuple(p for p, seconds in PERIOD_SECONDS.items() if seconds >= 60)
SMALL = build_catalog(CatalogConfig(exchanges=3, max_symbols_per_exchange=5, epoch_ns=START_NS), seed=0)
#: every symbol type, inverse contracts and quiet symbols
MEDIUM = build_catalog(CatalogConfig(exchanges=24, max_symbols_per_exchange=6, epoch_ns=START_NS), seed=0)


def _history(
    catalog: Catalog = SMALL, *, seed: int = 7, start_ns: int = START_NS, span_ns: int = 2 * DAY
) -> tuple[MarketHistory, Market]:
    """A history that ends at the start state of the live market with the same seed and start."""
    market = Market(catalog, seed=seed, start_ns=start_ns)
    history = MarketHistory(
        catalog,
        seed=seed,
        start_ns=start_ns,
        span_ns=span_ns,
        anchor_mid_ticks=market.start_mid_ticks,
        anchor_rate_usd=market.start_rate_usd,
        anchor_book=market.start_book,
    )
    return history, market


#: one history shared by the property tests (its caches only make them faster: answers never depend on them)
SHARED, SHARED_MARKET = _history(span_ns=3 * DAY)


def _aggregate(bars: list[Bar], period_id: str, start: int, length: int) -> Bar:
    """The candle a longer period makes of consecutive bars."""
    first, last = bars[0], bars[-1]
    return Bar(
        first.symbol_id,
        period_id,
        start,
        start + length,
        first.time_open_ns,
        last.time_close_ns,
        first.price_open_ticks,
        max(b.price_high_ticks for b in bars),
        min(b.price_low_ticks for b in bars),
        last.price_close_ticks,
        sum(b.volume_traded_lots for b in bars),
        sum(b.trades_count for b in bars),
        True,
        start + length,
        0,
    )


def _log_returns(values: Iterable[float]) -> list[float]:
    return [math.log(b / a) for a, b in pairwise(values)]


# -- continuity with the live market ----------------------------------------------------------------------------


def test_history_closes_where_the_live_market_opens() -> None:
    history, market = _history()
    for symbol in SMALL.symbols:
        (last,) = history.bars(symbol.symbol_id, "1MIN", history.first_ns, START_NS, 10**6)[-1:]
        if last.time_period_end_ns == START_NS or symbol.symbol_id == BTC_USDT:  # quiet ones may skip a minute
            assert last.price_close_ticks == round(market.start_mid_ticks(symbol.symbol_id))
    for asset in SMALL.assets:
        assert history.rate_usd(asset.asset_id, START_NS) == market.start_rate_usd(asset.asset_id)
    assert history.rate_usd("USD", START_NS - DAY) == 1.0
    (rate,) = history.rate_bars("BTC", "ETH", "1MIN", START_NS - MINUTE, START_NS, 10)
    assert rate.rate_close == market.start_rate_usd("BTC") / market.start_rate_usd("ETH")


def test_a_start_inside_a_minute_keeps_only_whole_periods_and_the_path_runs_into_the_anchor() -> None:
    start = START_NS + 30 * MINUTE + 5 * SECOND_NS
    history, market = _history(start_ns=start, span_ns=DAY + 7 * SECOND_NS)
    bars = history.bars(BTC_USDT, "1MIN", start - 2 * DAY, start + HOUR, 10_000)
    assert bars[-1].time_period_end_ns == start - 5 * SECOND_NS
    # the candles start at the first whole minute after the history's first time
    assert history.first_ns == start - DAY - 7 * SECOND_NS
    assert bars[0].time_period_start_ns == start - DAY - 5 * SECOND_NS
    assert history.bars(BTC_USDT, "1HRS", start - 2 * HOUR, start + DAY, 10)[-1].time_period_end_ns == START_NS
    assert history.bars(BTC_USDT, "1DAY", start - 2 * DAY, start + DAY, 10) == []
    anchor = market.start_rate_usd("BTC")
    assert history.rate_usd("BTC", start) == anchor
    assert history.rate_usd("BTC", start - 1) == pytest.approx(anchor, rel=2e-3)
    assert history.rate_usd("BTC", start - 1) == history.rate_usd("BTC", start - 5 * SECOND_NS)


# -- candles ----------------------------------------------------------------------------------------------------


def _check_bar(bar: Bar, history: MarketHistory, period_id: str) -> None:
    length = PERIOD_SECONDS[period_id] * SECOND_NS
    start, end = bar.time_period_start_ns, bar.time_period_end_ns
    assert (bar.period_id, end - start, start % length) == (period_id, length, 0)
    assert history.first_ns <= start and end <= START_NS
    assert start <= bar.time_open_ns <= bar.time_close_ns < end
    assert bar.price_low_ticks <= min(bar.price_open_ticks, bar.price_close_ticks)
    assert bar.price_high_ticks >= max(bar.price_open_ticks, bar.price_close_ticks)
    assert bar.price_low_ticks >= 1
    assert bar.volume_traded_lots >= bar.trades_count >= 1
    assert (bar.is_final, bar.time_ns, bar.sequence) == (True, end, 0)


@settings(max_examples=60, deadline=None)
@given(
    symbol=st.sampled_from([s.symbol_id for s in SMALL.symbols]),
    period_id=st.sampled_from(PERIODS),
    offset_min=st.integers(-600, 3 * 1440 + 600),
    width_min=st.integers(0, 3 * 1440),
    limit=st.integers(0, 300),
)
def test_candles_respect_their_period_window_and_ohlc_invariants(
    symbol: str, period_id: str, offset_min: int, width_min: int, limit: int
) -> None:
    time_start = SHARED.first_ns + offset_min * MINUTE + 17
    time_end = time_start + width_min * MINUTE
    bars = SHARED.bars(symbol, period_id, time_start, time_end, limit)
    assert len(bars) <= limit
    starts = [b.time_period_start_ns for b in bars]
    assert starts == sorted(set(starts))
    assert all(time_start <= s < time_end for s in starts)
    for bar in bars:
        assert bar.symbol_id == symbol
        _check_bar(bar, SHARED, period_id)


@settings(max_examples=30, deadline=None)
@given(symbol=st.sampled_from([s.symbol_id for s in SMALL.symbols]), hours_back=st.integers(1, 3 * 24 - 1))
def test_an_hour_is_its_minutes_and_a_quarter_is_its_minutes(symbol: str, hours_back: int) -> None:
    start = START_NS - hours_back * HOUR
    minutes = SHARED.bars(symbol, "1MIN", start, start + HOUR, 100)
    (hour,) = SHARED.bars(symbol, "1HRS", start, start + HOUR, 100)
    assert hour == _aggregate(minutes, "1HRS", start, HOUR)
    quarter = [b for b in minutes if b.time_period_start_ns < start + 15 * MINUTE]
    assert SHARED.bars(symbol, "15MIN", start, start + 1, 1) == [_aggregate(quarter, "15MIN", start, 15 * MINUTE)]


def test_a_day_is_its_hours_and_ten_days_are_their_days() -> None:
    history, _ = _history(span_ns=30 * DAY)
    day_start = START_NS - 3 * DAY
    hours = history.bars(BTC_USDT, "1HRS", day_start, day_start + DAY, 100)
    assert len(hours) == 24
    assert history.bars(BTC_USDT, "1DAY", day_start, day_start + 1, 1) == [_aggregate(hours, "1DAY", day_start, DAY)]
    ten = history.bars(BTC_USDT, "10DAY", START_NS - 30 * DAY, START_NS, 10)
    for bar in ten:
        days = history.bars(BTC_USDT, "1DAY", bar.time_period_start_ns, bar.time_period_end_ns, 100)
        assert bar == _aggregate(days, "10DAY", bar.time_period_start_ns, 10 * DAY)


def test_quiet_symbols_skip_minutes_without_trades() -> None:
    history, _ = _history(MEDIUM, span_ns=DAY)
    quiet = min(MEDIUM.symbols, key=lambda s: s.trade_rate)
    assert quiet.trade_rate * 60 < 2
    bars = history.bars(quiet.symbol_id, "1MIN", START_NS - DAY, START_NS, 10_000)
    expected_share = 1.0 - math.exp(-quiet.trade_rate * 60)
    assert len(bars) / 1440 == pytest.approx(expected_share, abs=0.05)
    assert statistics.fmean(b.trades_count for b in bars) * expected_share == pytest.approx(
        quiet.trade_rate * 60, rel=0.1
    )
    assert len(SHARED.bars(BTC_USDT, "1MIN", START_NS - DAY, START_NS, 10_000)) == 1440


def test_trade_counts_and_volumes_follow_the_symbols_activity() -> None:
    symbol = SMALL.symbol(BTC_USDT)
    assert symbol is not None
    (day,) = SHARED.bars(BTC_USDT, "1DAY", START_NS - DAY, START_NS, 1)
    assert day.trades_count / 1440 == pytest.approx(symbol.trade_rate * 60, rel=0.02)
    usd_per_trade = day.volume_traded_lots * 10.0**-symbol.size_decimals * SHARED_MARKET.start_rate_usd("BTC")
    assert 300 < usd_per_trade / day.trades_count < 1000  # the mean of live's Pareto sizes over 150 USD is ~490


# -- requests outside the history, and periods it does not have --------------------------------------------------


def test_windows_outside_the_history_are_empty_and_rates_there_are_refused() -> None:
    first = SHARED.first_ns
    assert SHARED.bars(BTC_USDT, "1MIN", first - DAY, first, 100) == []
    assert SHARED.bars(BTC_USDT, "1MIN", START_NS, START_NS + DAY, 100) == []
    assert SHARED.bars(BTC_USDT, "1MIN", START_NS - HOUR, START_NS - 2 * HOUR, 100) == []
    assert SHARED.bars(BTC_USDT, "1MIN", first, START_NS, 0) == []
    assert SHARED.rate_bars("BTC", "USD", "1HRS", START_NS, START_NS + DAY, 100) == []
    # a window that reaches across both ends gets what lies inside
    assert len(SHARED.bars(BTC_USDT, "1HRS", first - DAY, START_NS + DAY, 1000)) == 72
    for t in (first - 1, START_NS + 1):
        with pytest.raises(ValueError, match="from its first time to the market's start"):
            SHARED.rate_usd("BTC", t)
    assert SHARED.rate_usd("BTC", first) > 0


@pytest.mark.parametrize("period_id", ["1SEC", "30SEC", "1MTH", "2YRS", "7MIN", ""])
def test_periods_under_a_minute_or_calendar_periods_are_refused(period_id: str) -> None:
    with pytest.raises(ValueError, match=PERIODS_MESSAGE):
        SHARED.bars(BTC_USDT, period_id, START_NS - DAY, START_NS, 10)
    with pytest.raises(ValueError, match=PERIODS_MESSAGE):
        SHARED.rate_bars("BTC", "USD", period_id, START_NS - DAY, START_NS, 10)
    assert PERIODS_MESSAGE == "history before the start has periods from 1MIN to 10DAY"


def test_unknown_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown symbol_id 'NOPE'"):
        SHARED.bars("NOPE", "1MIN", START_NS - DAY, START_NS, 10)
    with pytest.raises(ValueError, match="unknown asset_id 'NOPE'"):
        SHARED.rate_usd("NOPE", START_NS)
    with pytest.raises(ValueError, match="unknown asset_id 'NOPE'"):
        SHARED.rate_bars("BTC", "NOPE", "1MIN", START_NS - DAY, START_NS, 10)
    with pytest.raises(ValueError, match="negative"):
        _history(span_ns=-1)


# -- determinism and cost ---------------------------------------------------------------------------------------


def test_the_same_history_whatever_the_order_or_the_windows_of_the_requests() -> None:
    days_first, _ = _history(span_ns=4 * DAY)
    minutes_first, _ = _history(span_ns=4 * DAY)
    window = (START_NS - 4 * DAY, START_NS)
    days = days_first.bars(BTC_USDT, "1DAY", *window, 10)
    minutes = days_first.bars(BTC_USDT, "1MIN", START_NS - DAY - 7 * MINUTE, START_NS, 2000)
    rate = days_first.rate_usd("ETH", START_NS - 3 * DAY - 1)
    assert minutes_first.rate_usd("ETH", START_NS - 3 * DAY - 1) == rate
    assert minutes_first.bars(BTC_USDT, "1MIN", START_NS - DAY - 7 * MINUTE, START_NS, 2000) == minutes
    assert minutes_first.bars(BTC_USDT, "1DAY", *window, 10) == days
    middle = START_NS - DAY + 11 * MINUTE + 3
    halves = minutes_first.bars(BTC_USDT, "1MIN", START_NS - DAY - 7 * MINUTE, middle, 2000)
    halves += minutes_first.bars(BTC_USDT, "1MIN", middle, START_NS, 2000)
    assert halves == minutes
    rates = days_first.rate_bars("ETH", "BTC", "5MIN", *window, 5000)
    assert minutes_first.rate_bars("ETH", "BTC", "5MIN", START_NS - DAY, START_NS, 5000) == rates[-288:]


def test_seeds_and_catalogues() -> None:
    small, _ = _history(seed=7)
    other_seed, _ = _history(seed=8)
    big, _ = _history(build_catalog(CatalogConfig(epoch_ns=START_NS), seed=0), seed=7)
    window = (BTC_USDT, "1HRS", START_NS - DAY, START_NS, 100)
    assert small.bars(*window) != other_seed.bars(*window)
    # a symbol's history does not depend on the rest of the catalogue (its live anchor does not either)
    assert big.bars(*window) == small.bars(*window)
    assert big.work == small.work


def test_a_request_builds_only_its_own_assets_and_hours() -> None:
    big, _ = _history(build_catalog(CatalogConfig(epoch_ns=START_NS), seed=0), span_ns=30 * DAY)
    big.bars(BTC_USDT, "1MIN", START_NS - 29 * DAY, START_NS, 600)  # 10 hours, 29 days back
    work = big.work
    assert work.assets == {"BTC", "USDT"}
    assert work.candle_hours == 10
    assert work.asset_hours == 20
    big.rate_usd("ETH", START_NS - 29 * DAY)
    assert big.work.assets == {"BTC", "USDT", "ETH"}
    assert big.work.asset_hours == 21
    big.bars(BTC_USDT, "1MIN", START_NS - 29 * DAY, START_NS, 600)  # cached
    assert big.work.candle_hours == 10


def test_rate_candles_follow_the_rate_path() -> None:
    bars = SHARED.rate_bars("BTC", "USD", "1MIN", START_NS - HOUR, START_NS, 100)
    assert len(bars) == 60
    for bar in bars:
        assert isinstance(bar, RateBar)
        assert bar.time_open_ns == bar.time_period_start_ns and bar.time_close_ns == bar.time_period_end_ns
        assert bar.rate_open == pytest.approx(SHARED.rate_usd("BTC", bar.time_period_start_ns), rel=1e-12)
        assert bar.rate_close == pytest.approx(SHARED.rate_usd("BTC", bar.time_period_end_ns), rel=1e-12)
        assert bar.rate_low <= min(bar.rate_open, bar.rate_close) <= max(bar.rate_open, bar.rate_close)
        assert max(bar.rate_open, bar.rate_close) <= bar.rate_high
    (hour,) = SHARED.rate_bars("BTC", "USD", "1HRS", START_NS - HOUR, START_NS, 100)
    assert (hour.rate_open, hour.rate_close) == (bars[0].rate_open, bars[-1].rate_close)
    assert (hour.rate_high, hour.rate_low) == (max(b.rate_high for b in bars), min(b.rate_low for b in bars))
    assert SHARED.rate_usd("BTC", START_NS - HOUR + 59 * SECOND_NS) == SHARED.rate_usd("BTC", START_NS - HOUR)


def test_derivatives_and_inverse_contracts_follow_their_pair() -> None:
    history, market = _history(MEDIUM, span_ns=HOUR)
    assert {s.symbol_type.value for s in MEDIUM.symbols} == {"SPOT", "PERPETUAL", "FUTURES", "OPTION"}
    assert any(s.contract_unit_asset == s.asset_id_quote for s in MEDIUM.symbols)
    for symbol in MEDIUM.symbols:
        bars = history.bars(symbol.symbol_id, "1MIN", START_NS - HOUR, START_NS, 100)
        for bar in bars:
            _check_bar(bar, history, "1MIN")
        if bars[-1].time_period_end_ns == START_NS:
            assert bars[-1].price_close_ticks == max(1, round(market.start_mid_ticks(symbol.symbol_id)))


# -- the statistics of the paths --------------------------------------------------------------------------------


def test_btc_and_eth_move_together_minute_by_minute() -> None:
    btc = [b.rate_close for b in SHARED.rate_bars("BTC", "USD", "1MIN", START_NS - DAY, START_NS, 2000)]
    eth = [b.rate_close for b in SHARED.rate_bars("ETH", "USD", "1MIN", START_NS - DAY, START_NS, 2000)]
    usdt = [b.rate_close for b in SHARED.rate_bars("USDT", "USD", "1MIN", START_NS - DAY, START_NS, 2000)]
    assert statistics.correlation(_log_returns(btc), _log_returns(eth)) > 0.5  # 0.85 * 0.8 = 0.68 expected
    # within the hours too, not only at the hourly knots
    inside = [i for i in range(len(btc) - 1) if (i + 1) % 60]
    btc_inside, eth_inside = ([_log_returns(x)[i] for i in inside] for x in (btc, eth))
    assert statistics.correlation(btc_inside, eth_inside) > 0.5
    assert abs(statistics.correlation(_log_returns(btc), _log_returns(usdt))) < 0.15


@pytest.mark.parametrize(("asset_id", "volatility"), [("BTC", 0.55), ("ETH", 0.60), ("USDT", 0.004), ("EUR", 0.07)])
def test_realized_volatility_matches_the_asset(asset_id: str, volatility: float) -> None:
    history, _ = _history(span_ns=7 * DAY, seed=11)
    closes = [b.rate_close for b in history.rate_bars(asset_id, "USD", "1MIN", START_NS - 7 * DAY, START_NS, 20_000)]
    returns = _log_returns(closes)
    assert len(returns) == 7 * 1440 - 1
    realized = math.sqrt(sum(r * r for r in returns) / len(returns) * 365 * 1440)
    assert realized == pytest.approx(volatility, rel=0.1)
    # Gaussian minutes, without jumps at the hourly knots: the largest of ~10,000 is ~4 standard deviations
    assert max(abs(r) for r in returns) < 5.5 * volatility * math.sqrt(1 / (365 * 1440))


def test_realized_volatility_of_a_symbols_candles() -> None:
    history, _ = _history(span_ns=7 * DAY, seed=12)
    bars = history.bars(BTC_USDT, "1MIN", START_NS - 7 * DAY, START_NS, 20_000)
    returns = _log_returns(b.price_close_ticks for b in bars)
    realized = math.sqrt(sum(r * r for r in returns) / len(returns) * 365 * 1440)
    assert realized == pytest.approx(math.hypot(0.55, 0.004), rel=0.1)
    # the highs and lows span what a Brownian minute does: E[range] = sqrt(8 v / pi) for a free path
    ranges = [math.log(b.price_high_ticks / b.price_low_ticks) for b in bars]
    minute_sd = 0.55 * math.sqrt(60 / (365 * 86400))
    assert statistics.fmean(ranges) == pytest.approx(math.sqrt(8 / math.pi) * minute_sd, rel=0.1)


# -- trades and quotes inside the candles (history_ticks.py) ----------------------------------------------------


def _fold(trades: list[Trade], symbol_id: str, period_id: str, start: int, length: int) -> Bar:
    """The candle of a period made of its trades."""
    prices = [t.price_ticks for t in trades]
    first, last = trades[0], trades[-1]
    volume = sum(t.size_lots for t in trades)
    end = start + length
    return Bar(
        symbol_id, period_id, start, end, first.time_exchange_ns, last.time_exchange_ns, prices[0], max(prices),
        min(prices), prices[-1], volume, len(trades), True, end, 0,
    )  # fmt: skip


@pytest.mark.parametrize("catalog", [SMALL, MEDIUM], ids=["small", "medium"])
def test_every_candle_is_the_fold_of_the_trades_inside_it(catalog: Catalog) -> None:
    history, _ = _history(catalog, span_ns=DAY)
    start = START_NS - 5 * HOUR
    for symbol in catalog.symbols[::7]:
        trades = history.trades(symbol.symbol_id, start, start + HOUR, 100_000)
        minutes = history.bars(symbol.symbol_id, "1MIN", start, start + HOUR, 100)
        assert len(trades) == sum(bar.trades_count for bar in minutes)
        for bar in minutes:
            inside = [t for t in trades if bar.time_period_start_ns <= t.time_exchange_ns < bar.time_period_end_ns]
            assert bar == _fold(inside, symbol.symbol_id, "1MIN", bar.time_period_start_ns, MINUTE)
        assert history.bars(symbol.symbol_id, "1HRS", start, start + 1, 1) == (
            [_fold(trades, symbol.symbol_id, "1HRS", start, HOUR)] if trades else []
        )


def test_the_trades_end_where_the_live_market_opens() -> None:
    (last,) = SHARED.trades(BTC_USDT, START_NS - MINUTE, START_NS, 100_000)[-1:]
    assert last.price_ticks == round(SHARED_MARKET.start_mid_ticks(BTC_USDT))
    assert SHARED.trades(BTC_USDT, START_NS, START_NS + HOUR, 10) == []
    assert SHARED.quotes(BTC_USDT, START_NS, START_NS + HOUR, 10) == []
    assert SHARED.trades(BTC_USDT, SHARED.first_ns - HOUR, SHARED.first_ns, 10) == []


def test_few_trades_make_the_candles_they_can() -> None:
    history, _ = _history(MEDIUM, span_ns=DAY)
    quiet = sorted(MEDIUM.symbols, key=lambda s: s.trade_rate)[:20]
    seen = set()
    for symbol in quiet:
        for bar in history.bars(symbol.symbol_id, "1MIN", START_NS - DAY, START_NS, 10_000):
            o, h, lo, c = bar.price_open_ticks, bar.price_high_ticks, bar.price_low_ticks, bar.price_close_ticks
            if bar.trades_count == 1:
                assert o == h == lo == c and bar.time_open_ns == bar.time_close_ns
            elif bar.trades_count == 2:
                assert (h, lo) == (max(o, c), min(o, c))
            elif bar.trades_count == 3:
                assert h == max(o, c) or lo == min(o, c)
            seen.add(min(bar.trades_count, 4))
    assert seen == {1, 2, 3, 4}


@settings(max_examples=40, deadline=None)
@given(
    offset_s=st.integers(0, 3 * 86_400 - 1),
    width_s=st.integers(1, 900),
    cut_s=st.integers(0, 900),
    limit=st.integers(1, 3000),
)
def test_windows_of_trades_and_quotes_are_slices_of_one_tape(
    offset_s: int, width_s: int, cut_s: int, limit: int
) -> None:
    start = SHARED.first_ns + offset_s * SECOND_NS + 123_456
    end = start + width_s * SECOND_NS
    middle = start + min(cut_s, width_s) * SECOND_NS
    for read in (SHARED.trades, SHARED.quotes):
        whole = read(BTC_USDT, start, end, 100_000)
        assert [t.time_exchange_ns for t in whole] == sorted(t.time_exchange_ns for t in whole)
        assert all(start <= t.time_exchange_ns < end for t in whole)
        assert read(BTC_USDT, start, middle, 100_000) + read(BTC_USDT, middle, end, 100_000) == whole
        assert read(BTC_USDT, start, end, limit) == whole[:limit]


def test_the_same_ticks_whatever_the_order_of_the_requests() -> None:
    forward, _ = _history(span_ns=6 * HOUR)
    backward, _ = _history(span_ns=6 * HOUR)
    # five minutes every hour, and two that touch
    windows = [(START_NS - k * HOUR - 5 * MINUTE, START_NS - k * HOUR) for k in range(5)]
    windows.append((windows[-1][0] - 4 * MINUTE, windows[-1][0]))
    trades = [forward.trades(BTC_USDT, *window, 100_000) for window in windows]
    quotes = [forward.quotes(BTC_USDT, *window, 100_000) for window in windows]
    assert [backward.quotes(BTC_USDT, *window, 100_000) for window in reversed(windows)] == quotes[::-1]
    assert [backward.trades(BTC_USDT, *window, 100_000) for window in reversed(windows)] == trades[::-1]
    uuids = [t.uuid for window in trades for t in window]
    assert len(set(uuids)) == len(uuids) > 15_000
    other_seed, _ = _history(seed=8, span_ns=DAY)
    assert other_seed.trades(BTC_USDT, *windows[0], 10) != trades[0][:10]


def test_quotes_hold_each_trade_and_update_between_them() -> None:
    symbol = SMALL.symbol(BTC_USDT)
    assert symbol is not None
    asks, bids = SHARED_MARKET.start_book(BTC_USDT).top(1)
    spread = asks[0].price_ticks - bids[0].price_ticks
    start = START_NS - 2 * HOUR
    trades = SHARED.trades(BTC_USDT, start, start + HOUR, 100_000)
    quotes = SHARED.quotes(BTC_USDT, start, start + HOUR, 100_000)
    at_trade = {
        (q.time_exchange_ns, q.ask_price_ticks if q.bid_price_ticks + spread == q.ask_price_ticks else 0)
        for q in quotes
    }
    for trade in trades[:: len(trades) // 500]:
        touch = trade.price_ticks if trade.taker_side is TakerSide.BUY else trade.price_ticks + spread
        assert (trade.time_exchange_ns, touch) in at_trade
    updates_per_minute = 0.5 * symbol.book_rate * 60
    assert (len(quotes) - len(trades)) / 60 == pytest.approx(updates_per_minute, rel=0.05)


def test_a_quiet_minute_without_trades_still_has_quotes_around_the_path() -> None:
    history, _ = _history(MEDIUM, span_ns=DAY)
    quiet = min(MEDIUM.symbols, key=lambda s: s.trade_rate)
    start = START_NS - 3 * HOUR
    traded = {b.time_period_start_ns for b in history.bars(quiet.symbol_id, "1MIN", start, start + HOUR, 100)}
    quotes = history.quotes(quiet.symbol_id, start, start + HOUR, 100_000)
    silent = [q for q in quotes if q.time_exchange_ns - q.time_exchange_ns % MINUTE not in traded]
    assert silent and len(traded) < 60
    rate = history.rate_bars(quiet.asset_id_base, quiet.asset_id_quote, "1MIN", start, start + HOUR, 100)
    for quote in silent:
        minute = quote.time_exchange_ns - quote.time_exchange_ns % MINUTE
        mid_ticks = rate[(minute - start) // MINUTE].rate_open * 10**quiet.price_decimals
        assert quote.bid_price_ticks < quote.ask_price_ticks
        assert quote.bid_price_ticks / mid_ticks == pytest.approx(1.0, rel=0.02)


def _newest_by_brute_force(history: MarketHistory, symbol_ids: list[str], limit: int, back_ns: int) -> list[Trade]:
    """Every trade of the symbols' last ``back_ns`` before the start, sorted newest first (a symbol's own ties
    newest first, then the symbols' order), cut to ``limit``."""
    trades = [
        (-t.time_exchange_ns, order, -at, t)
        for order, symbol_id in enumerate(symbol_ids)
        for at, t in enumerate(history.trades(symbol_id, START_NS - back_ns, START_NS, 10**6))
    ]
    return [t for *_, t in sorted(trades, key=lambda row: row[:3])][:limit]


@pytest.mark.parametrize("limit", [1, 250, 4000])
def test_the_newest_trades_of_several_symbols_are_a_merge_of_their_tapes(limit: int) -> None:
    symbol_ids = [s.symbol_id for s in SMALL.symbols]
    newest = SHARED.newest_trades(symbol_ids, limit)
    # the catalogue trades ~2,400 times a minute, BTC/USDT ~600: the last 10 minutes hold every candidate
    assert newest == _newest_by_brute_force(SHARED, symbol_ids, limit, 10 * MINUTE)
    assert SHARED.newest_trades([BTC_USDT], limit) == _newest_by_brute_force(SHARED, [BTC_USDT], limit, 10 * MINUTE)
    assert (
        SHARED.newest_quotes([BTC_USDT], 10) == SHARED.quotes(BTC_USDT, START_NS - MINUTE, START_NS, 10**6)[::-1][:10]
    )
    in_groups: list[Trade] = []
    for at in range(0, len(symbol_ids), 4):  # what a caller that hands control back between groups does
        in_groups = SHARED.newest_trades(symbol_ids[at : at + 4], limit, in_groups)
    assert in_groups == newest


def test_a_quiet_symbol_has_the_newest_its_history_holds() -> None:
    history, _ = _history(MEDIUM, span_ns=3 * HOUR + 17 * SECOND_NS)
    quiet = min(MEDIUM.symbols, key=lambda s: s.trade_rate)
    every = history.trades(quiet.symbol_id, START_NS - DAY, START_NS, 10**6)
    assert 0 < len(every) < 1000
    assert history.newest_trades([quiet.symbol_id], 1000) == every[::-1]
    with pytest.raises(ValueError, match="unknown symbol_id 'NOPE'"):
        history.newest_trades(["NOPE"], 10)
