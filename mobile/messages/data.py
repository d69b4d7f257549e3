"""The words for the data layer's refusals: each code the store, its keys and its outbox can raise
(sync.errors.RelaisError and its subclasses) mapped to an English message template, the msgid the catalogs
translate (assets/locales/<lang>/LC_MESSAGES/relais.po). `{name}` placeholders take the refusal's parameters:
ids, counts and limits, never patient data.
"""
from __future__ import annotations


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


DATA_MESSAGES: dict[str, str] = {
    "identity.family_name.required": N_("The birth name is required."),
    "identity.family_name.too_long": N_("The birth name is too long ({max_length} characters at most)."),
    "identity.family_name.characters": N_("The birth name may only hold letters, spaces, hyphens or apostrophes."),
    "identity.given_name.required": N_("The first given name at birth is required."),
    "identity.given_name.too_long": N_("The first given name at birth is too long ({max_length} characters at most)."),
    "identity.given_name.characters": N_(
        "The first given name at birth may only hold letters, spaces, hyphens or apostrophes."),
    "identity.birth_given_names.required": N_("The list of given names at birth is required."),
    "identity.birth_given_names.too_long": N_(
        "The list of given names at birth is too long ({max_length} characters at most)."),
    "identity.birth_given_names.characters": N_(
        "The list of given names at birth may only hold letters, spaces, hyphens or apostrophes."),
    "identity.birth_given_names.order": N_(
        "The list of given names at birth must start with the first given name at birth."),
    "identity.birth_date.time": N_("The birth date must be a date (YYYY-MM-DD), without a time."),
    "identity.birth_date.format": N_("The birth date must be written YYYY-MM-DD."),
    "identity.birth_date.calendar": N_("This birth date does not exist in the calendar."),
    "identity.birth_date.future": N_("The birth date cannot be in the future."),
    "identity.birth_date.too_old": N_("The birth date is too far back: check the year."),
    "identity.sex.invalid": N_("Sex must be F (female), M (male) or I (undetermined)."),
    "identity.birth_place_insee.format": N_(
        "The birth place must be a 5-character INSEE code (e.g. 75056, 2A004, or 99xxx for a foreign "
        "country)."),
    "identity.identity_status.invalid": N_("The identity status must be PROV, RECUP, VALI or QUAL."),
    "identity.ins.not_qualified": N_("An INS can only be recorded for a qualified identity (QUAL)."),
    "identity.ins.format": N_("The INS must have 15 characters (13 digits and the key)."),
    "identity.ins.key": N_("The INS check key is wrong: check what was typed."),
    "identity.ins.taken": N_("This INS is already given to another patient."),
    "identity.resident_id.not_text": N_("The resident number must be text."),
    "identity.identity_method.invalid": N_(
        "The identity collection method must be SM (manual entry), CV (carte Vitale), INSI (INSi "
        "teleservice), CB (INS Datamatrix), RFID or AV (carte Vitale app)."),
    "identity.usual_name.required": N_("The usual name is empty: leave the field blank instead."),
    "identity.usual_name.too_long": N_("The usual name is too long ({max_length} characters at most)."),
    "identity.usual_name.characters": N_("The usual name may only hold letters, spaces, hyphens or apostrophes."),
    "identity.room.not_text": N_("The room or bed must be text."),
    "identity.room.too_long": N_("The room or bed is too long ({max_length} characters at most)."),
    "identity.identity_document.invalid": N_(
        "The identity document must be CN (identity card), PA (passport), CS (residence permit), LECV or ANCV "
        "(livret de famille or birth certificate extract, with a carte Vitale bearing a photo)."),
    "identity.identity_document.status": N_(
        "An identity document is recorded only for a validated or qualified identity."),
    "identity.duplicate": N_("This identity already exists: select the patient in the list."),
    "identifier.rpps.format": N_("The RPPS number must have 11 digits."),
    "identifier.adeli.format": N_("The ADELI number must have 9 characters (digits, 2A or 2B for Corsica)."),
    "identifier.finess.format": N_("The FINESS number must have 9 characters (digits, 2A or 2B for Corsica)."),
    "identifier.finess.key": N_("The FINESS check key is wrong: check what was typed."),
    "input.not_text": N_("This value must be text."),
    "input.not_bool": N_("Answer yes (True) or no (False)."),
    "input.phone.format": N_("The call-back number must be a phone number (e.g. 01 23 45 67 89)."),
    "input.datetime.timezone": N_(
        "The time must be a date and time with a time zone (e.g. 2024-05-01T10:15:00+02:00)."),
    "setting.invalid": N_("Invalid setting."),
    "staff.display_name.required": N_("The display name is required."),
    "staff.display_name.too_long": N_("The display name is too long ({max_length} characters at most)."),
    "staff.role.invalid": N_(
        "The role must be aide_soignant, infirmier, assistant_medical, pharmacien, medecin or administrateur."),
    "staff.pin_hash.invalid": N_("The PIN hash must be a non-empty text."),
    "staff.rpps.taken": N_("This RPPS number is already given to another staff member."),
    "staff.adeli.taken": N_("This ADELI number is already given to another staff member."),
    "staff.required": N_("Choose a registered staff member."),
    "staff.inactive": N_("This staff member is deactivated: choose an active staff member."),
    "staff.not_found": N_("Unknown staff member."),
    "pin.format": N_("The PIN must be 4 to 8 digits."),
    "pin.admin.too_short": N_("An administrator's PIN has {digits} to 8 digits."),
    "pin.admin.choose_longer": N_("Choose your new PIN ({digits} to 8 digits) before administering this tablet."),
    "pin.account_disabled": N_("This account is disabled: see the administrator."),
    "pin.not_set": N_("No PIN is set for this account: see the administrator."),
    "pin.locked": N_("Too many wrong PINs: account locked, try again in {seconds} s."),
    "pin.locked.minutes": N_("Too many wrong PINs: account locked, try again in {minutes} min."),
    "pin.reset.not_admin": N_("Only an administrator can reset a PIN."),
    "audit.export.not_admin": N_("Only an administrator can export the audit log."),
    "site.kind.invalid": N_("The kind of site must be ehpad or pharmacie."),
    "site.name.required": N_("The site name is required."),
    "site.name.too_long": N_("The site name is too long ({max_length} characters at most)."),
    "site.ars_declaration.too_long": N_("The ARS declaration number is too long ({max_length} characters at most)."),
    "site.finess.taken": N_("A site with this FINESS number already exists."),
    "site.not_found": N_("Unknown site."),
    "patient.not_found": N_("Unknown patient."),
    "session.not_found": N_("Unknown session."),
    "store.row.not_found": N_("This record no longer exists on the tablet."),
    "session.closed": N_("The session is closed: it can no longer be changed."),
    "session.abandoned": N_("The session was abandoned: it can no longer be changed."),
    "session.already_closed": N_("The session is already closed."),
    "session.abandoned.cannot_close": N_("The session was abandoned: it cannot be closed."),
    "session.no_measurement": N_("The session holds no measurement."),
    "session.consent_missing": N_("The patient's consent (or refusal) has not been recorded."),
    "session.summary_missing": N_("The summary for the patient's own doctor has not been written."),
    "session.bp_panel.missing_systolic": N_(
        "A blood pressure reading is incomplete (the systolic is missing): measure again or complete it."),
    "session.bp_panel.missing_diastolic": N_(
        "A blood pressure reading is incomplete (the diastolic is missing): measure again or complete it."),
    "session.bp_panel.missing_both": N_(
        "A blood pressure reading is incomplete (the systolic and the diastolic are missing): measure again "
        "or complete it."),
    "session.reason.too_long": N_("The reason is too long ({max_length} characters at most)."),
    "session.staff.too_long": N_("The professional's name is too long ({max_length} characters at most)."),
    "session.remote_doctor_name.too_long": N_("The doctor's name is too long ({max_length} characters at most)."),
    "session.ended_at.before_start": N_("The end of the teleconsultation is before its start."),
    "session.outbox_missing": N_("This closed session has no upload entry: contact support."),
    "measurement.code.unsupported": N_("Measurement type not supported: {loinc}."),
    "measurement.unit.not_allowed": N_("Unit not allowed for {loinc}: {allowed}."),
    "measurement.interpretation.unknown": N_("Unknown interpretation flag {flag}: use one of {allowed}."),
    "measurement.value.not_allowed": N_("Value not allowed for {loinc}: {allowed}."),
    "measurement.value.decimal": N_("The value must be a decimal number written with a point, such as '37.60'."),
    "measurement.source.invalid": N_("The source must be bluetooth or manual."),
    "measurement.device.unknown_fields": N_("Unknown device fields: {fields}."),
    "measurement.device.not_text": N_("The device fields must be text."),
    "measurement.raw.not_bytes": N_("The raw bytes must be of type bytes."),
    "measurement.status.not_list": N_("The status must be a list of texts."),
    "measurement.panel_id.required": N_(
        "A blood pressure value must belong to its reading (a panel_id shared by the systolic, the diastolic "
        "and the mean)."),
    "measurement.panel_id.not_bp": N_(
        "Only blood pressure values (systolic, diastolic, mean) are grouped in a reading (panel_id)."),
    "measurement.panel_id.duplicate": N_("This blood pressure reading already holds a value for {loinc}."),
    "measurement.unit.panel_mismatch": N_("The values of one blood pressure reading must be in the same unit."),
    "consent.decision.invalid": N_("The decision must be given (consent given) or refused (refusal)."),
    "consent.given_by.invalid": N_("Consent is given by patient, legal_representative or trusted_person."),
    "consent.given_by_name.required": N_("Give the name of the legal representative or trusted person."),
    "consent.given_by_name.not_for_patient": N_("Give a name only when it is not the patient who consents."),
    "consent.given_by_name.too_long": N_(
        "The name of the person who consents is too long ({max_length} characters at most)."),
    "note.kind.invalid": N_(
        "The note kind must be remote_doctor_conclusion (the doctor's conclusion) or staff_note (a team "
        "note)."),
    "note.text.required": N_("The text of the note is required."),
    "note.text.too_long": N_("The text of the note is too long ({max_length} characters at most)."),
    "note.author.required": N_("Give the author of the note."),
    "note.written_by.invalid": N_("Who wrote the note is not one of the known choices."),
    "conclusions.not_waiting": N_("These conclusions are no longer the ones waiting: a newer version came in, or "
                                  "they were already taken."),
    "note.author.too_long": N_("The author is too long ({max_length} characters at most)."),
    "summary.text.required": N_("The text of the summary is required."),
    "summary.text.too_long": N_("The text of the summary is too long ({max_length} characters at most)."),
    "summary.recipient_name.too_long": N_("The recipient's name is too long ({max_length} characters at most)."),
    "addendum.text.required": N_("The text of the addendum is required."),
    "addendum.text.too_long": N_("The text of the addendum is too long ({max_length} characters at most)."),
    "addendum.session_not_closed": N_(
        "An addendum completes a closed session; change the session in progress directly."),
    "outbox.entry.not_found": N_("Unknown upload entry."),
    "outbox.state": N_("This upload entry is {state}: this step is not possible now."),
    "store.key.required": N_("This database is encrypted or damaged: it does not open without its key."),
    "store.key.wrong": N_("Wrong encryption key for this database (or the database is damaged)."),
    "store.key.size": N_("The encryption key must be {expected} bytes long."),
    "store.key.sqlcipher_missing": N_(
        "SQLCipher (the sqlcipher3 package) is not installed: the encrypted database cannot be read."),
    "store.key.not_encrypted": N_("This database is not encrypted: encrypt it first."),
    "store.corrupt": N_("The database is damaged: {detail}"),
    "store.empty": N_("The database file is empty: its data was removed or never written. It was left as it is "
                      "and nothing was created. Restore it from a backup, or tell your coordinator."),
    "store.disk_full": N_("The tablet's storage is full: this was not saved (what was saved before is kept). "
                          "Free some space, then try again."),
    "store.schema.newer": N_(
        "This tablet's data (schema v{version}) is newer than this app (v{supported}): update the app."),
    "store.schema.wal": N_("The database cannot use its journal (mode {mode})."),
    "store.schema.migration_failed": N_("Upgrading the data to schema v{version} failed: {detail}"),
    "store.schema.foreign_keys": N_("Upgrading the data to schema v{version} broke {count} links."),
    "store.transaction.nested": N_("Internal error: a transaction is already open."),
    "store.ins_system.unknown": N_("Unknown INS authority."),
    "key.missing": N_(
        "Encryption key not found: this tablet's data cannot be opened without it. Restore the key file; do "
        "not create a new database."),
    "key.permissions": N_("The key file is readable by other accounts: mode 0600 is required."),
    "key.size": N_("The key file is damaged ({size} bytes instead of {expected})."),
    # the uploader's diagnostics, stored in the outbox (sync.outbox.error_record) and shown for a refused session
    "upload.deadline": N_("Sending interrupted (the pass ran out of time)."),
    "upload.internal": N_("Internal error while sending."),
    "upload.tls": N_(
        "The server's certificate is not recognised: check the address or configure the server's certificate "
        "authority (CA)."),
    "upload.network": N_("Network: {error}"),
    "upload.http": N_("HTTP {status}"),
    "upload.auth": N_("HTTP {status}: access refused by the server."),
    "upload.too_large": N_("HTTP {status}: request too large. {reason}"),
    "upload.rejected": N_("HTTP {status}: {reason}"),
    "upload.rejected.no_detail": N_("HTTP {status}: refused by the server, without detail."),
    "upload.not_fhir": N_("HTTP {status} without OperationOutcome"),
    "upload.reply.not_bundle": N_("Unexpected answer: it is not a FHIR Bundle."),
    "upload.reply.bundle_type": N_("Unexpected answer: a Bundle of type {type} instead of transaction-response."),
    "upload.reply.entry_count": N_("Unexpected answer: {count} responses for {expected} entries sent."),
    "upload.reply.entry_status": N_("Unexpected answer: an entry has the status {status}."),
    "upload.parts.cycle": N_(
        "Cannot send as several transactions: the entries of the Bundle reference each other in a circle."),
    "upload.part": N_("Part {part} of {parts}: {detail}"),
    # the reports by secure mail (MSSanté): settings, the mail outbox, sending
    "mssante.flags.incomplete": N_("The secure mail settings go together: {missing} is missing."),
    "mssante.smtp.invalid": N_("The secure mail server must be written HOST:PORT."),
    "mssante.from.invalid": N_("The sending mailbox must be an address such as app@site.mssante.fr."),
    "mssante.cert.unreadable": N_("The secure mail certificate could not be read."),
    "mssante.key.unreadable": N_("The secure mail private key could not be read."),
    "mssante.key.mismatch": N_("The secure mail private key does not match its certificate: nothing was saved."),
    "mssante.ca.unreadable": N_("The certificate authority file could not be read."),
    "mssante.not_configured": N_(
        "{waiting} report(s) waiting: secure mail is not set up on this tablet yet. Ask the administrator."),
    "mssante.reports": N_("Reports by secure mail: {sent} sent, {refused} refused, {waiting} waiting."),
    "mssante.unreachable": N_("The secure mail server cannot be reached: the report will be sent when it can."),
    "mssante.timeout": N_("The secure mail server did not answer in time: the report will be sent again later."),
    "mssante.disconnected": N_(
        "The connection to the secure mail server was lost before it confirmed: the report will be sent again."),
    "mssante.deferred": N_("The secure mail server asked to try again later."),
    "mssante.tls_failed": N_(
        "The secure connection to the mail server failed (certificate not trusted or refused): "
        "ask the administrator."),
    "mssante.starttls_missing": N_(
        "The mail server offered no encrypted connection: nothing is sent in clear. Ask the administrator."),
    "mail.message_id.mismatch": N_("Internal error: the report message does not carry its Message-ID."),
    "mail.recipient_kind.unknown": N_("Internal error: unknown kind of report recipient ({kind})."),
    "mail.entry.not_pending": N_("This report message was already sent or refused."),
    "mail.entry.not_found": N_("This report message no longer exists."),
    # the report's recipients by secure mail (sync.store.recipients) and the MSSanté directory (sync.delivery.annuaire)
    "recipient.address.required": N_("Type the doctor's secure mail (MSSanté) address."),
    "recipient.address.invalid": N_(
        "This is not a mail address: it needs one @, a domain with a dot, and no spaces (for example "
        "firstname.name@doctor.mssante.fr)."),
    "recipient.address.duplicate": N_("This address already receives the report."),
    "recipient.rpps.invalid": N_("The RPPS number has 11 digits."),
    "recipient.name.required": N_("The doctor's name is required with their address."),
    "recipient.name.too_long": N_("The doctor's name is too long ({max_length} characters at most)."),
    "recipient.kind.invalid": N_("Unknown kind of recipient."),
    "recipient.not_found": N_("This recipient is not (or no longer) on the list."),
    "directory.file.unreadable": N_("The directory file cannot be read ({file})."),
    "directory.file.no_text": N_("The archive {file} holds no directory text file."),
    "directory.file.header": N_(
        "This is not the MSSanté directory extraction: its first line lacks the columns {missing}. The previous "
        "directory is kept."),
    "directory.file.encoding": N_("The directory file {file} is not UTF-8 text. The previous directory is kept."),
    "directory.file.format": N_("The directory file {file} cannot be read ({detail}). The previous directory is kept."),
    "directory.file.empty": N_("The directory file {file} holds no usable mailbox. The previous directory is kept."),
    "directory.search.failed": N_("The directory search failed ({detail})."),
    # residents shared between the tablets of a site (sync.store.patient_edits, duplicates, patient_merge)
    "identity.locked": N_(
        "This identity was retrieved or qualified with the INS teleservice: its traits cannot be changed on a "
        "tablet."),
    "identity.field.unknown": N_("Internal error: this field of a resident cannot be changed here."),
    "duplicate.not_open": N_("These two records were already merged."),
    "pull.patient.incomplete": N_("A resident from the server lacks an identity trait: it is left aside."),
}

