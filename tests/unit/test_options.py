"""Declared options (photosync.options): the command line, the config schema and the
credentials split built from one list per type, for every built-in type."""

from __future__ import annotations

import sys
from pathlib import Path

import jsonschema
import pytest

from photosync import records
from photosync.errors import ConfigError, InvalidRecord, UsageError
from photosync.library import config as cfg
from photosync.options import Option, compose, parse_args, to_config

OPTS = (
    Option("path", "The folder.", "path", required=True),
    Option("follow_links", "Follow links.", "bool"),
    Option("follow_symlinks", "Follow inside links.", "bool", default=True),
    Option("upload_from", "Sources.", "list"),
    Option("endpoints", "URLs.", "map", keys=("rest", "upload"), flag="--endpoint"),
    Option("rate_limit.requests_per_hour", "Budget.", "float", flag="--requests-per-hour",
           schema={"exclusiveMinimum": 0}),
    Option("retry.attempts", "Tries.", "int", schema={"minimum": 1}),
    Option("naming", "How.", "choice", choices=("suffix", "stem")),
    Option("api_key", "Key.", secret=True, required=True),
    Option("account", "Set by auth.", cli=False),
)


def test_every_form_of_flag_is_parsed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parsed = parse_args(OPTS, [
        "pics", "--path", "sub", "--follow-links", "--no-follow-symlinks", "--upload-from", "a", "--upload-from=b",
        "--endpoint", "rest=http://x", "--endpoint=upload=http://y", "--requests-per-hour", "10",
        "--retry-attempts=3", "--naming", "stem", "--api-key", "K"], what="a test service")
    assert parsed.positional == ["pics"] and not parsed.help
    assert parsed.values == {
        "path": str(tmp_path / "sub"), "follow_links": True, "follow_symlinks": False, "upload_from": ["a", "b"],
        "endpoints": {"rest": "http://x", "upload": "http://y"}, "rate_limit.requests_per_hour": 10.0,
        "retry.attempts": 3, "naming": "stem", "api_key": "K"}
    # config: nested, no secrets, nothing that was not given
    assert to_config(OPTS, parsed.values) == {
        "path": str(tmp_path / "sub"), "follow_links": True, "follow_symlinks": False, "upload_from": ["a", "b"],
        "endpoints": {"rest": "http://x", "upload": "http://y"}, "rate_limit": {"requests_per_hour": 10.0},
        "retry": {"attempts": 3}, "naming": "stem"}


@pytest.mark.parametrize("args, says", [
    (["--bucket", "b"], "a test service has no option --bucket (its options: --path, --follow-links, --follow-symlinks,"),
    (["--account", "x"], "has no option --account"),  # set by photosync, not a flag
    (["--path"], "--path needs a value (DIR)"),
    (["--retry-attempts", "two"], "--retry-attempts two: not a whole number"),
    (["--requests-per-hour", "many"], "--requests-per-hour many: not a number"),
    (["--naming", "beside"], "--naming beside: use one of suffix, stem"),
    (["--endpoint", "rest"], "--endpoint rest: use NAME=VALUE"),
    (["--endpoint", "photo=http://x"], "unknown name 'photo' (known: rest, upload)"),
    (["--follow-links=maybe"], "--follow-links=maybe: use true or false"),
    (["--naming", "stem", "--naming", "suffix"], "--naming given twice"),
])
def test_bad_flags_are_named(args, says):
    with pytest.raises(UsageError) as e:
        parse_args(OPTS, args, what="a test service")
    assert says in str(e.value)


def test_help_is_seen_anywhere_and_bad_words_after_it_are_not_errors():
    assert parse_args(OPTS, ["--bogus", "--help"], what="x").help
    assert parse_args(OPTS, ["-h", "--path"], what="x").help


