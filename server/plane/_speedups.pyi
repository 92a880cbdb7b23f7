# The C twin of ReferenceCodec in server/plane/codec.py (server/plane/_speedups.c): the same constructor, methods
# and bytes, which tests/server/plane/test_codec_speedups.py checks. Typed as the reference class.
from coinapi_emulator.server.plane.codec import ReferenceCodec as SymbolCodec

__all__ = ["SymbolCodec"]
