"""An exercise for docs/adding-a-service.md: a service type that lives outside photosync.

A read-only folder of files, each with a sidecar JSON saying what it is (the way Google
Takeout, osxphotos and iCloud exports come).  It is installed the way a third-party
package would be — through the ``photosync.connectors`` entry point group (the tests
write the distribution's metadata) or ``photosync.connectors.registry.register`` — and
nothing in photosync's cli/ or phases/ knows it.
"""

from .connector import SidecarFolderConnector

__all__ = ["SidecarFolderConnector"]
