"""datatypes.py: the wire names and the properties PROTOCOL.md §2.3 gives each type."""

from __future__ import annotations

from coinapi_emulator.server.protocol.datatypes import UNSUPPORTED_DATA_TYPES, DataType, FilterRequirement


def test_wire_names() -> None:
    assert [data_type.value for data_type in DataType] == [
        "trade", "quote", "book", "book5", "book20", "book50", "book_l3", "ohlcv", "exrate", "asset", "exchange",
        "symbol",
    ]  # fmt: skip


def test_filter_requirements() -> None:
    books = {DataType.BOOK, DataType.BOOK5, DataType.BOOK20, DataType.BOOK50, DataType.BOOK_L3}
    assert {t for t in DataType if t.filter_requirement is FilterRequirement.INSTRUMENT} == books
    assert {t for t in DataType if t.filter_requirement is FilterRequirement.ASSET} == {DataType.EXRATE}
    assert {t for t in DataType if t.needs_filter} == books | {DataType.EXRATE}


def test_families() -> None:
    assert {t for t in DataType if t.conflatable} == {DataType.QUOTE, DataType.BOOK5, DataType.BOOK20, DataType.BOOK50}
    assert {t for t in DataType if t.is_symbol_stream} == {
        DataType.TRADE, DataType.QUOTE, DataType.BOOK, DataType.BOOK5, DataType.BOOK20, DataType.BOOK50,
        DataType.BOOK_L3, DataType.OHLCV,
    }  # fmt: skip
    assert {t for t in DataType if t.is_metadata} == {DataType.ASSET, DataType.EXCHANGE, DataType.SYMBOL}
    # every type is exactly one of: symbol stream, metadata, exrate
    for data_type in DataType:
        assert [data_type.is_symbol_stream, data_type.is_metadata, data_type is DataType.EXRATE].count(True) == 1


def test_unsupported_names_are_not_data_types() -> None:
    assert {"volume", "ticker"} == UNSUPPORTED_DATA_TYPES
    assert not UNSUPPORTED_DATA_TYPES & {data_type.value for data_type in DataType}
