"""Connector types by name (see photosync.plugins)."""

from __future__ import annotations

from ..plugins import Registry
from .base import Connector, ConnectorContext

REGISTRY: Registry[Connector] = Registry("service", "photosync.connectors", {
    "local": "photosync.connectors.local:LocalConnector",
    "flickr": "photosync.connectors.flickr.connector:FlickrConnector",
    "google-takeout": "photosync.connectors.google.takeout:TakeoutConnector",
    "amazon-photos": "photosync.connectors.amazon:AmazonPhotosConnector",
    "icloud-shared": "photosync.connectors.icloud_shared:ICloudSharedConnector",
    "apple-photos-export": "photosync.connectors.apple:ApplePhotosExportConnector",
    "icloud": "photosync.connectors.icloud:ICloudConnector",
    "google-picker": "photosync.connectors.google.picker:PickerConnector",
    "google-photos": "photosync.connectors.google.photos:GooglePhotosConnector",
})

register = REGISTRY.register
unregister = REGISTRY.unregister
known_types = REGISTRY.known_types
connector_class = REGISTRY.get


def create(name: str, config: dict, env: ConnectorContext) -> Connector:
    return connector_class(config.get("type", ""))(name, config, env)
