"""The development FHIR server: what receives the tablets' uploads on a developer's machine, in a demo, and in the
tests. The tablet side (the rest of `sync`) never imports it; it may import the shared FHIR codec and vocabulary.

- handler: the HTTP front (routes, bodies, replies, logs) and `make_server`;
- wire: body size limits, gzip, JSON depth;      access: bearer tokens, lock-out, a tablet's own sites;
- tablets: the registry of tablets and their tokens, the lock-out brake;
- resources: the FHIR engine (SQLite storage, transactions, conditional creates, read, search);
- bundles: what a transaction Bundle may hold, reference rewriting;      outcome: errors as OperationOutcomes;
- page: the doctor's HTML page;      faultproxy: a fault-injecting proxy for exactly-once tests;
- process: the server as a child process (`python -m sync serve`), for the app's local server and the tests.

Nothing is imported here, so starting a child server (sync.server.process) does not load the server itself.
"""
