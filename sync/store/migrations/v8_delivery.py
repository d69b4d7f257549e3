"""Schema v8: the report for the patient's own doctor, delivered by secure mail (MSSanté).

- `patients`: the médecin traitant remembered for the patient (name, RPPS, MSSanté address).
- `consents.mes_opposed`: asked at consent, whether the patient opposes a copy in their Mon espace santé mailbox
  (NULL: not asked, as for decisions recorded before v8).
- `report_recipients`: to whom a session's report goes (the médecin traitant, the patient's Mon espace santé
  box), chosen before close. Never updated; a recipient may still be added after close (the frozen document is
  then sent to them too); removed only while the session is open, or by the retention purge.
- `report_documents`: the report frozen at close (PDF/A, CDA R2 with the PDF embedded, IHE XDM archive), one row
  per version: an addendum after close makes the next version of the same document set. Never updated.
- `report_outbox`: one entry per document and recipient, frozen as the exact RFC 5322 message bytes with their
  Message-ID. Only its delivery state changes (pending → sent, or refused with the server's reply); a sent entry
  never goes back. It is separate from the FHIR outbox: a mail server and a FHIR server fail independently.
- A session enters the retention purge only once no report is still pending (a refused one has been seen by staff
  and stays in the audit trail; an abandoned session never had a report).
- `notes.kind` gains `emergency_call`: staff's call to the 15 (SAMU) is a note of its own kind, found by its kind and
  never by its words. The table is rebuilt (SQLite cannot widen a CHECK in place) with its triggers as they were. In
  sessions still open, the notes the app itself wrote for such a call (kind `staff_note`, its fixed words "Appel au 15
  à …") take the new kind, once, here; closed sessions keep their notes as their frozen bundles carry them.
"""
from __future__ import annotations

from sync.store.sql import Rows


_RPPS = "(length({c}) = 11 AND {c} NOT GLOB '*[^0-9]*')"
_ADDRESS = "({c} GLOB '?*@?*.?*' AND {c} NOT GLOB '*[ <>,;]*')"

_SCHEMA_V8 = f"""
    ALTER TABLE patients ADD COLUMN gp_name TEXT CHECK (gp_name IS NULL OR gp_name <> '');
    ALTER TABLE patients ADD COLUMN gp_rpps TEXT CHECK (gp_rpps IS NULL OR {_RPPS.format(c='gp_rpps')});
    ALTER TABLE patients ADD COLUMN gp_mssante TEXT CHECK (gp_mssante IS NULL OR {_ADDRESS.format(c='gp_mssante')});

    ALTER TABLE consents ADD COLUMN mes_opposed INTEGER CHECK (mes_opposed IS NULL OR mes_opposed IN (0, 1));

    CREATE TABLE report_recipients (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        kind TEXT NOT NULL CHECK (kind IN ('gp', 'patient')),
        address TEXT NOT NULL CHECK ({_ADDRESS.format(c='address')}),
        name TEXT CHECK (name IS NULL OR name <> ''),
        rpps TEXT CHECK (rpps IS NULL OR {_RPPS.format(c='rpps')}),
        created_at TEXT NOT NULL,
        UNIQUE (session_id, address)
    );
    CREATE TRIGGER report_recipients_never_updated BEFORE UPDATE ON report_recipients
    BEGIN SELECT RAISE(ABORT, 'a report recipient is never changed'); END;
    CREATE TRIGGER report_recipients_kept_after_close BEFORE DELETE ON report_recipients
    WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS 'closed'
     AND OLD.session_id NOT IN (SELECT session_id FROM purge_queue)
    BEGIN SELECT RAISE(ABORT, 'the recipients of a closed session are kept'); END;

    CREATE TABLE report_documents (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        set_id TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        addendum_id TEXT REFERENCES addenda(id),
        pdf BLOB NOT NULL,
        cda BLOB NOT NULL,
        xdm BLOB NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (session_id, version),
        CHECK ((version = 1) = (addendum_id IS NULL))
    );
    CREATE TRIGGER report_documents_only_when_closed BEFORE INSERT ON report_documents
    WHEN (SELECT state FROM sessions WHERE id = NEW.session_id) IS NOT 'closed'
    BEGIN SELECT RAISE(ABORT, 'a report is frozen only for a closed session'); END;
    CREATE TRIGGER report_documents_never_updated BEFORE UPDATE ON report_documents
    BEGIN SELECT RAISE(ABORT, 'a frozen report is never changed'); END;
    CREATE TRIGGER report_documents_deleted_only_by_purge BEFORE DELETE ON report_documents
    WHEN OLD.session_id NOT IN (SELECT session_id FROM purge_queue)
    BEGIN SELECT RAISE(ABORT, 'only the retention purge deletes session data'); END;

    CREATE TABLE report_outbox (
        id TEXT PRIMARY KEY,
        document_id TEXT NOT NULL REFERENCES report_documents(id),
        session_id TEXT NOT NULL REFERENCES sessions(id),
        recipient_kind TEXT NOT NULL CHECK (recipient_kind IN ('gp', 'patient')),
        recipient TEXT NOT NULL CHECK ({_ADDRESS.format(c='recipient')}),
        message_id TEXT NOT NULL UNIQUE CHECK (message_id GLOB '<?*@?*>'),
        message BLOB NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'refused')),
        attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at TEXT,
        last_error TEXT,
        refusal TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (document_id, recipient),
        CHECK ((state = 'sent') = (sent_at IS NOT NULL)),
        CHECK ((state = 'refused') = (refusal IS NOT NULL))
    );
    CREATE INDEX report_outbox_session ON report_outbox(session_id);
    CREATE INDEX report_outbox_pending ON report_outbox(state, next_attempt_at);
    CREATE TRIGGER report_outbox_message_frozen
    BEFORE UPDATE OF id, document_id, session_id, recipient_kind, recipient, message_id, message, created_at
    ON report_outbox
    BEGIN SELECT RAISE(ABORT, 'a queued message is sent as it was frozen'); END;
    CREATE TRIGGER report_outbox_sent_is_final BEFORE UPDATE ON report_outbox
    WHEN OLD.state = 'sent'
    BEGIN SELECT RAISE(ABORT, 'a sent message stays sent'); END;
    CREATE TRIGGER report_outbox_deleted_only_by_purge BEFORE DELETE ON report_outbox
    WHEN OLD.session_id NOT IN (SELECT session_id FROM purge_queue)
    BEGIN SELECT RAISE(ABORT, 'only the retention purge deletes session data'); END;

    CREATE TRIGGER purge_only_when_reports_delivered BEFORE INSERT ON purge_queue
    WHEN EXISTS (SELECT 1 FROM report_outbox WHERE session_id = NEW.session_id AND state = 'pending')
    BEGIN SELECT RAISE(ABORT, 'a session whose report is still waiting to be sent is not purged'); END;
"""


