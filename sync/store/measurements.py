"""Measurements of an open session, stored exactly as read: the value as decimal text, its UCUM unit checked
against its LOINC code (sync.vocabulary), the device it came from, the raw bytes and the device's status flags.

Each row keeps the interpretation flag (HL7 v3 ObservationInterpretation LL, L, H, HH; None within the usual range)
that the clinical rules (sync.clinical.rules) gave the value when staff accepted it: the FHIR mapping reads it.

Blood pressure (systolic 8480-6, diastolic 8462-4, mean 8478-0) is stored one value per row, the rows of one cuff
reading sharing a `panel_id`: they become one FHIR blood pressure panel (HL7 FHIR R4 vital signs, 85354-9). A panel
holds each code at most once, in one unit, and a session closes only with complete panels.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable, Mapping, Sequence

from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import InputError, SessionStateError
from sync.store.fields import aware_iso, decimal_text
from sync.store.sessions import open_session_row
from sync.store.trail import trace
from sync.vocabulary import BP_DIASTOLIC, BP_SYSTOLIC, OBSERVATION_TYPES, ObservationType

SOURCES = ("bluetooth", "manual")
FLAGS = ("LL", "L", "H", "HH")  # as sync.clinical.rules.FLAGS and the schema's CHECK
DEVICE_KEYS = ("address", "name", "manufacturer", "model", "serial", "firmware")


def measurements(db: Database, session_id: str) -> list[dict[str, Any]]:
    """The session's measurements in the order they were stored, `status` decoded to a list."""
    rows = db.query("SELECT * FROM measurements WHERE session_id = ? ORDER BY rowid", [session_id])
    for row in rows:
        row["status"] = json.loads(row["status"])
    return rows


def _value_text(kind: ObservationType, code: str, value: Any) -> str:
    if kind.answers is not None:  # a coded value (consciousness ACVPU, supplemental oxygen)
        if value not in kind.answers:
            raise InputError("measurement.value.not_allowed", "value", loinc=code, allowed=", ".join(kind.answers))
        return value
    return decimal_text(value)


def _device(device: Mapping[str, Any] | None) -> dict[str, Any]:
    device = dict(device or {})
    unknown = set(device) - set(DEVICE_KEYS)
    if unknown:
        raise InputError("measurement.device.unknown_fields", "device", fields=", ".join(sorted(unknown)))
    if any(v is not None and not isinstance(v, str) for v in device.values()):
        raise InputError("measurement.device.not_text", "device")
    return device


def _status(status: Iterable[str]) -> list[str]:
    if isinstance(status, str):
        raise InputError("measurement.status.not_list", "status")
    status_list = list(status)
    if not all(isinstance(s, str) for s in status_list):
        raise InputError("measurement.status.not_list", "status")
    return status_list


def _panel(kind: ObservationType, panel_id: Any) -> str | None:
    if kind.panel:
        if panel_id is None or not isinstance(panel_id, str) or not panel_id.strip():
            raise InputError("measurement.panel_id.required", "panel_id")
        return panel_id.strip()
    if panel_id is not None:
        raise InputError("measurement.panel_id.not_bp", "panel_id")
    return None


def _check_panel_row(db: Database, session_id: str, panel_id: str, code: str, unit: str) -> None:
    for other in db.db.query("SELECT code, unit FROM measurements WHERE session_id = ? AND panel_id = ?",
                             [session_id, panel_id]):
        if other["code"] == code:
            raise InputError("measurement.panel_id.duplicate", "panel_id", loinc=code)
        if other["unit"] != unit:
            raise InputError("measurement.unit.panel_mismatch", "unit")


def add_measurement(db: Database, session_id: str, *, code: str, value: str, unit: str, source: str = "bluetooth",
                    device: Mapping[str, Any] | None = None, raw: bytes | None = None,
                    status: Iterable[str] = (), measured_at: str | dt.datetime | None = None,
                    received_at: str | dt.datetime | None = None, panel_id: str | None = None,
                    interpretation: str | None = None) -> str:
    """Store one reading exactly as read, with the flag the clinical rules gave it. Refuses floats, unknown codes,
    units or flags (the bundle could not be built), naive time stamps, and sessions that are not open."""
    kind = OBSERVATION_TYPES.get(code)
    if kind is None:
        raise InputError("measurement.code.unsupported", "code", loinc=str(code))
    if unit not in kind.units:
        raise InputError("measurement.unit.not_allowed", "unit", loinc=code, allowed=", ".join(kind.units))
    value_text = _value_text(kind, code, value)
    if source not in SOURCES:
        raise InputError("measurement.source.invalid", "source")
    device = _device(device)
    if raw is not None:
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise InputError("measurement.raw.not_bytes", "raw")
        raw = bytes(raw)
    status_list = _status(status)
    measured = aware_iso(measured_at, "measured_at") if measured_at is not None else None
    received = aware_iso(received_at, "received_at") if received_at is not None else db.stamp()
    panel = _panel(kind, panel_id)
    if interpretation is not None and interpretation not in FLAGS:
        raise InputError("measurement.interpretation.unknown", "interpretation", flag=str(interpretation),
                         allowed=", ".join(FLAGS))
    measurement_id = new_id()
    with db.transaction():
        open_session_row(db, session_id)
        if panel is not None:
            _check_panel_row(db, session_id, panel, code, unit)
        db.db["measurements"].insert({
            "id": measurement_id, "session_id": session_id, "code": code, "value": value_text, "unit": unit,
            "source": source, **{f"device_{k}": device.get(k) for k in DEVICE_KEYS}, "raw": raw,
            "status": json.dumps(status_list, ensure_ascii=False), "measured_at": measured,
            "received_at": received, "panel_id": panel, "interpretation": interpretation,
        })
        trace(db, "change", "session", session_id, f"measurement {code} {source}")
    return measurement_id


def check_panels(rows: Sequence[Mapping[str, Any]]) -> None:
    """Every blood pressure reading of the session has its systolic and diastolic values."""
    panels: dict[str, set[str]] = {}
    for m in rows:
        if m.get("panel_id"):
            panels.setdefault(m["panel_id"], set()).add(m["code"])
    for codes in panels.values():
        missing = [code for code in (BP_SYSTOLIC, BP_DIASTOLIC) if code not in codes]
        if missing == [BP_SYSTOLIC, BP_DIASTOLIC]:
            raise SessionStateError("session.bp_panel.missing_both")
        if missing == [BP_SYSTOLIC]:
            raise SessionStateError("session.bp_panel.missing_systolic")
        if missing == [BP_DIASTOLIC]:
            raise SessionStateError("session.bp_panel.missing_diastolic")
