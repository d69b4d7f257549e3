"""The doctors' web application: a remote doctor signs in, sees their sites' waiting requests, follows a session's
measurements live, reads residents and trends, and signs conclusions, in French, through the FHIR REST API of the
configured server only (the development server or another FHIR server).

- app: `create_app(DoctorsSettings)`, the Starlette application (templates/ and static/ beside it);
- signin / oidc: the two ways of signing in behind one interface (local account with TOTP; OpenID Connect, as Pro
  Santé Connect); accounts: the accounts file (`python -m sync doctors add`);
- guard: the signed-in doctor, CSRF tokens, bounded forms; viewlog: who viewed which patient, kept six months;
- fhir_client: reads, searches and the one transaction; reading: what each page reads, and the site check;
- records, tasks, french, charts: FHIR resources (requests as Tasks) as French rows, words and SVG trend charts;
- signing: the doctor's conclusions, from the form to one transaction (ClinicalImpression + Task completed);
- static/live.js: the one script, refreshing a session's measurements every few seconds;
- serve, listen, embedded: the application under uvicorn on a socket bound first, in a thread of
  `python -m sync serve` (embedded) or on its own (`python -m sync doctors serve`, cli).

The tablet side never imports this package.
"""
