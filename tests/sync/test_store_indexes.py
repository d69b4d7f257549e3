"""The queries the app repeats as the store grows are answered by an index (schema v16), never by reading every row
of patients, sessions, measurements or the outbox: patient search by name, usual name and birth date, probable
duplicates, a resident's history, the retention pass, claiming an upload batch, the sync indicator. Checked on each
statement these operations run (captured as they run, then asked `EXPLAIN QUERY PLAN`, SQLite documentation "The
Query Planner"), so a new query added to them is checked too. Also: search tokens kept on every write of a name, and
their fill at the upgrade to v16."""
from __future__ import annotations

import datetime as dt
import re

import pytest

import tests.support.schema as fx
from sync import outbox, retention
from sync.store import Store
from sync.store.identity import fold
from tests.support.samples import closed_session
from tests.support.schema import store_at

BIG_TABLES = ("patients", "sessions", "measurements", "outbox")
FULL_SCAN = re.compile(r"^SCAN (\w+)")  # the plan names a table by its alias in the statement, if any
ALIAS = re.compile(r"\b(patients|sessions|measurements|outbox)\s+(?:AS\s+)?(?!WHERE|JOIN|LEFT|ON|GROUP|ORDER)(\w+)",
                   re.I)


class Statements:
    """Every statement the store's connection runs while recording, values bound in (sqlite3 trace callback)."""

    def __init__(self, store: Store) -> None:
        self.store, self.seen = store, []

    def __enter__(self) -> "Statements":
        self.store.conn.set_trace_callback(self.seen.append)
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.conn.set_trace_callback(None)

    def full_scans(self) -> list[tuple[str, str]]:
        scans = []
        for sql in self.seen:
            if not re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)\b", sql, re.I):
                continue
            names = set(BIG_TABLES) | {alias for table, alias in ALIAS.findall(sql) if table in BIG_TABLES}
            for row in self.store.conn.execute("EXPLAIN QUERY PLAN " + sql):
                table = FULL_SCAN.match(row[3])
                if table and table.group(1) in names:
                    scans.append((row[3], sql))
        return scans


@pytest.fixture
def filled(store, clock):
    """Residents with accented, hyphenated and usual names, each with closed sessions, some entries sent."""
    residents = [dict(family_name="Dupont-Martin", given_name="Hélène", usual_name="Lefèvre",
                      birth_date="1942-03-12"),
                 dict(family_name="Œuvray", given_name="Noël", birth_date="1938-11-30"),
                 dict(family_name="d'Orcière", given_name="Anne-Sophie", birth_date="1942-03-02")]
    ids = []
    for traits in residents:
        patient_id, _session, entry = closed_session(store, **traits)
        for value in ("37.10", "38.20"):
            closed_session(store, value=value, patient_id=patient_id)
        outbox.mark_sent(store, entry)
        ids.append(patient_id)
    return ids


def _ids(store, query):
    return [p["id"] for p in store.find_patients(query)]


def _page(store, query, limit=2):
    """What the list shows for `query` (its first `limit`): for one word, read from the name prefixes."""
    return [p["id"] for p in store.find_patients(query, limit=limit)]


def test_search_finds_names_parts_usual_names_and_dates_as_before(store, filled):
    helene, noel, anne = filled
    assert _ids(store, "martin") == _ids(store, "DUPONT-M") == _ids(store, "lefe") == [helene]
    assert _ids(store, "oeuv") == _ids(store, "NOËL") == [noel]
    assert _ids(store, "orci") == _ids(store, "d'orc") == _ids(store, "sophie") == [anne]
    assert _ids(store, "1942-03") == [anne, helene]  # sorted by folded family name: d'orciere, dupont-martin
    assert _ids(store, "12/03/1942") == _ids(store, "12/03/19") == _ids(store, "12/") == [helene]
    assert _ids(store, "hel 1942") == [helene] and _ids(store, "hel 1938") == [] and _ids(store, "zz") == []
    assert _ids(store, "") == [anne, helene, noel]


def test_tokens_follow_every_write_of_a_name(store, filled):
    helene = filled[0]
    store.edit_patient(helene, family_name="Bérard")
    assert _ids(store, "martin") == [] and _ids(store, "bera") == [helene]
    store.conn.execute("DELETE FROM patient_name_tokens")  # a write behind the API's back is covered as well
    store.conn.execute("UPDATE patients SET usual_name = 'Chêne' WHERE id = ?", [helene])
    assert _ids(store, "chene") == [helene]


