"""Recordings: the file format (recording.py), recording a stream (recorder.py), and streaming one back in place
of the market (source.py, late_join.py, catalog.py)."""