_NOTES_WITH_EMERGENCY_CALL = """
    DROP TRIGGER notes_only_in_open_sessions;
    DROP TRIGGER notes_frozen_after_close;
    DROP TRIGGER notes_kept_after_close;
    CREATE TABLE notes_v8 (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        kind TEXT NOT NULL CHECK (kind IN ('remote_doctor_conclusion', 'staff_note', 'orientation', 'prescription',
                                           'emergency_call')),
        author TEXT NOT NULL CHECK (author <> ''),
        staff_id TEXT REFERENCES staff(id),
        text TEXT NOT NULL CHECK (text <> ''),
        created_at TEXT NOT NULL
    );
    INSERT INTO notes_v8
    SELECT n.id, n.session_id,
           CASE WHEN n.kind = 'staff_note' AND n.text GLOB 'Appel au 15 à *'
                     AND (SELECT state FROM sessions WHERE id = n.session_id) = 'open'
                THEN 'emergency_call' ELSE n.kind END,
           n.author, n.staff_id, n.text, n.created_at
    FROM notes n ORDER BY n.rowid;
    DROP TABLE notes;
    ALTER TABLE notes_v8 RENAME TO notes;
    CREATE INDEX notes_session ON notes(session_id);
    CREATE TRIGGER notes_only_in_open_sessions BEFORE INSERT ON notes
    WHEN (SELECT state FROM sessions WHERE id = NEW.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'session is not open'); END;
    CREATE TRIGGER notes_frozen_after_close BEFORE UPDATE ON notes
    WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'notes of a closed session are frozen'); END;
    CREATE TRIGGER notes_kept_after_close BEFORE DELETE ON notes
    WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS NOT 'open'
     AND OLD.session_id NOT IN (SELECT session_id FROM purge_queue)
    BEGIN SELECT RAISE(ABORT, 'notes of a closed session are frozen'); END;
"""


def migration_8(db: Rows) -> None:
    """Schema v8: see the module's docstring."""
    db.executescript(_SCHEMA_V8)
    db.executescript(_NOTES_WITH_EMERGENCY_CALL)
