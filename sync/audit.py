"""The tablet's audit trail: who viewed, created, changed, exported or purged what, and when.

Health data on a shared device: every access is traced and the traces are kept for six rolling months (French
guidance on access logs, CNIL and ANS). Rows hold ids and field names only, never a name, a birth date, an INS
or a value, so the trail itself can be exported and kept without becoming patient data.

Tamper evidence: each row's `hash` is SHA-256 over the previous row's hash and the row's own fields, so changing,
inserting or removing a row (with SQL, bypassing the triggers) breaks the chain from that row on; `verify()` finds
the first broken row. Removing rows at the end is caught too: SQLite's AUTOINCREMENT counter
(`sqlite_sequence`) remembers the highest sequence ever written. Old rows leave from the head only: the anchor
(the hash the remaining chain starts from) moves past them in the same transaction, and a trigger (schema v15)
lets it move only onto an existing row and only past rows older than six months; against the server's copy
(`compare`) the anchor itself is checked, so a trail shortened with the trigger dropped shows there.

The trail works on the store's Database (sync.store.database); its extracts for the server are sync.audit_extracts.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from sync.months import AUDIT_RETENTION_MONTHS, months_before

if TYPE_CHECKING:
    from sync.store.database import Database

GENESIS_HASH = "0" * 64
RETENTION_MONTHS = AUDIT_RETENTION_MONTHS
ACTIONS = ("view", "create", "change", "close", "abandon", "export", "purge", "sign_in", "sign_in_refused",
           "sign_out")
SUBJECTS = ("patient", "session", "staff", "site", "setting", "audit_log")
CSV_COLUMNS = ("seq", "at", "staff_id", "staff_name", "staff_role", "action", "subject_kind", "subject_id", "detail",
               "prev_hash", "hash")


def row_hash(prev_hash: str, seq: int, at: str, staff_id: str | None, action: str, subject_kind: str,
             subject_id: str | None, detail: str | None) -> str:
    """SHA-256 of the row chained to its predecessor. Fields are joined with the ASCII unit separator, which none
    of them may contain, so two different rows never hash the same text."""
    fields = (prev_hash, str(seq), at, staff_id or "", action, subject_kind, subject_id or "", detail or "")
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()


def append(db: "Database", action: str, subject_kind: str, subject_id: str | None = None, *,
           detail: str | None = None, staff_id: str | None = None, at: str | None = None) -> int:
    """Append one row; call inside the store transaction that does what is being traced, so the trace and the act
    commit together or not at all. Returns the row's sequence number."""
    if action not in ACTIONS or subject_kind not in SUBJECTS:
        raise ValueError(f"unknown audit event {action!r} on {subject_kind!r}")
    if detail is not None and "\x1f" in detail:
        raise ValueError("audit detail may not contain the unit separator")
    conn = db.conn
    if not conn.in_transaction:
        raise RuntimeError("audit.append must run inside the transaction it traces")
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None:
        last = conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
    counter = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    seq = max(int(last[0]), int(counter[0]) if counter else 0) + 1
    moment = at or db.now().astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
    digest = row_hash(last[1], seq, moment, staff_id, action, subject_kind, subject_id, detail)
    conn.execute("INSERT INTO audit_log (seq, at, staff_id, action, subject_kind, subject_id, detail, prev_hash, hash) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 [seq, moment, staff_id, action, subject_kind, subject_id, detail, last[1], digest])
    return seq


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify(db: "Database") -> ChainCheck:
    """Walk the chain from the anchor. Reports the first row whose hash, predecessor or sequence is wrong, and rows
    missing at the end."""
    with db.lock:
        anchor_seq, anchor_hash = db.conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
        rows = db.conn.execute("SELECT seq, at, staff_id, action, subject_kind, subject_id, detail, prev_hash, hash "
                               "FROM audit_log ORDER BY seq").fetchall()
        counter = db.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    expected_seq, prev = int(anchor_seq) + 1, anchor_hash
    for seq, at, staff_id, action, kind, subject_id, detail, prev_hash, digest in rows:
        if seq != expected_seq:
            return ChainCheck(False, len(rows), expected_seq, f"row {expected_seq} is missing")
        if prev_hash != prev:
            return ChainCheck(False, len(rows), seq, f"row {seq} does not follow row {seq - 1}")
        if row_hash(prev_hash, seq, at, staff_id, action, kind, subject_id, detail) != digest:
            return ChainCheck(False, len(rows), seq, f"row {seq} was changed")
        expected_seq, prev = seq + 1, digest
    highest = int(counter[0]) if counter else int(anchor_seq)
    if highest >= expected_seq:
        return ChainCheck(False, len(rows), expected_seq, f"rows {expected_seq} to {highest} were removed")
    return ChainCheck(True, len(rows))


def cutoff(now: dt.datetime, months: int = RETENTION_MONTHS) -> dt.datetime:
    """The same moment `months` calendar months earlier (31 August minus six months is 28 or 29 February)."""
    return months_before(now, months)


def prune(db: "Database", now: dt.datetime | None = None) -> int:
    """Remove rows older than six rolling months, from the head of the chain only; the anchor moves to the last
    removed row in the same transaction. Returns how many rows left."""
    limit = cutoff(now or db.now()).astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
    with db.transaction():
        last_old = db.conn.execute("SELECT seq, hash FROM audit_log WHERE at < ? ORDER BY seq DESC LIMIT 1",
                                   [limit]).fetchone()
        if last_old is None:
            return 0
        db.conn.execute("UPDATE audit_anchor SET seq = ?, hash = ?, moved_at = ? WHERE id = 1",
                        [last_old[0], last_old[1], db.now().isoformat()])
        removed = db.conn.execute("DELETE FROM audit_log WHERE seq <= ?", [last_old[0]]).rowcount
    return removed


def rows(db: "Database", *, subject_id: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM audit_log" + (" WHERE subject_id = ?" if subject_id else "") + " ORDER BY seq"
    with db.lock:
        return list(db.db.query(sql, [subject_id] if subject_id else []))


def to_csv(db: "Database", rows_: Iterable[dict[str, Any]]) -> str:
    """CSV (RFC 4180, UTF-8 with a BOM so spreadsheet software opens accents right) with the staff member's name
    and role beside their id, for the person reading the export."""
    with db.lock:
        staff = {r["id"]: r for r in db.db.query("SELECT id, display_name, role FROM staff")}
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows_:
        member = staff.get(row["staff_id"] or "", {})
        writer.writerow([row["seq"], row["at"], row["staff_id"] or "", member.get("display_name", ""),
                         member.get("role", ""), row["action"], row["subject_kind"], row["subject_id"] or "",
                         row["detail"] or "", row["prev_hash"], row["hash"]])
    return out.getvalue()


def compare(db: "Database", copy: list[dict[str, str]], now: dt.datetime | None = None) -> ChainCheck:
    """This tablet's chain against the copy on the server (the rows of extracts 1..n, in order). The copy must be
    a chain itself, every row of it still kept here must be here unchanged, hash for hash, and the rows that left
    the tablet (at or below its anchor) must have left by retention: the anchor is the server's row of that
    number, and none of them was younger than six months at `now` (default: the store's clock)."""
    prev = None
    for row in copy:
        seq = int(row["seq"])
        if prev is not None and (seq != prev[0] + 1 or row["prev_hash"] != prev[1]):
            return ChainCheck(False, len(copy), seq, f"the server's copy breaks at row {seq}")
        if row_hash(row["prev_hash"], seq, row["at"], row["staff_id"] or None, row["action"], row["subject_kind"],
                    row["subject_id"] or None, row["detail"] or None) != row["hash"]:
            return ChainCheck(False, len(copy), seq, f"the server's copy of row {seq} does not hash right")
        prev = (seq, row["hash"])
    with db.lock:
        local = {r["seq"]: r["hash"] for r in db.db.query("SELECT seq, hash FROM audit_log")}
        anchor_seq, anchor_hash = db.conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
    gone = _left_too_early(db, copy, int(anchor_seq), anchor_hash, now or db.now())
    if gone is not None:
        return gone
    for row in copy:
        seq = int(row["seq"])
        if seq <= anchor_seq:
            continue  # older than six months: pruned here, kept on the server
        if local.get(seq) != row["hash"]:
            return ChainCheck(False, len(copy), seq,
                              f"row {seq} on the tablet differs from the server's copy" if seq in local
                              else f"row {seq} is on the server but no longer on the tablet")
    return ChainCheck(True, len(copy))


def _left_too_early(db: "Database", copy: list[dict[str, str]], anchor_seq: int, anchor_hash: str,
                    now: dt.datetime) -> ChainCheck | None:
    """The anchor checked against the server's copy: a mismatch, a row that left the tablet younger than six
    months, or rows that left before the server (or a frozen extract waiting for it) had them."""
    if anchor_seq == 0:
        return None
    held = {int(row["seq"]): row for row in copy}
    at_anchor = held.get(anchor_seq)
    if at_anchor is not None and at_anchor["hash"] != anchor_hash:
        return ChainCheck(False, len(copy), anchor_seq, f"the tablet's anchor (row {anchor_seq}) differs from the "
                                                        "server's copy")
    limit = cutoff(now)
    for seq in sorted(s for s in held if s <= anchor_seq):
        if dt.datetime.fromisoformat(held[seq]["at"]) >= limit:
            return ChainCheck(False, len(copy), seq, f"row {seq} left the tablet before it was six months old")
    last_held = max(held, default=0)
    if anchor_seq > last_held:
        with db.lock:
            frozen = db.conn.execute("SELECT min(first_seq) FROM audit_outbox WHERE last_seq > ?",
                                     [last_held]).fetchone()[0]
        if frozen is None or int(frozen) > last_held + 1:
            return ChainCheck(False, len(copy), last_held + 1,
                              f"rows {last_held + 1} to {anchor_seq} left the tablet before the server had them")
    return None
