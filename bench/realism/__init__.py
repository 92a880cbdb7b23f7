"""``make realism``: how close the simulated market's microstructure is to real crypto markets.

Runs seeded markets for a span of virtual time (``tape.py``), measures stylised facts on what they produced
(``facts.py``: pure numpy, each fact with its real-market range and where that comes from), draws the plots
(``plots.py``) and writes ``docs/REALISM.md`` (``report.py``). Run with ``python -m bench.realism``.
"""
