"""Scale-out over NATS: ``simulate`` publishes its market on the bus, ``gateway`` serves clients from it.

``wire.py`` is the sans-I/O format of what crosses the bus; ``publisher.py`` is the simulator's side (a feed outlet
that batches each gateway's frames per market pass), ``gateway.py`` the gateway's (a plane fed from the bus, with
book snapshots for late joiners); ``connection.py`` opens the NATS connections both use. docs/ARCHITECTURE.md,
"Scale-out", says why it is shaped this way.
"""
