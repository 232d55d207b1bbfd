"""The git control plane: find, lock, read and commit the library; the derived index."""