def test_the_list_order_follows_every_write_and_leaves_merged_records_out(store, filled):
    helene, noel, anne = filled
    assert _ids(store, "") == [anne, helene, noel]  # d'orciere, dupont-martin, oeuvray
    store.edit_patient(helene, family_name="Zidane")
    assert _ids(store, "") == [anne, noel, helene]
    store.conn.execute("UPDATE patients SET family_name = 'Abadie' WHERE id = ?", [noel])  # behind the API's back
    assert _ids(store, "") == [noel, anne, helene]
    assert _page(store, "abad") == [noel] and _page(store, "oeuv") == [] and _page(store, "zid") == [helene]
    store.conn.execute("UPDATE patients SET merged_into = ? WHERE id = ?", [helene, anne])
    assert _ids(store, "") == [noel, helene] and _ids(store, "orci") == [] and _page(store, "orci") == []
    store.conn.execute("UPDATE patients SET merged_into = NULL WHERE id = ?", [anne])
    assert _ids(store, "") == [noel, anne, helene] and _page(store, "orci") == [anne]
    store.conn.execute("UPDATE patients SET given_name = 'Abel' WHERE id = ?", [helene])
    assert _page(store, "abel") == [helene] and _page(store, "hel") == []
    zoe = store.add_patient(family_name="Abadie", given_name="Zoé", birth_date="1950-01-01", sex="F",
                            birth_place_insee="75056")
    assert _page(store, "abad") == [noel, zoe] and _ids(store, "") == [noel, zoe, anne, helene]
    store.conn.execute("DELETE FROM patients WHERE id = ?", [zoe])  # no session yet: it may go
    assert _page(store, "abad") == [noel] and _page(store, "zo") == [] and _ids(store, "") == [noel, anne, helene]
    assert store.conn.execute("SELECT count(*) FROM patient_order").fetchone()[0] == 3
    prefixes = {row[0] for row in store.conn.execute("SELECT DISTINCT sort_key FROM patient_name_prefixes")}
    assert {key.rsplit("\x1f", 1)[-1] for key in prefixes} == {noel, anne, helene}  # nothing left of Zoé


def test_a_page_by_name_and_the_list_come_from_an_index_in_order_without_sorting(store, filled):
    """The list's order is the index's: reading stops at the page's end, however many residents match."""
    for query in ("dupo", ""):
        with Statements(store) as statements:
            store.find_patients(query, limit=2)
        plans = [row[3] for sql in statements.seen if "ORDER BY sort_key LIMIT" in sql
                 for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql)]
        assert plans and not any("TEMP B-TREE" in plan for plan in plans), plans
        if query:  # one range of the prefixes' primary key, not a walk through all of them
            assert any(plan.startswith("SEARCH patient_name_prefixes USING PRIMARY KEY (prefix=?)")
                       for plan in plans), plans


@pytest.mark.parametrize("query", ["d", "du", "dupont-m", "martin", "lefe", "hel", "NOËL", "œuv", "d'orc", "sophie",
                                   "e", "a", "zz", "1942", "12/03/19", "hel 1942", "a h", "´"])
def test_a_page_is_the_first_of_the_whole_search(store, filled, query):
    for limit in (1, 2, 5):
        assert _page(store, query, limit) == _ids(store, query)[:limit]


def test_a_limited_list_gives_the_first_in_order_for_a_search_and_for_none(store, filled):
    helene, noel, anne = filled
    assert _ids(store, "") == [anne, helene, noel]
    assert [p["id"] for p in store.find_patients("", limit=2)] == [anne, helene]
    assert [p["id"] for p in store.find_patients("1942", limit=1)] == [anne]
    assert [p["id"] for p in store.find_patients("1942", limit=5)] == [anne, helene]
    assert store.find_patients("", limit=0) == []


@pytest.mark.parametrize("operation", ["list", "list first page", "search first page", "name first page",
                                       "search name", "search usual name", "search date", "search typed date",
                                       "duplicates", "history", "usual values", "retention", "claim batch",
                                       "claim next", "sync indicator"])
