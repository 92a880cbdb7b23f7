"""Market planes: one market and everything between it and its connections' hub (plane.py), the feeds that
publish it (feed.py), when they publish (driver.py), stream numbering (streams.py), the frame codec (codec.py),
snapshots, cross rates, and the private planes of ``?seed=N`` connections."""
