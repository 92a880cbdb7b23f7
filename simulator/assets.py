"""The asset universe: ids, names, start prices and volatilities that the catalogue turns into ``Asset`` values.

Data only (no logic, no imports from the rest of the package). Prices are rough USD levels of 2024-01-01, so
books and trades look plausible; volatilities are annualised. Order is popularity, most traded first: the
catalogue uses it to rank pairs and to set activity.
"""

from __future__ import annotations

from typing import NamedTuple


class AssetRow(NamedTuple):
    """One row of the asset table (see ``catalog.Asset`` for field meanings)."""

    asset_id: str
    name: str
    type_is_crypto: bool
    price_usd: float
    #: annualised volatility of the USD price
    volatility: float
    #: relative trading interest as a base asset, 0..1 (BTC = 1)
    popularity: float
    #: stablecoins mean-revert to their peg
    is_stablecoin: bool = False
    #: correlation of the asset's shocks with the common crypto factor (0 for fiat and stablecoins)
    market_correlation: float = 0.0


#: The reference currency; its USD factor is constant 1 and it is never stepped.
REFERENCE_ASSET = "USD"

ASSET_ROWS: tuple[AssetRow, ...] = (
    AssetRow("BTC", "Bitcoin", True, 42280.0, 0.55, 1.0, market_correlation=0.9),
    AssetRow("ETH", "Ethereum", True, 2282.0, 0.60, 0.8, market_correlation=0.9),
    AssetRow("SOL", "Solana", True, 101.5, 0.90, 0.45, market_correlation=0.65),
    AssetRow("XRP", "XRP", True, 0.616, 0.70, 0.4, market_correlation=0.6),
    AssetRow("BNB", "BNB", True, 312.0, 0.55, 0.35, market_correlation=0.65),
    AssetRow("DOGE", "Dogecoin", True, 0.0896, 0.85, 0.35, market_correlation=0.6),
    AssetRow("ADA", "Cardano", True, 0.594, 0.80, 0.25, market_correlation=0.65),
    AssetRow("USDT", "Tether", True, 1.0, 0.004, 0.25, is_stablecoin=True),
    AssetRow("USDC", "USD Coin", True, 1.0, 0.003, 0.22, is_stablecoin=True),
    AssetRow("LTC", "Litecoin", True, 72.9, 0.65, 0.22, market_correlation=0.65),
    AssetRow("AVAX", "Avalanche", True, 38.5, 0.95, 0.2, market_correlation=0.6),
    AssetRow("LINK", "Chainlink", True, 15.2, 0.85, 0.2, market_correlation=0.6),
    AssetRow("TRX", "TRON", True, 0.1085, 0.50, 0.18, market_correlation=0.5),
    AssetRow("DOT", "Polkadot", True, 8.28, 0.80, 0.18, market_correlation=0.6),
    AssetRow("MATIC", "Polygon", True, 0.977, 0.85, 0.18, market_correlation=0.6),
    AssetRow("BCH", "Bitcoin Cash", True, 256.0, 0.80, 0.17, market_correlation=0.6),
    AssetRow("SHIB", "Shiba Inu", True, 0.00001035, 0.85, 0.17, market_correlation=0.55),
    AssetRow("PEPE", "Pepe", True, 0.00000139, 1.30, 0.16, market_correlation=0.45),
    AssetRow("TON", "Toncoin", True, 2.33, 0.80, 0.15, market_correlation=0.4),
    AssetRow("ATOM", "Cosmos", True, 11.1, 0.80, 0.13, market_correlation=0.6),
    AssetRow("XLM", "Stellar", True, 0.131, 0.70, 0.12, market_correlation=0.55),
    AssetRow("ETC", "Ethereum Classic", True, 21.3, 0.75, 0.12, market_correlation=0.6),
    AssetRow("NEAR", "NEAR Protocol", True, 3.6, 0.95, 0.12, market_correlation=0.6),
    AssetRow("APT", "Aptos", True, 9.6, 1.00, 0.12, market_correlation=0.55),
    AssetRow("ARB", "Arbitrum", True, 1.62, 1.00, 0.12, market_correlation=0.6),
    AssetRow("OP", "Optimism", True, 3.6, 1.00, 0.11, market_correlation=0.6),
    AssetRow("FIL", "Filecoin", True, 5.9, 0.90, 0.10, market_correlation=0.6),
    AssetRow("UNI", "Uniswap", True, 6.3, 0.85, 0.10, market_correlation=0.6),
    AssetRow("AAVE", "Aave", True, 106.0, 0.85, 0.09, market_correlation=0.6),
    AssetRow("INJ", "Injective", True, 37.0, 1.10, 0.09, market_correlation=0.5),
    AssetRow("SUI", "Sui", True, 0.61, 1.10, 0.09, market_correlation=0.5),
    AssetRow("ICP", "Internet Computer", True, 11.8, 0.95, 0.08, market_correlation=0.55),
    AssetRow("XMR", "Monero", True, 168.0, 0.60, 0.07, market_correlation=0.5),
    AssetRow("ALGO", "Algorand", True, 0.197, 0.80, 0.06, market_correlation=0.6),
    AssetRow("EOS", "EOS", True, 0.76, 0.75, 0.06, market_correlation=0.6),
    AssetRow("SAND", "The Sandbox", True, 0.60, 0.90, 0.05, market_correlation=0.6),
    AssetRow("MANA", "Decentraland", True, 0.50, 0.90, 0.05, market_correlation=0.6),
    AssetRow("CRV", "Curve DAO Token", True, 0.61, 1.00, 0.05, market_correlation=0.55),
    AssetRow("MKR", "Maker", True, 1530.0, 0.80, 0.05, market_correlation=0.5),
    AssetRow("DAI", "Dai", True, 1.0, 0.004, 0.05, is_stablecoin=True),
    AssetRow("SNX", "Synthetix", True, 3.9, 0.95, 0.04, market_correlation=0.55),
    AssetRow("COMP", "Compound", True, 56.0, 0.85, 0.04, market_correlation=0.55),
    AssetRow("GRT", "The Graph", True, 0.20, 0.90, 0.04, market_correlation=0.6),
    AssetRow("YFI", "yearn.finance", True, 8250.0, 0.85, 0.03, market_correlation=0.55),
    AssetRow("USD", "US Dollar", False, 1.0, 0.0, 0.0),
    AssetRow("EUR", "Euro", False, 1.104, 0.07, 0.0),
    AssetRow("GBP", "Pound Sterling", False, 1.273, 0.08, 0.0),
    AssetRow("JPY", "Japanese Yen", False, 0.00709, 0.10, 0.0),
    AssetRow("KRW", "South Korean Won", False, 0.000776, 0.09, 0.0),
)

#: How money-like an asset is when it appears as a quote: a pair BASE/QUOTE exists only when the quote
#: ranks above the base (so ``ETH_BTC`` exists and ``BTC_ETH`` does not). Assets not listed rank 0.
QUOTE_RANK: dict[str, int] = {
    "USD": 100,
    "EUR": 95,
    "GBP": 94,
    "JPY": 93,
    "KRW": 92,
    "USDT": 90,
    "USDC": 89,
    "DAI": 88,
    "BTC": 50,
    "ETH": 40,
    "BNB": 30,
}
