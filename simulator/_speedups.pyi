# The C twin of simulator/book.py (simulator/_speedups.c): the same classes, API and behaviour, which
# tests/simulator/test_speedups.py checks call for call. Typed as the reference classes they stand in for.
from simulator.book import MAX_LEVELS as MAX_LEVELS
from simulator.book import MIN_LEVELS as MIN_LEVELS
from simulator.book import Book as Book
from simulator.book import BookMaker as BookMaker
