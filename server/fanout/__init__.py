"""Fan-out: the hub, which routes frames built once to every subscriber, one write per socket per tick."""
