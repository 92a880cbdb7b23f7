"""What test authors script: transport faults (faults.py) and scenario files on the virtual timeline (scenario.py)."""