def test_the_hot_queries_read_no_big_table_in_full(store, clock, filled, operation):
    helene = filled[0]
    clock.now += dt.timedelta(days=30)  # the sent sessions are due for purge: the purge statements run too
    run = {
        "list": lambda: store.find_patients(""),
        "list first page": lambda: store.find_patients("", limit=2),
        "search first page": lambda: store.find_patients("1942", limit=1),
        "name first page": lambda: store.find_patients("dupo", limit=2),
        "search name": lambda: store.find_patients("dupo"),
        "search usual name": lambda: store.find_patients("lefe hel"),
        "search date": lambda: store.find_patients("1942-03-12"),
        "search typed date": lambda: store.find_patients("12/03/19"),
        "duplicates": lambda: store.find_patients("1942-03-12"),  # what the workflow's duplicate check asks
        "history": lambda: store.resident_history(helene),
        "usual values": lambda: store.usual_values(helene),
        "retention": lambda: retention.purge(store),
        "claim batch": lambda: outbox.unclaim(store, [e.id for e in outbox.claim_batch(store, limit=10)]),
        "claim next": lambda: outbox.claim_next(store),
        "sync indicator": lambda: (store.sync_counts(), outbox.last_sent_at(store)),  # polled every second
    }[operation]
    with Statements(store) as statements:
        run()
    assert statements.seen and statements.full_scans() == []


def test_the_retention_pass_reads_the_outbox_from_its_indexes_only(store, clock, filled):
    """`state` and `sent_at` come after the payload in the row (overflow pages): the pass must not read rows."""
    with Statements(store) as statements:
        retention.purge(store)  # nothing due yet; residents carried up by their sessions are settled
    reads = []
    for sql in statements.seen:
        if re.match(r"\s*(UPDATE|DELETE FROM|INSERT INTO)\s+outbox\b", sql, re.I) or not re.match(
                r"\s*(SELECT|UPDATE|DELETE)\b", sql, re.I):
            continue  # writing outbox rows reads them, rightly
        names = {"outbox"} | {alias for table, alias in ALIAS.findall(sql) if table == "outbox"}
        reads += [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql)
                  if re.match(r"(SEARCH|SCAN) (\w+)", row[3]) and row[3].split()[1] in names]
    assert reads and all("COVERING INDEX" in plan for plan in reads), reads


def test_claiming_takes_the_oldest_without_sorting_the_queue(store, filled):
    with Statements(store) as statements:
        claimed = outbox.claim_batch(store, limit=3)
    assert [e.id for e in claimed] == [e.id for e in outbox.entries(store, "in_flight")]
    plans = [row[3] for sql in statements.seen if "ORDER BY rowid LIMIT" in sql
             for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert plans and not any("TEMP B-TREE" in plan for plan in plans)


def test_the_upgrade_to_v16_gives_existing_residents_their_tokens(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 15)
    with Store(path) as store:
        assert _ids(store, "genev") == _ids(store, "emile") == [fx.PATIENT_PROV]
        assert _ids(store, "lavan") == [fx.PATIENT_QUAL]
        assert store.conn.execute("SELECT count(DISTINCT patient_id) FROM patient_name_tokens").fetchone()[0] == \
            store.conn.execute("SELECT count(*) FROM patients").fetchone()[0]


def test_the_upgrade_to_v19_puts_every_resident_in_the_list_order(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 18)
    with Store(path) as store:
        everyone = store.conn.execute("SELECT count(*) FROM patients WHERE merged_into IS NULL").fetchone()[0]
        listed = _ids(store, "")
        assert len(listed) == everyone >= 3 and fx.PATIENT_V16 in listed
        folded = [(fold(p["family_name"]), fold(p["given_name"]), p["birth_date"], p["id"])
                  for p in store.find_patients("")]
        assert folded == sorted(folded)


def test_a_v19_store_filled_through_its_triggers_lists_its_residents_in_order(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 19)
    with Store(path) as store:
        assert _ids(store, "")[0] == fx.PATIENT_V19  # Abélard comes first
        assert _ids(store, "abel") == [fx.PATIENT_V19]


def test_a_v16_store_filled_through_its_triggers_is_searchable(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 16)
    with Store(path) as store:
        assert _ids(store, "aubrac") == _ids(store, "pevele") == _ids(store, "orciere") == [fx.PATIENT_V16]
