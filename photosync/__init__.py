"""photosync: a git-backed tool that keeps a person's photos safe across many services."""

__version__ = "0.1.0"
