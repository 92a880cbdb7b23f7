"""For users' test suites: the pytest plugin (fixtures and a control handle) and the admin API client."""
