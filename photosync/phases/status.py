"""status: where everything stands, answered from the derived index (fast at
100,000 photos: no photo file is read)."""

from __future__ import annotations

from ..library import config as cfg
from ..library.library import Library
from ..model import STATES


def _counts(lib: Library, min_copies: int) -> dict:
    """The aggregates, cached per commit: they change only when the index does."""
    import json

    index = lib.index
    assert index is not None
    key = f"{index.commit_oid}|{min_copies}|{len(index.invalid_files())}"
    cached = index.get_meta("status_cache")
    if cached:
        data = json.loads(cached)
        if data.get("key") == key:
            return data
    data = {
        "key": key,
        "states": index.state_counts(),
        "services": index.service_counts(),
        "stores": index.store_counts(),
        "below": index.count_below(min_copies),
        "without": index.count_below(1),
        "conflicts": index.conflict_counts(),
        "discrepancies": index.count_discrepancies(),
        "renditions": index.rendition_counts(),
        "tiers": index.tier_savings(),
    }
    index.set_meta("status_cache", json.dumps(data))
    return json.loads(json.dumps(data))


def gather(lib: Library) -> dict:
    index = lib.index
    assert index is not None
    prefs = lib.preferences
    min_copies = int(prefs["blob_storage"].get("min_copies", 1))
    counts = _counts(lib, min_copies)
    states = counts["states"]
    services = counts["services"]
    stores = counts["stores"]
    runs = index.service_runs()
    open_conflicts, all_conflicts = counts["conflicts"]
    sync = lib.sync_state.get("services", {})
    # source files the last discover could not read (its scan cache keeps them with the reason)
    unreadable = [{"service": svc, "item": item, "reason": reason} for svc, item, reason in index.scan_errors()]
    out_services = {}
    for name in sorted(set(lib.services) | set(services)):
        photos, items, missing = services.get(name, (0, 0, 0))
        conf = lib.services.get(name, {})
        last_run = runs.get(name, (None, None))
        out_services[name] = {
            "type": conf.get("type"),
            "enabled": conf.get("enabled", True) if conf else False,
            "photos": photos,
            "items": items,
            "missing_items": missing,
            "unreadable_files": sum(1 for u in unreadable if u["service"] == name),
            "last_discover": last_run[0],
            "last_discover_summary": last_run[1],
            "last_change": sync.get(name, {}).get("last_change"),
        }
    active = cfg.active_stores(prefs)
    out_stores = {}
    for name in sorted(set(active) | set(stores)):
        good, bad, size = stores.get(name, (0, 0, 0))
        out_stores[name] = {
            "type": prefs["blob_storage"]["stores"].get(name, {}).get("type"),
            "role": "primary" if name == active[0] else ("replica" if name in active else "inactive"),
            "copies": good,
            "bad_copies": bad,
            "bytes": size,
        }
    total = sum(states.values())
    return {
        "library": str(lib.root),
        "photos": total,
        "states": {s: states.get(s, 0) for s in STATES},
        "services": out_services,
        "stores": out_stores,
        "min_copies": min_copies,
        # a photo counts its contents: one whose merged variant is stored nowhere is short of a copy
        "below_min_copies": counts["below"],
        "without_copy": counts["without"],
        "conflicts": {"open": open_conflicts, "recorded": all_conflicts},
        "visibility_discrepancies": counts["discrepancies"],
        # renditions (photosync derive): photos with a current one of each name, and the tier copies' savings
        "renditions": {name: {"photos": n, "bytes": size, "stale": stale}
                       for name, (n, size, stale) in sorted(counts.get("renditions", {}).items())},
        "tiers": {tier: {"photos": n, "original_bytes": orig, "tier_bytes": size, "saved_bytes": max(0, orig - size)}
                  for tier, (n, orig, size) in sorted(counts.get("tiers", {}).items())},
        "invalid_files": [{"path": p, "reason": r} for p, r in index.invalid_files()],
        "unreadable_files": unreadable,
    }
