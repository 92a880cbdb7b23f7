"""importer.py and formats/: other sources' files made into recordings, message for message."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.cli import main as cli
from coinapi_emulator.server.cli.importing import symbol_names
from coinapi_emulator.server.replay.formats.rows import (
    ImportFailed,
    SymbolNames,
    derived_symbol_id,
    number,
)
from coinapi_emulator.server.replay.importer import import_files
from coinapi_emulator.server.replay.recording import RecordingReader
from tests.server.replay.factories import TARDIS_BOOK, TARDIS_QUOTES, TARDIS_SNAPSHOT_5, TARDIS_TRADES

FLAT_TRADES_HEADER = "time_exchange;time_coinapi;guid;price;base_amount;taker_side\n"


def gz(path: Path, text: str) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write(text)
    return path


def imported(tmp_path: Path, *paths: Path, names: SymbolNames | None = None) -> list[dict[str, Any]]:
    out = tmp_path / "out.jsonl.gz"
    import_files(paths, out, names or SymbolNames({}))
    with RecordingReader(out) as reader:
        return [{"received_ns": message.received_ns, **json.loads(message.text)} for message in reader]


def test_tardis_trades_quotes_and_snapshots_become_coinapi_messages(tmp_path: Path) -> None:
    messages = imported(
        tmp_path,
        gz(tmp_path / "binance_trades_2024-01-01_BTCUSDT.csv.gz", TARDIS_TRADES),
        gz(tmp_path / "coinbase_quotes_2024-01-01_BTC-USD.csv.gz", TARDIS_QUOTES),
        gz(tmp_path / "kraken_book_snapshot_5_2024-01-01_XBT-USD.csv.gz", TARDIS_SNAPSHOT_5),
    )
    assert [(m["type"], m["symbol_id"], m["sequence"]) for m in messages] == [
        ("trade", "BINANCE_SPOT_BTC_USDT", 1),
        ("quote", "COINBASE_SPOT_BTC_USD", 1),
        ("trade", "BINANCE_SPOT_BTC_USDT", 2),
        ("book5", "KRAKEN_SPOT_BTC_USD", 1),
    ]
    first = messages[0]
    assert first["received_ns"] == 1704067200105000000
    assert (first["time_exchange"], first["time_coinapi"]) == (
        "2024-01-01T00:00:00.1000000Z",
        "2024-01-01T00:00:00.1050000Z",
    )
    assert (first["price"], first["size"], first["taker_side"]) == (42000.1, 0.5, "BUY")
    second = messages[2]
    assert second["time_exchange"] == second["time_coinapi"] and second["taker_side"] == "UNKNOWN"
    assert second["uuid"] != first["uuid"]
    assert messages[1]["ask_size"] == 0.4 and messages[1]["bid_price"] == 42001.49
    assert messages[3]["asks"] == [{"price": 42010, "size": 1}, {"price": 42011, "size": 3}]
    assert messages[3]["bids"] == [{"price": 42009, "size": 2}, {"price": 42008, "size": 4}]


def test_numbers_keep_their_tokens_and_fields_their_order(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl.gz"
    import_files([gz(tmp_path / "t.csv.gz", TARDIS_TRADES)], out, SymbolNames({}))
    with RecordingReader(out) as reader:
        first = next(iter(reader)).text
    assert first == (
        '{"type":"trade","symbol_id":"BINANCE_SPOT_BTC_USDT","sequence":1,'
        '"time_exchange":"2024-01-01T00:00:00.1000000Z","time_coinapi":"2024-01-01T00:00:00.1050000Z",'
        '"uuid":"728296b4-3f3c-506a-bea6-b3f5e4cd0bd9","price":42000.10,"size":0.5,"taker_side":"BUY"}'
    )


def test_an_incremental_book_becomes_snapshots_and_deltas(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl.gz"
    summary = import_files([gz(tmp_path / "b.csv.gz", TARDIS_BOOK)], out, SymbolNames({}))
    with RecordingReader(out) as reader:
        books = [json.loads(message.text) for message in reader]
    assert [(b["sequence"], b["is_snapshot"]) for b in books] == [(1, True), (2, False), (3, False), (4, True)]
    assert books[0]["asks"] == [{"price": 42000.2, "size": 1.5}, {"price": 42000.3, "size": 2}]
    assert books[0]["bids"] == [{"price": 41999.8, "size": 3}]  # a snapshot lists resting levels only
    assert books[1]["asks"] == [{"price": 42000.2, "size": 0}]
    assert books[1]["bids"] == [{"price": 41999.95, "size": 0.1}, {"price": 41999.9, "size": 0.7}]
    assert books[2]["bids"] == [{"price": 41999.9, "size": 0}] and books[2]["asks"] == []
    assert summary.skipped == {"book rows before the first snapshot": 1}
    assert "skipped 1 book rows before the first snapshot" in summary.line()


def test_quotes_without_a_side_are_skipped_and_counted(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl.gz"
    summary = import_files([gz(tmp_path / "q.csv.gz", TARDIS_QUOTES)], out, SymbolNames({}))
    assert summary.messages == {"quote": 1} and summary.skipped == {"quotes with an empty side": 1}


def test_binance_spot_trades_in_ms_and_us_and_futures_with_a_header(tmp_path: Path) -> None:
    spot = tmp_path / "ETHUSDT-trades-2024-12-31.csv"
    spot.write_text("7,3400.5,0.1,340.05,1735603200123,True,True\n")
    micro = tmp_path / "ETHUSDT-aggTrades-2025-01-01.zip"
    with zipfile.ZipFile(micro, "w") as archive:
        archive.writestr("ETHUSDT-aggTrades-2025-01-01.csv", "9,3401,0.2,10,11,1735689600000001,False,True\n")
    futures = tmp_path / "BTCUSDT-trades-2024-01-01.csv"
    futures.write_text("id,price,qty,quote_qty,time,is_buyer_maker\n5,42000,0.01,420,1704067200000,false\n")
    messages = imported(tmp_path, spot, micro, futures)
    assert [(m["symbol_id"], m["time_exchange"], m["taker_side"]) for m in messages] == [
        ("BINANCEFTS_PERP_BTC_USDT", "2024-01-01T00:00:00.0000000Z", "BUY"),
        ("BINANCE_SPOT_ETH_USDT", "2024-12-31T00:00:00.1230000Z", "SELL"),
        ("BINANCE_SPOT_ETH_USDT", "2025-01-01T00:00:00.0000010Z", "BUY"),
    ]
    assert [m["sequence"] for m in messages] == [1, 1, 2]


def test_coinapi_flat_files_by_column_name_and_symbol_from_the_file_name(tmp_path: Path) -> None:
    trades = gz(
        tmp_path / "IDDI-1+SC-BITSTAMP_SPOT_BTC_USD+S-BTCUSD.csv.gz",
        "time_exchange;time_coinapi;guid;price;base_amount;taker_side\n"
        "2018-09-01T00:00:03.9320000;2018-09-01T00:00:05.3029459;5caec0c2-0000-4000-8000-000000000001;7017;2000;SELL\n",
    )
    quotes = gz(
        tmp_path / "quotes.csv.gz",
        "id_site_coinapi;time_exchange;time_coinapi;ask_px;ask_sx;bid_px;bid_sx\n"
        "x;2018-09-01T00:00:04.0000000;2018-09-01T00:00:04.5000000;7018;1;7016;2\n",
    )
    messages = imported(tmp_path, trades, quotes, names=SymbolNames({}, "BITSTAMP_SPOT_BTC_USD"))
    assert [(m["type"], m["symbol_id"]) for m in messages] == [
        ("quote", "BITSTAMP_SPOT_BTC_USD"),
        ("trade", "BITSTAMP_SPOT_BTC_USD"),
    ]
    assert messages[1]["uuid"] == "5caec0c2-0000-4000-8000-000000000001"
    assert messages[1]["time_coinapi"] == "2018-09-01T00:00:05.3029459Z" and messages[1]["taker_side"] == "SELL"
    assert (messages[0]["ask_price"], messages[0]["bid_size"]) == (7018, 2)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x.csv", "a,b,c\n1,2,3\n", "not a file this command reads"),
        ("t.csv", TARDIS_TRADES.replace("42000.10", "4.2e"), "line 2: '4.2e' is not a decimal number"),
        ("t.csv", TARDIS_TRADES.replace(",buy,", ",long,"), "line 2: side 'long' is not buy, sell or unknown"),
        ("t.csv", TARDIS_TRADES.replace("1704067200105000", "soon"), "line 2: 'soon' is not a time in µs"),
        ("t.csv", TARDIS_TRADES.replace("binance,BTCUSDT", "nowhere,BTCUSDT", 1), "no CoinAPI id for the symbol"),
        ("t.csv", TARDIS_TRADES.replace("BTCUSDT", "BTC_240329", 1), "--symbol-id BTC_240329=EXCHANGE_SPOT"),
        ("b.csv", TARDIS_BOOK.replace(",true,ask,42000.3", ",yes,ask,42000.3"), "is_snapshot 'yes' is not true"),
        ("b.csv", TARDIS_BOOK.replace("true,bid,41999.8", "true,middle,41999.8"), "side 'middle' is not bid or ask"),
        ("BTCUSDT-trades-2024-01-01.csv", "1,2,3,4,5,Maybe,True\n", "is_buyer_maker 'Maybe' is not True"),
        ("BTCUSDT-trades-2024-01-01.csv", "1,2,3,4,yesterday,True,True\n", "time 'yesterday' is not a number"),
        ("BTCUSDT-trades-2024-01-01.csv", "1,2,3\n", "3 columns, not a Binance trades row"),
        ("SC-X+S-Y.csv", FLAT_TRADES_HEADER + "x;y;g;1;1;BUY\n", "'x' is not"),
        ("SC-X+S-Y.csv", FLAT_TRADES_HEADER + "x;y\n", "2 columns, the header"),
        (
            "SC-X+S-Y.csv",
            FLAT_TRADES_HEADER + "2024-01-01;2024-01-01;g;1;1;TAKER\n",
            "taker_side 'TAKER' is not one of",
        ),
        ("t.csv", TARDIS_TRADES + "binance,BTCUSDT,1\n", "line 4: 3 columns, not the header's"),
        ("t.csv", TARDIS_TRADES + TARDIS_TRADES.splitlines()[1].replace("42000.10", "x") + "\n", "line 4: 'x' is not"),
        ("s.csv", TARDIS_SNAPSHOT_5.replace(",42008,4", ",42008"), "line 2: 23 columns, the header has 24"),
    ],
    ids=[
        "unknown-format", "bad-number", "bad-side", "bad-time", "unknown-exchange", "undated-symbol", "bad-flag",
        "bad-book-side", "bad-maker", "bad-binance-time", "short-row", "bad-iso-time", "short-flat-row",
        "bad-taker-side", "short-tardis-row", "bad-row-after-good-ones", "short-snapshot-row",
    ],
)  # fmt: skip
def test_a_bad_file_fails_with_its_name_and_line_and_leaves_no_output(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "out.jsonl.gz"
    with pytest.raises(ImportFailed, match=message.replace("(", r"\(").replace("?", r"\?")):
        import_files([path], out, SymbolNames({}, "X_SPOT_A_B") if name.startswith("SC-") else SymbolNames({}))
    assert not out.exists()


def test_unreadable_and_empty_inputs(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl.gz"
    bad_gzip = tmp_path / "x.csv.gz"
    bad_gzip.write_bytes(b"not gzip at all")
    with pytest.raises(ImportFailed, match=r"cannot read .*x\.csv\.gz"):
        import_files([bad_gzip], out, SymbolNames({}))
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "")
        archive.writestr("b.csv", "")
    with pytest.raises(ImportFailed, match=r"must hold exactly one \.csv, this one holds 2"):
        import_files([two], out, SymbolNames({}))
    with pytest.raises(ImportFailed, match="nothing to import"):
        import_files([gz(tmp_path / "empty.csv.gz", "")], out, SymbolNames({}))
    no_snapshot = gz(tmp_path / "b.csv.gz", TARDIS_BOOK.splitlines()[0] + "\n" + TARDIS_BOOK.splitlines()[1] + "\n")
    with pytest.raises(ImportFailed, match="nothing to import"):
        import_files([no_snapshot], out, SymbolNames({}))
    broken_zip = tmp_path / "x.zip"
    broken_zip.write_bytes(b"PK not really")
    with pytest.raises(ImportFailed, match=r"cannot read .*x\.zip"):
        import_files([broken_zip], out, SymbolNames({}))
    assert not out.exists()


def test_symbol_ids_given_beat_derived_ones() -> None:
    names = SymbolNames({"BTCUSDT": "BINANCE_SPOT_BTC_USDT_X"})
    assert names.symbol_id("BINANCE", "SPOT", "BTCUSDT", "f") == "BINANCE_SPOT_BTC_USDT_X"
    assert names.symbol_id("BINANCE", "SPOT", "ETHBTC", "f") == "BINANCE_SPOT_ETH_BTC"
    assert SymbolNames({}, "ONLY").symbol_id(None, "SPOT", "anything", "f") == "ONLY"


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("BTCUSDT", "K_SPOT_BTC_USDT"), ("BTC-USD", "K_SPOT_BTC_USD"), ("XBT/EUR", "K_SPOT_BTC_EUR"),
        ("ethfdusd", "K_SPOT_ETH_FDUSD"), ("XDGUSD", "K_SPOT_DOGE_USD"), ("USDT", None), ("BTC-", None),
        ("BTC-PERPETUAL-X", None), ("FOOBAR", None),
    ],
)  # fmt: skip
def test_derived_symbol_ids(symbol: str, expected: str | None) -> None:
    assert derived_symbol_id("K", "SPOT", symbol) == expected


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8))
def test_decimal_tokens_are_numbers(value: Any) -> None:
    token = format(value, "f")
    assert orjson.dumps(number(token, "x")) == token.encode()


@given(st.text(max_size=8))
def test_what_number_accepts_is_json(text: str) -> None:
    try:
        number(text, "x")
    except ImportFailed:
        return
    assert isinstance(json.loads(text), int | float)


def test_cli_import_writes_the_recording_and_exits_2_on_a_bad_file(tmp_path: Path) -> None:
    good = gz(tmp_path / "t.csv.gz", TARDIS_TRADES)
    out = tmp_path / "out.jsonl.gz"
    result = CliRunner().invoke(cli.main, ["import", str(good), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 2 messages (2 trade) of 1 symbols over 0.1 s" in result.output
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n")
    result = CliRunner().invoke(cli.main, ["import", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "not a file this command reads" in result.output


def test_cli_symbol_id_values() -> None:
    names = symbol_names(["BTCUSDT=BINANCE_SPOT_BTC_USDT", "ONE"])
    assert names.symbol_id(None, "SPOT", "BTCUSDT", "f") == "BINANCE_SPOT_BTC_USDT"
    assert names.symbol_id(None, "SPOT", "OTHER", "f") == "ONE"
    result = CliRunner().invoke(cli.main, ["import", __file__, "--out", "x", "--symbol-id", "A", "--symbol-id", "B"])
    assert result.exit_code == 2 and "only one bare id" in result.output
    result = CliRunner().invoke(cli.main, ["import", __file__, "--out", "x", "--symbol-id", "=B"])
    assert result.exit_code == 2 and "is not EXCHANGE_SYMBOL=COINAPI_ID" in result.output


WS_LINES = (
    '{"type":"trade","symbol_id":"COINBASE_SPOT_ETH_USD","sequence":7,"time_exchange":"2024-01-01T00:00:01.0000000Z",'
    '"time_coinapi":"2024-01-01T00:00:01.0100000Z","uuid":"0b1c7f9e-5a2d-4c8e-9f13-6d2a4b8e1c07","price":2282.10,'
    '"size":0.4,"taker_side":"BUY"}\n'
    '{"type":"hearbeat"}\n'
    "\n"
    '{"type":"symbol","symbol_id":"COINBASE_SPOT_ETH_USD","exchange_id":"COINBASE"}\n'
    '{"type":"exrate","asset_id_base":"ETH","asset_id_quote":"USD","rate_type":"BASE_ALL_CROSSES_TO_REF",'
    '"time":"2024-01-01T00:00:02.0000000Z","rate":2282.1}\n'
)
REST_TRADES = (
    '[{"symbol_id":"BITSTAMP_SPOT_BTC_USD","time_exchange":"2024-01-01T00:00:00.5000000Z",'
    '"time_coinapi":"2024-01-01T00:00:00.5100000Z","uuid":"5caec0c2-0000-4000-8000-000000000001","price":42000.10,'
    '"size":0.00100000,"taker_side":"SELL","id_trade":"77"}]'
)
REST_BOOKS = (
    '[{"symbol_id":"BITSTAMP_SPOT_BTC_USD","time_exchange":"2024-01-01T00:00:00.6000000Z",'
    '"time_coinapi":"2024-01-01T00:00:00.6100000Z","asks":[{"price":42001,"size":1.50}],"bids":[]}]'
)


def test_coinapi_websocket_lines_are_written_as_they_are(tmp_path: Path) -> None:
    path = gz(tmp_path / "feed.jsonl.gz", WS_LINES)
    out = tmp_path / "out.jsonl.gz"
    summary = import_files([path], out, SymbolNames({}))
    with RecordingReader(out) as reader:
        written = [(message.received_ns, message.text) for message in reader]
    lines = [line for line in WS_LINES.splitlines() if line and "hearbeat" not in line]
    assert [text for _, text in written] == lines
    assert [at for at, _ in written] == [1704067201010000000, 1704067201010000000, 1704067202000000000]
    assert summary.skipped == {"hearbeat messages": 1} and summary.symbols == {"COINBASE_SPOT_ETH_USD"}


def test_coinapi_rest_answers_become_numbered_messages(tmp_path: Path) -> None:
    trades, books = tmp_path / "trades.json", tmp_path / "books.json"
    trades.write_text(REST_TRADES)
    books.write_text(REST_BOOKS)
    messages = imported(tmp_path, trades, books)
    assert [(m["type"], m["sequence"]) for m in messages] == [("trade", 1), ("book", 1)]
    assert "id_trade" not in messages[0] and messages[0]["taker_side"] == "SELL"
    assert messages[1]["is_snapshot"] is True and messages[1]["asks"] == [{"price": 42001, "size": 1.5}]
    out = tmp_path / "raw.jsonl.gz"
    import_files([trades], out, SymbolNames({}))
    with RecordingReader(out) as reader:
        assert '"price":42000.10,"size":0.00100000' in next(iter(reader)).text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type":"trade", oops}\n', "line 1: not JSON"),
        ('{"type":"volume","symbol_id":"X"}\n', "line 1: not a CoinAPI message of a type the emulator streams"),
        ('{"type":"asset","asset_id":"BTC"}\n', "line 1: a asset message before any message with a time_coinapi"),
        ('{"type":"trade","symbol_id":"X","time_coinapi":"soon"}\n', "time_coinapi 'soon' is not an ISO 8601 time"),
        ('{"type":"trade","symbol_id":"X","time_coinapi":7}\n', "time_coinapi 7 is not an ISO 8601 time"),
        ("[1, 2]", "a REST answer is an array of objects"),
        ('[{"x": 1}', "not a JSON array"),
        ('[{"price": 1, "size": 2}]', "item 0: not a trade, quote or order book object with a symbol_id"),
        ('[{"symbol_id": "X", "taker_side": "BUY"}]', "item 0: no time_exchange, time_coinapi, uuid, price, size"),
    ],
    ids=["not-json", "unstreamed-type", "no-time-yet", "bad-time", "time-not-text", "array-of-numbers",
         "cut-array", "unknown-object", "missing-fields"],
)  # fmt: skip
def test_bad_coinapi_json_fails_with_its_place(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ImportFailed, match=message):
        import_files([path], tmp_path / "out.jsonl.gz", SymbolNames({}))