def test_the_composed_schema_refuses_what_the_type_does_not_declare():
    schema = compose({"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}, OPTS)
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    good = {"type": "t", "path": "/p", "rate_limit": {"requests_per_hour": 5}, "retry": {"attempts": 2},
            "endpoints": {"rest": "http://x"}, "account": "me"}
    assert v.is_valid(good)
    for bad in ({**good, "pth": "/p"}, {**good, "api_key": "k"}, {**good, "rate_limit": {"per_day": 1}},
                {**good, "rate_limit": {"requests_per_hour": 0}}, {**good, "retry": {"attempts": 0}},
                {**good, "endpoints": {"photo": "http://x"}}, {**good, "naming": "beside"},
                {k: v for k, v in good.items() if k != "path"}):
        assert not v.is_valid(bad), bad


def _builtin_types():
    from photosync.connectors import registry as connectors
    from photosync.stores import registry as stores

    return ([connectors.connector_class(t) for t in ("local", "flickr")]
            + [stores.store_class(t) for t in ("local", "s3", "b2")])


@pytest.mark.parametrize("cls", _builtin_types(), ids=lambda c: f"{c.kind}-{c.type_name}")
def test_every_declared_option_is_sound(cls):
    """Each option's schema is a schema, its flag is unique, and a name that looks like a secret is a secret
    (so it goes to the credentials file, never to config/)."""
    options = cls.declared_options()
    flags = [o.flag_name for o in options if o.cli] + [o.off_flag_name for o in options if o.off_flag_name]
    assert len(flags) == len(set(flags)), flags
    for opt in options:
        jsonschema.Draft202012Validator.check_schema(opt.fragment())
        assert records.looks_secret(opt.name.split(".")[-1]) == opt.secret, opt.name


def test_the_options_every_service_shares_agree_with_the_schema_file():
    from photosync.connectors.base import service_options
    from photosync.connectors.flickr import FlickrConnector

    base = records.schema_def("services", "service")["properties"]
    for opt in service_options(FlickrConnector):
        if opt.name in base:
            fragment = {k: v for k, v in opt.fragment().items() if k != "description"}
            assert fragment == {k: v for k, v in base[opt.name].items() if k != "description"}


def test_every_key_photosync_ever_wrote_is_still_valid():
    """Old configs keep working: each key any version wrote, checked by its type's declaration."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_records import _keys_photosync_writes

    data = _keys_photosync_writes()
    services = data["services"]
    services["linked"] = {"type": "local", "enabled": True, "path": "/p", "follow_links": True,
                          "follow_symlinks": False}
    services["flickr-out"].update({"friends_audience": "friends+family", "upload_location_public": True})
    cfg.check_services(services)
    good, bad = cfg.parse_services(records.dump_json(services), "config/services.json")
    assert bad == [] and set(good) == set(services)
    cfg.check_store_entries(data["preferences"])
    cfg.parse_preferences(records.dump_json(data["preferences"]), "config/user-preferences.json")


@pytest.mark.parametrize("kind, entry, field, says", [
    ("service", {"type": "local", "enabled": True, "path": "/p", "follow_link": True}, "x.follow_link",
     "a local service has no option 'follow_link' (its options: enabled, path, follow_links, follow_symlinks)"),
    ("service", {"type": "local", "enabled": True, "path": "/p", "upload_from": ["a"]}, "x.upload_from",
     "it cannot take uploads"),
    ("service", {"type": "local", "enabled": True}, "x.path", "missing (required): The folder to scan"),
    ("service", {"type": "local", "enabled": True, "path": "/p", "follow_links": "yes"}, "x.follow_links",
     "'yes' is not of type 'boolean'"),
    ("service", {"type": "flickr", "enabled": True, "friends_audience": "everyone"}, "x.friends_audience",
     "is not one of"),
    ("store", {"type": "local", "path": "/p", "verify": "never"}, "blob_storage.stores.x.verify", "is not one of"),
    ("store", {"type": "s3", "bucket": "ab"}, "blob_storage.stores.x.bucket", "too short"),
    ("store", {"type": "s3", "bucket": "abc", "endpoint_url": "ftp://h"}, "blob_storage.stores.x.endpoint_url",
     "an http:// or https:// URL"),
    ("store", {"type": "b2", "bucket": "abc", "region": "r", "storage_class": "X"},
     "blob_storage.stores.x.storage_class", "a b2 store has no option 'storage_class'"),
    ("store", {"type": "s3", "bucket": "abc", "part_size": 1024}, "blob_storage.stores.x.part_size",
     "less than the minimum"),
])
def test_an_entry_is_checked_by_its_own_type(kind, entry, field, says):
    check = cfg.check_service_entry if kind == "service" else cfg.check_store_entry
    with pytest.raises(InvalidRecord) as e:
        check("x", entry)
    assert e.value.field == field and says in e.value.reason, str(e.value)


def test_register_refuses_a_class_under_another_name():
    from photosync.connectors import registry
    from photosync.connectors.local import LocalConnector

    with pytest.raises(ValueError, match="type_name is 'local'"):
        registry.register("folder", LocalConnector)
    assert "folder" not in registry.known_types()


def test_secrets_are_checked_by_the_type():
    from photosync.stores.s3 import S3Store

    # S3 keys are optional (the AWS sources), both given are kept, none of them reach config
    assert S3Store.check_secrets({"access_key_id": "A"}, {"secret_access_key": "S"}) == {
        "access_key_id": "A", "secret_access_key": "S"}
    assert S3Store.config_from_options({"bucket": "abc", "profile": "p"}, Path("/")) == {"bucket": "abc",
                                                                                          "profile": "p"}
    with pytest.raises(ConfigError, match="needs --bucket"):
        S3Store.config_from_options({}, Path("/"))
