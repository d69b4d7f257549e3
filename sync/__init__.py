"""Relais offline-first data layer.

store     the tablet's SQLite store (patients, sessions, measurements, outbox), versioned schema
outbox    queue operations: claim, sent, rejected, release with backoff, recovery after a crash
fhir      pure functions: a closed session → a deterministic FHIR R4 transaction Bundle
uploader  pushes the outbox over HTTPS with requests, one frozen bundle at a time
background  the app's periodic / on-demand sync loop
server    the development FHIR server (`python -m sync serve`)
"""
