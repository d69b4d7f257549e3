"""What the command line (`python -m sync status|push|configure|audit-check|seed`) says when the store cannot be
used: one English line per code it can meet (the key, a damaged file, the schema), with the code's parameters.
The app says the same things through its own catalog (mobile.messages.data); a code without a line here is
shown as the code and its parameters, never a traceback.
"""
from __future__ import annotations

from sync.errors import RelaisError

CLI_MESSAGES: dict[str, str] = {
    "key.missing": "encryption key not found ({path}): this tablet's data cannot be opened without it; restore the "
                   "key file, do not create a new store",
    "key.permissions": "the key file {path} is readable by other accounts: mode 0600 is required",
    "key.size": "the key file {path} is damaged ({size} bytes instead of {expected})",
    "store.key.required": "this store is encrypted (or damaged): it does not open without its key",
    "store.key.wrong": "wrong encryption key for this store (or the store is damaged)",
    "store.key.size": "the encryption key must be {expected} bytes long (got {size})",
    "store.key.sqlcipher_missing": "SQLCipher (the sqlcipher3 package) is not installed: the encrypted store "
                                  "cannot be read",
    "store.key.not_encrypted": "this store is not encrypted: encrypt it first (sync.store.encrypt_plain_store)",
    "store.corrupt": "the store is damaged: {detail}",
    "store.empty": "the store {path} is empty (0 bytes): its data was removed or never written; it was left as it "
                   "is and nothing was created. Restore it from a backup; on a tablet never used yet, delete the "
                   "empty file to start afresh",
    "store.disk_full": "the disk is full: this step was not saved (what was saved before is kept, unsent sessions "
                       "stay pending); free some space and try again",
    "store.schema.newer": "the store's schema v{version} is newer than this app (v{supported}): update the app",
    "store.schema.wal": "cannot enable the WAL journal (got {mode})",
    "store.schema.migration_failed": "upgrading the store to schema v{version} failed: {detail}",
    "store.schema.foreign_keys": "upgrading the store to schema v{version} broke {count} foreign keys",
    "store.transaction.nested": "internal error: a transaction is already open",
    # the MSSanté directory (import-directory)
    "directory.file.unreadable": "cannot read {file} ({detail})",
    "directory.file.no_text": "{file} holds no .txt extraction",
    "directory.file.header": "not an MSSanté extraction: the header line lacks the columns {missing}; the previous "
                             "directory is kept",
    "directory.file.encoding": "{file} is not UTF-8 text; the previous directory is kept",
    "directory.file.format": "{file} cannot be read as '|'-delimited text ({detail}); the previous directory is kept",
    "directory.file.empty": "{file} holds no usable mailbox; the previous directory is kept",
    "directory.search.failed": "the directory search failed: {detail}",
}

# what a command reports when it worked (counts only, never patient data)
CLI_OUTCOMES: dict[str, str] = {
    "directory.imported": "{imported} MSSanté mailboxes imported from {file} ({malformed} malformed lines skipped, "
                          "{other_types} of other mailbox types, {duplicates} repeated addresses)",
    "residents.applied": "residents imported: {create} created, {update} updated, {unchanged} unchanged, "
                         "{duplicate} probable duplicates left out, {protected} with qualified traits kept",
    "residents.checked": "nothing written: {create} to create, {update} to update, {unchanged} unchanged, "
                         "{duplicate} probable duplicates, {protected} with qualified traits kept",
    "residents.bad_rows": "{bad} bad rows (see \"bad\" in the report): nothing was imported",
}


def say(code: str, **params: object) -> str:
    """The English line for an outcome that is not an error (a count after an import)."""
    return CLI_OUTCOMES[code].format(**params)


def describe(exc: RelaisError) -> str:
    """The English line for `exc`; for an unknown code, the code and its parameters (`str(exc)`)."""
    template = CLI_MESSAGES.get(exc.code)
    if template is None:
        return str(exc)
    try:
        return template.format(**exc.params)
    except (KeyError, IndexError):
        return str(exc)

# The reports by secure mail (MSSanté): configure, push.
CLI_MESSAGES.update({
    "mssante.flags.incomplete": "the MSSanté settings go together: also give {missing}",
    "mssante.smtp.invalid": "--mssante-smtp must be HOST:PORT, the operator's SMTP submission (got {value!r})",
    "mssante.from.invalid": "--mssante-from must be the site's mailbox address, e.g. app@site.mssante.fr",
    "mssante.cert.unreadable": "the MSSanté client certificate could not be read as PEM ({path})",
    "mssante.key.unreadable": "the MSSanté private key could not be read as an unencrypted PEM key ({path})",
    "mssante.key.mismatch": "the MSSanté private key does not belong to the client certificate: nothing was saved",
    "mssante.ca.unreadable": "the CA bundle could not be read as PEM certificates ({path})",
    "mssante.not_configured": "reports by secure mail: {waiting} waiting; secure mail (MSSanté) is not configured, "
                              "run `python -m sync configure --mssante-smtp …` to send them",
    "mssante.reports": "reports by secure mail: {sent} sent, {refused} refused, {waiting} waiting",
    "mssante.unreachable": "the MSSanté server could not be reached; they will be retried",
    "mssante.timeout": "the MSSanté server did not answer in time; they will be retried",
    "mssante.disconnected": "the connection to the MSSanté server was lost before it confirmed; they will be resent",
    "mssante.deferred": "the MSSanté server asked to try again later",
    "mssante.tls_failed": "the secure connection to the MSSanté server failed (its certificate was not trusted, or "
                          "it refused the tablet's): check --ca-bundle and the client certificate",
    "mssante.starttls_missing": "the MSSanté server did not offer an encrypted connection (STARTTLS): nothing is "
                                "sent in clear",
})

# The uploader: one per store (push), what it learned of the server (status).
CLI_MESSAGES.update({
    "upload.busy": "busy: another upload of this store is running (the app or another push); nothing was done, "
                   "try again later",
})

# The residents' CSV import (import-residents)
CLI_MESSAGES.update({
    "residents.file.unreadable": "cannot read {file} ({detail})",
    "residents.file.too_large": "{file} is larger than {max_bytes} bytes: not a residents export",
    "residents.file.encoding": "{file} is neither UTF-8 nor Windows-1252 text",
    "residents.file.empty": "{file} is empty",
    "residents.file.format": "{file} cannot be read as delimited text ({detail})",
    "residents.file.header": "not a residents export: the header line lacks the columns {missing}",
})

# The pull (python -m sync pull): why the server could not be read. Nothing is lost: the next pull resumes.
CLI_MESSAGES.update({
    "pull.network": "the server could not be reached ({error}); what was downloaded is kept, the next pull resumes",
    "pull.tls": "the server's certificate is not trusted: check --ca-bundle; nothing was downloaded",
    "pull.auth": "the server refused the tablet's token (HTTP {status})",
    "pull.http": "the server answered HTTP {status}; what was downloaded is kept, the next pull resumes",
    "pull.not_fhir": "the server's answer is not a FHIR search result (a Wi-Fi login page?); nothing was stored",
    "pull.foreign_link": "the server's next page is on another server: not followed, the token stays here",
})

# A new tablet joining its site (python -m sync pull --site FINESS)
CLI_MESSAGES.update({
    "pull.site.unknown": "no site {site!r} on this tablet nor on the server (give its FINESS or its site id)",
    "pull.site.ambiguous": "several sites on the server carry {site!r}: nothing was added",
})
