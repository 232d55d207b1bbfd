"""A Flickr service's configuration: the options ``service add`` turns into its config
entry, the secrets saved outside the library, and the settings a connector runs with.

One module for all of it, so that declaring Flickr's options (name, help, type, secret,
default) changes this file alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ... import credentials
from ...errors import AuthError, ConfigError

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
    """The config half of the Flickr connector class (a mixin of FlickrConnector)."""

    #: ``service add`` options that are secrets: saved in the user's credentials file, never in config/
    secret_options: tuple[str, ...] = ("api_key", "api_secret")

    @classmethod
    def config_from_options(cls, options: dict, library_root: Path) -> dict:
        out: dict = {}
        if options.get("endpoints"):
            unknown = set(options["endpoints"]) - set(DEFAULT_ENDPOINTS)
            if unknown:
                raise ConfigError(f"unknown Flickr endpoint(s) {', '.join(sorted(unknown))}; "
                                  f"known: {', '.join(DEFAULT_ENDPOINTS)}")
            out["endpoints"] = dict(options["endpoints"])
        if options.get("upload_from"):
            out["upload_from"] = list(options["upload_from"])
        if options.get("requests_per_hour"):
            out["rate_limit"] = {"requests_per_hour": float(options["requests_per_hour"])}
        return out

    @classmethod
    def check_secrets(cls, secrets: dict, existing: dict | None) -> dict:
        merged = {**(existing or {}), **{k: v for k, v in secrets.items() if v}}
        if not merged.get("api_key") or not merged.get("api_secret"):
            raise ConfigError("a Flickr service needs --api-key and --api-secret "
                              "(from https://www.flickr.com/services/apps/create/)")
        return merged

    def _secrets(self) -> dict:
        return load_secrets(self.env.ctx, self.name)  # type: ignore[attr-defined]
