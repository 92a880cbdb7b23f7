# The C twin of SymbolCodec in server/protocol/encode.py (server/protocol/_speedups.c): the same constructor,
# methods and bytes, which tests/server/protocol/test_encode_speedups.py checks. Typed as the reference class.
from server.protocol.encode import SymbolCodec as SymbolCodec
