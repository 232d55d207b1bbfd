"""A Flickr service's configuration: the options ``service add`` turns into its config
entry, the secrets saved outside the library, and the settings a connector runs with.

One module for all of it, so that declaring Flickr's options (name, help, type, secret,
default) changes this file alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ... import credentials
from ...errors import AuthError
from ...options import Option
from ..base import endpoints_option, rate_limit_options, retry_options, timeout_option

DEFAULT_ENDPOINTS = {
    "rest": "https://api.flickr.com/services/rest/",
    "upload": "https://up.flickr.com/services/upload/",
    "replace": "https://up.flickr.com/services/replace/",
    "request_token": "https://www.flickr.com/services/oauth/request_token",
    "authorize": "https://www.flickr.com/services/oauth/authorize",
    "access_token": "https://www.flickr.com/services/oauth/access_token",
    # scheme://host that replaces the host of photo and video file URLs (tests, proxies)
    "photo_host": "",
}
DEFAULT_REQUESTS_PER_HOUR = 3500


@dataclass(frozen=True)
class Settings:
    """What a connector runs with, from the service's config entry."""

    endpoints: dict
    per_hour: float
    attempts: int
    backoff: float
    timeout: float


def settings_from(config: dict) -> Settings:
    rate = config.get("rate_limit") or {}
    per_hour = rate.get("requests_per_hour") or (rate["requests_per_minute"] * 60 if "requests_per_minute" in rate
                                                 else DEFAULT_REQUESTS_PER_HOUR)
    retry = config.get("retry") or {}
    return Settings(
        endpoints={**DEFAULT_ENDPOINTS, **(config.get("endpoints") or {})},
        per_hour=float(per_hour),
        # 8 attempts: under a 20 % fault mix a call fails for good once in 390,000 (0.2 ** 8), so a
        # 6,500-photo account is read whole in about 98 runs of 100 (with 6: about 65)
        attempts=int(retry.get("attempts", 8)),
        backoff=float(retry.get("base_seconds", 1.0)),
        timeout=float(config.get("timeout_seconds", 60)),
    )


def load_secrets(ctx, name: str) -> dict:
    """The service's saved key, secret and sign-in (the user's credentials file, mode 0600)."""
    data = credentials.load(ctx, "services", name) or {}
    if not data.get("api_key") or not data.get("api_secret"):
        raise AuthError(
            f"no Flickr API key saved for service {name}; run: photosync service add {name} --type flickr "
            f"--api-key KEY --api-secret SECRET (or photosync auth {name} --api-key KEY --api-secret SECRET)"
        )
    return data


class FlickrConfig:
    """The config half of the Flickr connector class (a mixin of FlickrConnector):
    its declared options (photosync.options) and the secrets it runs with."""

    options: ClassVar[tuple[Option, ...] | None] = (
        Option("api_key", "The app's API key, from https://www.flickr.com/services/apps/create/.", secret=True,
               required=True),
        Option("api_secret", "The app's API secret (from the same page).", secret=True, required=True),
        Option("friends_audience", "Who a photo whose canonical visibility is friends is shown to, when no finer "
               "choice is recorded for it: friends only, family only, or both.", "choice",
               choices=("friends", "family", "friends+family"), default="friends"),
        Option("upload_location_public", "Also send the location of public photos.", "bool", default=False),
        Option("full_listing_days", "List the whole account again every this many days (photos deleted on "
               "Flickr are seen then).", "float", default=30, schema={"minimum": 0}, advanced=True),
        *rate_limit_options(DEFAULT_REQUESTS_PER_HOUR), *retry_options(8, 1.0), timeout_option(60),
        endpoints_option(tuple(DEFAULT_ENDPOINTS),
                         "Flickr's URLs (photo_host: the scheme://host of photo and video files)"),
    )
    login_options: ClassVar[tuple[Option, ...] | None] = (
        Option("perms", "Access to ask for: read, write or delete (default: write when the service takes "
                        "uploads, else read).", "choice", choices=("read", "write", "delete")),
    )
