"""Photo services (and folders): the connector interface, its registry and implementations."""
