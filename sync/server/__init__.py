"""The development FHIR server: what receives the tablets' uploads on a developer's machine, in a demo and in the
tests. The tablet side (the rest of `sync`) never imports it; it uses only the tablet side's shared pieces (the FHIR
codec and identifier systems of sync.fhir, sync.vocabulary, sync.errors, the key files of sync.keys), never the
store.

- handler: the HTTP front (routes, replies, logs without patient data) and `make_server` / `base_url`;
- wire: request and reply bodies (size limits, gzip both ways, JSON depth, what parsing may cost);
- intake: reading a request body with bounded memory (limit from the headers, chunked reads, large bodies at once);
- access: bearer tokens, the lock-out after repeated failures;
- sites: which site each stored resource belongs to; a tablet reads and writes only its own sites' resources;
- tablets: the registry of tablets (`python -m sync tablets`) and the lock-out brake;
- resources: the FHIR engine (SQLite storage, transactions, conditional creates, read, search);
- at_rest: the server's file encrypted (SQLCipher) and owner-only;
- bundles: what a transaction Bundle may hold and how its references are rewritten;
- outcome: refusals as HTTP statuses with an OperationOutcome;
- doctors: the doctors' web application (sign-in, worklist, sessions, trends), served beside it;
- faultproxy: a fault-injecting proxy on loopback (`python -m sync proxy`), for the exactly-once tests;
- process: the server as a child process (`python -m sync serve`), for the app's local server and the tests.

Nothing is imported here, so starting a child server (sync.server.process) does not load the server itself.
"""
