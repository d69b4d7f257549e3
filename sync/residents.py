"""Residents between the tablets of a site: a server copy merged into the store (`apply_remote_patient`, called
by the pull for each Patient it brings down), and the queued residents sent up (`push_residents`, called by the
uploader after the sessions).

Going up is an idempotent conditional update, HL7 FHIR R4 RESTful API "conditional update":
`PUT Patient?identifier=<patient-id system>|<id>` in a transaction, carrying the whole current record with its field
stamps (sync.fhir.patient_fields). No match: the server creates it; one match: it replaces it (a new version); a
retry after a lost reply changes nothing more. The site's Organization rides along as a conditional create so the
managing-site reference resolves even before any session of the site reached the server. A transaction holds at
most MAX_RESIDENTS_PER_REQUEST residents: Medplum refuses a transaction with a conditional entry and more than 8
entries ("Transaction requires strict isolation but has too many entries", medplum/medplum#9477).
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sync import batching, fhir, outbox
from sync.fhir.bundle import conditional_create
from sync.fhir.patient_fields import read_resident, resident_resource, site_code
from sync.store import Store, iso
from sync.store import patient_outbox
from sync.store.duplicates import merged_into_it
from sync.store.patient_merge import RemoteResident, merge_remote
from sync.store.patient_stamps import normal_instant, stamps_of

log = logging.getLogger(__name__)

_REFUSED = ("rejected", "too_large")
MAX_RESIDENTS_PER_REQUEST = 7  # + the site's Organization: 8 entries, Medplum's cap for conditional transactions


def apply_remote_patient(store: Store, resource: dict[str, Any], *, now: dt.datetime) -> str:
    """Merge one Patient from the server into the store: "created", "updated", "unchanged" or "duplicate"
    (sync.store.patient_merge). A Patient no tablet made (no patient id of this product) is left alone:
    "unchanged". `now`: when the pull runs (a resident whose copy carries no stamps, as a session bundle creates
    it, is created here as of then; its fields count as older than any stamped edit)."""
    try:
        read = read_resident(resource)
    except ValueError:
        return "unchanged"
    stamps = {key: normal for key, value in read["stamps"].items() if (normal := normal_instant(value))}
    remote = RemoteResident(read["patient_id"], read["values"], stamps, read["version"], read["replaced_by"],
                            read["replaces"])
    return merge_remote(store, remote, now=iso(now))


def _organization_entry(store: Store) -> tuple[dict[str, Any] | None, str | None]:
    site_id = store.get_setting("site_id")
    if not site_id:
        return None, None
    site = store.get_site(site_id)
    system, value = fhir.organization_key(site)
    entry = conditional_create(fhir.organization_resource(site), system, value)
    return entry, site_code(site)


def resident_transaction(store: Store, patient_ids: list[str]) -> dict[str, Any]:
    """The transaction Bundle sending these residents' current records (module docstring)."""
    org_entry, code = _organization_entry(store)
    entries = [org_entry] if org_entry else []
    for patient_id in patient_ids:
        row = store.get_patient(patient_id)
        resource = resident_resource(row, stamps_of(row), ins_system=store.ins_system or fhir.INS_SYSTEM,
                                     organization_ref=org_entry["fullUrl"] if org_entry else None, site_code=code,
                                     replaces=tuple(merged_into_it(store, patient_id)))
        query = fhir.if_none_exist(fhir.PATIENT_ID_SYSTEM, patient_id)
        entries.append({"resource": resource, "request": {"method": "PUT", "url": f"Patient?{query}"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _version(reply: Any) -> str | None:
    """The version the server gave (from `etag` W/"v", else the location's _history part)."""
    response = (reply or {}).get("response") or {} if isinstance(reply, dict) else {}
    etag = response.get("etag")
    if isinstance(etag, str) and etag:
        return etag.removeprefix("W/").strip('"')
    location = response.get("location") or ""
    return location.split("/_history/")[1] if "/_history/" in location else None


def _send(uploader: Any, store: Store, batch: list[patient_outbox.QueuedResident]) -> tuple[str, str] | None:
    """One request for these residents: None when all are confirmed, else (kind, diagnostic) as the uploader
    classifies failures ("transient", "rejected", "too_large", "auth", "tls")."""
    body = fhir.dumps_bundle(resident_transaction(store, [q.patient_id for q in batch]))
    count = len(fhir.loads(body)["entry"])
    outcome, statuses, replies = uploader._exchange(body, count)
    if outcome is not None:
        return outcome.kind, outcome.detail
    bad = next((s for s in statuses if not batching.entry_ok(s)), None)
    if bad is not None:
        return "transient", outbox.error_record("upload.reply.entry_status", status=bad)
    for queued, reply in zip(batch, replies[count - len(batch):]):
        patient_outbox.mark_sent(store, queued, _version(reply))
    return None


def _send_one_by_one(uploader: Any, store: Store,
                     batch: list[patient_outbox.QueuedResident]) -> tuple[tuple[str, str] | None, list[Any]]:
    """A refused group, resident by resident: the refused ones set aside; stops at a failure that is not a
    refusal, returning it with the residents not tried."""
    for index, queued in enumerate(batch):
        failure = _send(uploader, store, [queued])
        if failure is not None and failure[0] in _REFUSED:
            patient_outbox.mark_rejected(store, queued, failure[1])
        elif failure is not None:
            return failure, batch[index:]
    return None, []


def push_residents(uploader: Any, store: Store, *, ignore_backoff: bool = False) -> tuple[int, str | None]:
    """Send the queued residents, a few per transaction; a refused group is sent one by one so only the refused
    resident is set aside. Returns (confirmed, why it stopped: None, "transient", "auth" or "tls"). A transient
    failure puts the residents back with the session outbox's back-off; nothing queued is ever dropped. A resident
    never edited since creation rides up with its first session instead (patient_outbox.settle_carried)."""
    patient_outbox.settle_carried(store)
    before = patient_outbox.counts(store)["sent"]
    size = min(MAX_RESIDENTS_PER_REQUEST, max(1, (uploader.max_entries or 8) - 1))
    stopped: str | None = None
    while stopped is None:
        batch = patient_outbox.due(store, limit=size, ignore_backoff=ignore_backoff)
        if not batch:
            break
        failure = _send(uploader, store, batch)
        if failure is not None and failure[0] in _REFUSED and len(batch) > 1:
            failure, batch = _send_one_by_one(uploader, store, batch)
        elif failure is not None and failure[0] in _REFUSED:
            patient_outbox.mark_rejected(store, batch[0], failure[1])
            failure = None
        if failure is not None:
            patient_outbox.release(store, batch, failure[1],
                                   delay=patient_outbox.backoff(max(q.attempts for q in batch)))
            log.info("residents: %d not sent (%s)", len(batch), failure[0])
            stopped = failure[0] if failure[0] in ("auth", "tls") else "transient"
    return max(0, patient_outbox.counts(store)["sent"] - before), stopped
