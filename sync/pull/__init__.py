"""The pull: what other tablets of the site uploaded comes down to this tablet — residents, staff known at the
site, the last 90 days of history. Tablet side: it talks to any FHIR server over HTTP (sync.pull.client) and never
imports the development server.

- `client`: GET a search, the uploader's TLS and token rules; `cursors` and `paging`: where each search got to,
  stored with the rows of each page; `residents`, `staff`, `history`: one resource read back into the store;
- `run`: the searches of each site, in order.
"""
from __future__ import annotations

from sync.pull.client import PullError, SearchClient
from sync.pull.residents import apply_patient
from sync.pull.run import PullReport, pull

__all__ = ["PullError", "SearchClient", "PullReport", "pull", "apply_patient"]
