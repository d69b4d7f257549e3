"""The doctors' web application: a remote doctor signs in and reads their sites' sessions, residents and trends,
in French, through the FHIR REST API of the configured server only (the development server or another FHIR server).

- app: `create_app(DoctorsSettings)`, the Starlette application (templates/ and static/ beside it);
- signin / oidc: the two ways of signing in behind one interface (local account with TOTP; OpenID Connect, as Pro
  Santé Connect); accounts: the accounts file (`python -m sync doctors add`);
- guard: the signed-in doctor, CSRF tokens, bounded forms; viewlog: who viewed which patient, kept six months;
- fhir_client: reads and searches; reading: what each page reads, and the site check;
- records, french, charts: FHIR resources as French rows, words and SVG trend charts;
- serve, listen, embedded: the application under uvicorn on a socket bound first, in a thread of
  `python -m sync serve` (embedded) or on its own (`python -m sync doctors serve`, cli).

The tablet side never imports this package.
"""
