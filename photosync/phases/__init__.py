"""The work itself, as plain functions: discover, resolve, replicate, audit, status."""
