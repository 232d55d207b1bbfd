"""Conflict detection, automatic policies, resolvers and the privacy model."""
