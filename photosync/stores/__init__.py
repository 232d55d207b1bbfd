"""Blob stores for originals: the store interface, its registry and implementations."""
