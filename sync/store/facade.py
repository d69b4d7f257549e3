"""`Store`: the store as one object, for the app, the tools and the tests. A thin facade: each method hands over
to the module that owns the rule (patients, staff and PINs, sites, sessions and measurements, consents, notes,
settings); the plumbing (connection, lock, transactions, clock, schema) is the Database it extends. Closing a
session (its record frozen into a FHIR bundle) is not here: sync.closing does it, above both the store and the
FHIR mapping, so the store never depends on the mapping. The same for a request to a remote doctor and the live
sends after it: the store queues them, and sync.live builds their bundles when the uploader takes them.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any, Iterable, Mapping, Sequence

import sync.store.conclusions as conclusion_rows
import sync.store.consents as consent_rows
import sync.store.duplicates as duplicate_rows
import sync.store.history as history
import sync.store.live as live_rows
import sync.store.patient_edits as patient_edits
import sync.store.measurements as measurement_rows
import sync.store.notes as note_rows
import sync.store.patients as patient_rows
import sync.store.recipients as recipient_rows
import sync.store.resume as resume_rows
import sync.store.pins as pins
import sync.store.sessions as session_rows
import sync.store.settings as settings
import sync.store.sites as site_rows
import sync.store.staff as staff_rows
import sync.store.trail as trail
from sync import outbox
from sync.upload_lock import UploaderBusy, upload_lock
from sync.store.database import Clock, Database
from sync.store.errors import InputError
from sync.store.migrations import Migration
from sync.vocabulary import INS_IDENTIFIER_TYPES

log = logging.getLogger(__name__)
_UNSET = session_rows.UNSET


class Store(Database):
    """The offline-first data layer. Usable as a context manager; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str], *, migrations: Sequence[Migration] | None = None,
                 clock: Clock | None = None, recover_in_flight: bool = True, ins_system: str | None = None,
                 key: bytes | None = None) -> None:
        """Open or create the store at `path` and bring its schema up to date (see Database for `key`,
        `migrations` and `clock`). `recover_in_flight=False` opens without touching the outbox (read-only tools
        such as `sync status`); `ins_system` is the INS authority written in the bundles of qualified identities:
        None follows the FHIR mapping's default (production NIR unless a demo build changed it), the demo or test
        authority (sync.vocabulary) for demo and training stores."""
        if ins_system is not None and ins_system not in INS_IDENTIFIER_TYPES:
            raise InputError("store.ins_system.unknown", "ins_system")
        self.ins_system = ins_system
        # where a closed session's report is built (sync.delivery.renderer): None in this process; the app gives a
        # child process, so that the document libraries never load in it
        self.report_renderer: Any = None
        super().__init__(path, migrations=migrations, clock=clock, key=key)
        if recover_in_flight:
            try:
                recovered = self._recover_in_flight()
            except BaseException:
                self.close()
                raise
            if recovered:
                log.info("outbox: %d in-flight entries put back to pending", recovered)

    def __enter__(self) -> "Store":
        return self

    def _recover_in_flight(self) -> int:
        """Entries left in flight by a killed uploader back to pending, only while holding the upload lock
        (sync.upload_lock): when another process holds it, the rows in flight are its own and stay as they are."""
        try:
            with upload_lock(self.path):
                live = live_rows.recover_in_flight(self) if "live_outbox" in self.db.table_names() else 0
                return outbox.recover_in_flight(self) + live
        except UploaderBusy:
            return 0

    # -- patients -------------------------------------------------------------------------------------------------
    def add_patient(self, *, family_name: str, given_name: str, birth_date: str, sex: str, birth_place_insee: str,
                    identity_status: str = "PROV", ins: str | None = None, resident_id: str | None = None,
                    identity_method: str | None = None, birth_given_names: str | None = None,
                    usual_name: str | None = None, room: str | None = None,
                    identity_document: str | None = None) -> str:
        return patient_rows.add_patient(
            self, family_name=family_name, given_name=given_name, birth_date=birth_date, sex=sex,
            birth_place_insee=birth_place_insee, identity_status=identity_status, ins=ins, resident_id=resident_id,
            identity_method=identity_method, birth_given_names=birth_given_names, usual_name=usual_name, room=room,
            identity_document=identity_document)

    def get_patient(self, patient_id: str) -> dict[str, Any]:
        return patient_rows.get_patient(self, patient_id)

    def find_patients(self, query: str = "", limit: int | None = None) -> list[dict[str, Any]]:
        return patient_rows.find_patients(self, query, limit)

    def update_patient(self, patient_id: str, **changes: Any) -> list[str]:
        return patient_edits.update_patient(self, patient_id, **changes)

    def set_identity_status(self, patient_id: str, status: str, **changes: Any) -> list[str]:
        return patient_edits.set_identity_status(self, patient_id, status, **changes)

    def edit_patient(self, patient_id: str, *, reliability: dict[str, Any] | None = None, **changes: Any) -> list[str]:
        return patient_edits.edit_patient(self, patient_id, reliability=reliability, **changes)

    def open_duplicates(self) -> list[dict[str, Any]]:
        return duplicate_rows.open_duplicates(self)

    def merge_duplicates(self, pair_id: str) -> str:
        return duplicate_rows.merge_duplicates(self, pair_id)

    # -- staff, PINs, sites ---------------------------------------------------------------------------------------
    def add_staff(self, *, display_name: str, role: str, rpps: str | None = None, adeli: str | None = None,
                  pin_hash: str | None = None, active: bool = True, pin: str | None = None,
                  is_admin: bool = False) -> str:
        return staff_rows.add_staff(self, display_name=display_name, role=role, rpps=rpps, adeli=adeli,
                                    pin_hash=pin_hash, active=active, pin=pin, is_admin=is_admin)

    def get_staff(self, staff_id: str) -> dict[str, Any]:
        return staff_rows.get_staff(self, staff_id)

    def list_staff(self, *, active_only: bool = False) -> list[dict[str, Any]]:
        return staff_rows.list_staff(self, active_only=active_only)

    def set_staff_active(self, staff_id: str, active: bool) -> None:
        staff_rows.set_staff_active(self, staff_id, active)

    def set_staff_admin(self, staff_id: str, is_admin: bool) -> None:
        staff_rows.set_staff_admin(self, staff_id, is_admin)

    def set_pin(self, staff_id: str, pin: str) -> None:
        pins.set_pin(self, staff_id, pin)

    def verify_pin(self, staff_id: str, pin: str) -> bool:
        return pins.verify_pin(self, staff_id, pin)

    def pin_locked(self, staff_id: str) -> bool:
        """Whether this member is locked out now (measured on the boot clock, see sync.store.pins)."""
        return pins.is_locked(self, self.row("staff", staff_id))

    def reset_pin(self, admin_id: str, staff_id: str, new_pin: str) -> None:
        staff_rows.reset_pin(self, admin_id, staff_id, new_pin)

    def add_site(self, *, kind: str, name: str, finess: str | None = None,
                 ars_declaration: str | None = None) -> str:
        return site_rows.add_site(self, kind=kind, name=name, finess=finess, ars_declaration=ars_declaration)

    def adopt_site(self, *, site_id: str, kind: str, name: str, finess: str | None = None,
                   ars_declaration: str | None = None) -> str:
        return site_rows.adopt_site(self, site_id=site_id, kind=kind, name=name, finess=finess,
                                    ars_declaration=ars_declaration)

    def get_site(self, site_id: str) -> dict[str, Any]:
        return site_rows.get_site(self, site_id)

    def list_sites(self) -> list[dict[str, Any]]:
        return site_rows.list_sites(self)

    # -- settings of this tablet ----------------------------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        return settings.get_setting(self, key, default)

    def set_setting(self, key: str, value: str, detail: str | None = None) -> None:
        settings.set_setting(self, key, value, detail)

    # -- sessions and measurements --------------------------------------------------------------------------------
    def open_session(self, patient_id: str, *, reason: str | None = None, staff: str | None = None,
                     site_id: str | None = None, staff_id: str | None = None) -> str:
        return session_rows.open_session(self, patient_id, reason=reason, staff=staff, site_id=site_id,
                                         staff_id=staff_id)

    def update_session(self, session_id: str, *, reason: Any = _UNSET, site_id: Any = _UNSET, staff_id: Any = _UNSET,
                       staff: Any = _UNSET, started_at: Any = _UNSET, ended_at: Any = _UNSET,
                       remote_doctor_name: Any = _UNSET, remote_doctor_rpps: Any = _UNSET,
                       companion_present: Any = _UNSET, interpreter_present: Any = _UNSET,
                       callback_phone: Any = _UNSET, checklist_room_closed: Any = _UNSET,
                       checklist_device_hygiene: Any = _UNSET, checklist_accessibility: Any = _UNSET
                       ) -> dict[str, Any]:
        return session_rows.update_session(
            self, session_id, site_id=site_id, staff_id=staff_id, reason=reason, staff=staff, started_at=started_at,
            ended_at=ended_at, remote_doctor_name=remote_doctor_name, remote_doctor_rpps=remote_doctor_rpps,
            companion_present=companion_present, interpreter_present=interpreter_present,
            callback_phone=callback_phone, checklist_room_closed=checklist_room_closed,
            checklist_device_hygiene=checklist_device_hygiene, checklist_accessibility=checklist_accessibility)

    def get_session(self, session_id: str) -> dict[str, Any]:
        return session_rows.get_session(self, session_id)

    def open_sessions(self) -> list[dict[str, Any]]:
        return session_rows.open_sessions(self)

    def abandon_session(self, session_id: str) -> None:
        live_rows.abandon_session(self, session_id)

    def save_resume(self, session_id: str, state: dict[str, Any]) -> None:
        resume_rows.save_resume(self, session_id, state)

    def resume_state(self, session_id: str) -> dict[str, Any] | None:
        return resume_rows.resume_state(self, session_id)

    def session_sync_state(self, session_id: str) -> str:
        return session_rows.sync_state(self, session_id)

    def measurements(self, session_id: str) -> list[dict[str, Any]]:
        return measurement_rows.measurements(self, session_id)

    def add_measurement(self, session_id: str, *, code: str, value: str, unit: str, source: str = "bluetooth",
                        device: Mapping[str, Any] | None = None, raw: bytes | None = None,
                        status: Iterable[str] = (), measured_at: str | dt.datetime | None = None,
                        received_at: str | dt.datetime | None = None, panel_id: str | None = None,
                        interpretation: str | None = None) -> str:
        return measurement_rows.add_measurement(
            self, session_id, code=code, value=value, unit=unit, source=source, device=device, raw=raw,
            status=status, measured_at=measured_at, received_at=received_at, panel_id=panel_id,
            interpretation=interpretation)

    # -- the resident's history: trends and usual values (this tablet's sessions and the pulled ones) ----------------
    def resident_history(self, patient_id: str, *, days: int = history.HISTORY_DAYS) -> history.History:
        return history.resident_history(self, patient_id, days=days)

    def usual_values(self, patient_id: str, *, exclude_session: str | None = None) -> dict[str, history.Usual]:
        return history.usual_values(self, patient_id, exclude_session=exclude_session)

    # -- consent, notes, summary, addenda -------------------------------------------------------------------------
    def record_consent(self, session_id: str, *, decision: str, recorded_by: str, given_by: str = "patient",
                       given_by_name: str | None = None, recorded_at: str | dt.datetime | None = None,
                       mes_opposed: bool | None = None) -> str:
        return consent_rows.record_consent(self, session_id, decision=decision, recorded_by=recorded_by,
                                           given_by=given_by, given_by_name=given_by_name, recorded_at=recorded_at,
                                           mes_opposed=mes_opposed)

    def consents(self, session_id: str) -> list[dict[str, Any]]:
        return consent_rows.consents(self, session_id)

    def consent_decision(self, session_id: str) -> str | None:
        return consent_rows.consent_decision(self, session_id)

    def add_note(self, session_id: str, *, kind: str, text: str, author: str | None = None,
                 staff_id: str | None = None, written_by: str | None = None, author_rpps: str | None = None) -> str:
        return note_rows.add_note(self, session_id, kind=kind, text=text, author=author, staff_id=staff_id,
                                  written_by=written_by, author_rpps=author_rpps)

    def notes(self, session_id: str) -> list[dict[str, Any]]:
        return note_rows.notes(self, session_id)

    def waiting_conclusions(self, session_id: str) -> dict[str, Any] | None:
        """The remote doctor's conclusions received and not accepted yet (sync.store.conclusions)."""
        return conclusion_rows.waiting(self, session_id)

    def accepted_conclusions(self, session_id: str) -> dict[str, Any] | None:
        return conclusion_rows.accepted(self, session_id)

    def conclusions_waiting_by_patient(self) -> dict[str, str]:
        return conclusion_rows.waiting_by_patient(self)

    def set_summary(self, session_id: str, *, text: str, recipient_name: str | None = None,
                    recipient_rpps: str | None = None) -> str:
        return note_rows.set_summary(self, session_id, text=text, recipient_name=recipient_name,
                                     recipient_rpps=recipient_rpps)

    def get_summary(self, session_id: str) -> dict[str, Any] | None:
        return note_rows.get_summary(self, session_id)

    def addenda(self, session_id: str) -> list[dict[str, Any]]:
        return note_rows.addenda(self, session_id)

    # -- the report's recipients by secure mail (MSSanté) -------------------------------------------------------------
    def set_patient_gp(self, patient_id: str, *, name: str | None, address: str | None,
                       rpps: str | None = None) -> None:
        recipient_rows.set_patient_gp(self, patient_id, name=name, address=address, rpps=rpps)

    def patient_gp(self, patient_id: str) -> dict[str, Any] | None:
        return recipient_rows.patient_gp(self, patient_id)

    def add_report_recipient(self, session_id: str, *, kind: str, address: str, name: str | None = None,
                             rpps: str | None = None) -> str:
        return recipient_rows.add_report_recipient(self, session_id, kind=kind, address=address, name=name,
                                                   rpps=rpps)

    def set_report_recipients(self, session_id: str, entries: Iterable[Mapping[str, Any]]) -> list[str]:
        return recipient_rows.set_report_recipients(self, session_id, entries)

    def remove_report_recipient(self, recipient_id: str) -> None:
        recipient_rows.remove_report_recipient(self, recipient_id)

    def report_recipients(self, session_id: str) -> list[dict[str, Any]]:
        return recipient_rows.report_recipients(self, session_id)

    def recipient_states(self, session_id: str) -> list[dict[str, Any]]:
        return recipient_rows.recipient_states(self, session_id)

    # -- the outbox, and the live sends of open sessions to the remote doctor ------------------------------------
    def outbox_counts(self) -> dict[str, int]:
        return outbox.counts(self)

    def live_counts(self) -> dict[str, int]:
        return live_rows.counts(self)

    def sync_counts(self) -> dict[str, int]:
        """What the app's sync indicator counts, every second: the sessions waiting, in flight or refused (not the
        confirmed ones, which only grow), with the live sends still to go added, so a value not yet sent to the
        remote doctor shows as waiting."""
        counts, live = outbox.counts(self, ("pending", "in_flight", "rejected")), live_rows.counts(self)
        return {**counts, "pending": counts["pending"] + live["pending"],
                "in_flight": counts["in_flight"] + live["in_flight"]}

    def send_request(self, session_id: str, *, kind: str) -> str:
        return live_rows.send_request(self, session_id, kind=kind)

    def queue_live_update(self, session_id: str) -> str | None:
        return live_rows.queue_live_update(self, session_id)

    def live_state(self, session_id: str) -> dict[str, Any]:
        return live_rows.live_state(self, session_id)

    # -- audit trail ----------------------------------------------------------------------------------------------
    def record_view(self, subject_kind: str, subject_id: str, detail: str | None = None) -> None:
        trail.record_view(self, subject_kind, subject_id, detail)

    def record_sign_out(self, staff_id: str, detail: str = "sign out") -> None:
        trail.record_sign_out(self, staff_id, detail)

    def export_audit_csv(self, admin_id: str, path: str | os.PathLike[str] | None = None) -> str:
        return staff_rows.export_audit_csv(self, admin_id, path)