# the uploader adapting to the server's transaction limit, one uploader per store
DATA_MESSAGES.update({
    "upload.too_large.entry": N_(
        "HTTP {status}: one entry of this session is too large for the server even when sent alone. {reason}"),
    "upload.busy": N_(
        "Busy: another upload of this tablet's data is running (the app or another push). Nothing was done; try "
        "again later."),
})

# residents imported from a CSV export of the care software (sync.residents_csv)
DATA_MESSAGES.update({
    "residents.file.unreadable": N_("The file {file} cannot be read ({detail})."),
    "residents.file.too_large": N_("The file {file} is larger than {max_bytes} bytes: it is not a residents export."),
    "residents.file.encoding": N_("The file {file} is neither UTF-8 nor Windows-1252 text."),
    "residents.file.empty": N_("The file {file} is empty."),
    "residents.file.format": N_("The file {file} cannot be read as delimited text ({detail})."),
    "residents.file.header": N_("This is not a residents export: its first line lacks the columns {missing}."),
    "residents.row.cells": N_("This line has more cells than the header line has columns."),
    "residents.row.repeated": N_("This resident is already on line {first_line} of the file."),
    "residents.ins.mismatch": N_("This resident already has another INS on this tablet."),
})

# The pull of the site's records (sync.pull.client): why the server could not be read
DATA_MESSAGES.update({
    "pull.network": N_("The server could not be reached ({error}): what came down is kept, the next pull resumes."),
    "pull.tls": N_("The server's certificate is not trusted: nothing came down."),
    "pull.auth": N_("The server refused this tablet's token (HTTP {status})."),
    "pull.http": N_("The server answered HTTP {status}: what came down is kept, the next pull resumes."),
    "pull.not_fhir": N_("The server's answer is not a FHIR search result (a Wi-Fi login page?): nothing was stored."),
    "pull.foreign_link": N_("The server's next page is on another server: it was not followed."),
})

# A new tablet joining its site: the site looked up on the server (sync.pull.sites)
DATA_MESSAGES.update({
    "pull.site.unknown": N_("No site {site} on this tablet nor on the server: give its FINESS or its site id."),
    "pull.site.ambiguous": N_("Several sites on the server carry {site}: nothing was added."),
})

# A request to a remote doctor for an open session (sync.live)
DATA_MESSAGES.update({
    "live.request.no_staff": N_("The session names no staff member: the request to the doctor cannot be sent."),
    "live.request.kind_unknown": N_("Unknown kind of request to the doctor."),
})
