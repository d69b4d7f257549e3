"""Relais offline-first data: what the tablet keeps, and how it reaches the server. Lower layers first:

errors        refusals as codes with parameters (worded by the app's catalog or the command line)
vocabulary    what is measured and how it is coded (LOINC, UCUM, profiles, decimal text, INS authorities)
clinical      the clinical rules (one thresholds table, NEWS2)
store         the encrypted SQLite store: a small Database, migrations, one module per aggregate, a thin Store facade
outbox        the queue of frozen payloads: claim, sent, rejected, release with backoff, recovery after a crash
audit         the hash-chained audit trail; audit_extracts: its extracts for the server
fhir          pure functions: a closed session → a deterministic FHIR R4 transaction Bundle
closing       closing a session: its frozen bundle queued in the outbox, in the same transaction
batching, uploader, background   several sessions per request, the HTTPS uploader, the app's sync loop
retention, keys, paths, server_config, seed   purge after confirmation, the store key, where files live, where to
              sync, demo data
server/       the development FHIR server and its tools (a separate side: the modules above never import it)
"""
