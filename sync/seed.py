"""Fill a store with realistic closed demo sessions (demos, fault tests, the sync benchmark).

Demo data only: invented family names (plant names, no real person), no INS at all (the INS would be shared under
the production OID 1.2.250.1.213.1.4.8: never put a real-looking NIR there), identity status PROV, RECUP or VALI.
What is realistic: elderly residents, a few of them measured several times, body temperatures around 36.8 °C
with some fevers, written as a Bluetooth thermometer sends them ("36.90": IEEE 11073 FLOAT, exponent -2) or typed
by staff ("37.1"), the thermometer's identity and its raw Health Thermometer bytes, times spread over the last days
in daytime (Europe/Paris).

Only body temperature (LOINC 8310-5) for now: the store refuses codes it cannot map yet. One measurement per session.
"""
from __future__ import annotations

import datetime as dt
import random
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterator

from sync.store import IdentityError, Store

try:
    from zoneinfo import ZoneInfo
    PARIS: dt.tzinfo = ZoneInfo("Europe/Paris")
except Exception:  # noqa: BLE001 - no tz database on this system: a fixed offset is good enough for demo data
    PARIS = dt.timezone(dt.timedelta(hours=1))

FAMILY_NAMES = (
    "Abricotier", "Aubépine", "Bergamote", "Bourrache", "Capucine", "Cerfeuil", "Chèvrefeuille", "Coquelicot",
    "Dauphinelle", "Églantier", "Fenouillet", "Fougeraie", "Genévrier", "Giroflée", "Houblonnière", "Jonquille",
    "Lavandin", "Lierrebois", "Mélilot", "Mirabellier", "Myrtillier", "Noisetier", "Œillette", "Orpin",
    "Pervenche", "Pimprenelle", "Quenouille", "Romarin", "Sarriette", "Sorbier", "Sureau", "Tilleul-Doré",
    "Ulmaire", "Valériane", "Verveine", "D'Aubergine", "Mûrier", "Ancolie", "Bruyère", "Cardère",
)
GIVEN_NAMES = {
    "F": ("Jeanne", "Odette", "Simone", "Paulette", "Yvonne", "Germaine", "Suzanne", "Marguerite", "Gilberte",
          "Renée", "Lucienne", "Hélène", "Colette", "Éliane", "Thérèse"),
    "M": ("Marcel", "Lucien", "Henri", "Raymond", "André", "Roger", "Fernand", "René", "Gérard", "Émile",
          "Maurice", "Jean-Claude", "Léon", "Gaston", "Robert"),
}
BIRTH_PLACES = ("75056", "69123", "13055", "31555", "44109", "67482", "59350", "33063", "2A004", "97411", "99350",
                "99134")
REASONS = ("Surveillance température", "Suivi fièvre", "Contrôle hebdomadaire", "Avant téléconsultation")
SITES = {1: "armpit", 6: "mouth", 9: "tympanum"}
THERMOMETERS = (
    {"address": "02:DE:40:00:00:11", "name": "Thermo-Démo 1", "manufacturer": "Relais Démo", "model": "TD-100",
     "serial": "DEMO-T100-0011", "firmware": "1.4.2"},
    {"address": "02:DE:40:00:00:12", "name": "Thermo-Démo 2", "manufacturer": "Relais Démo", "model": "TD-100",
     "serial": "DEMO-T100-0012", "firmware": "1.4.2"},
    {"address": "02:DE:40:00:00:21", "name": "Auri-Démo", "manufacturer": "Relais Démo", "model": "TA-20",
     "serial": "DEMO-TA20-0021", "firmware": "2.0.7"},
)


@dataclass
class SeedResult:
    patients: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    outbox: list[str] = field(default_factory=list)


def _temperature(rng: random.Random) -> Decimal:
    """Tenths of a degree: mostly normal, about one in ten febrile."""
    if rng.random() < 0.1:
        value = rng.uniform(37.8, 39.6)
    else:
        value = min(37.5, max(35.8, rng.gauss(36.8, 0.3)))
    return Decimal(round(value * 10)) / 10


def hts_bytes(value_hundredths: int, site: int) -> bytes:
    """A Health Thermometer measurement (0x2A1C): flags (Celsius, type present), IEEE 11073 FLOAT with exponent -2,
    then the temperature type."""
    mantissa = value_hundredths & 0xFFFFFF
    return bytes([0x04]) + struct.pack("<I", mantissa | (0xFE << 24)) + bytes([site])


@contextmanager
def _store_clock(store: Store, clock: list[dt.datetime]) -> Iterator[None]:
    """Session times in the past: the store stamps opened_at/closed_at from its clock, so point it at the seeded
    time while seeding (under the store lock, so no other thread sees it)."""
    with store.lock:
        original = store._clock  # noqa: SLF001 - a seeding tool, same package
        store._clock = lambda: clock[0]  # noqa: SLF001
        try:
            yield
        finally:
            store._clock = original  # noqa: SLF001


def seed_sessions(store: Store, sessions: int, *, seed: int = 0, days: float = 7.0,
                  now: dt.datetime | None = None, repeat_share: float = 0.25) -> SeedResult:
    """Create patients and `sessions` closed sessions (one temperature each), oldest first, and return their ids.

    About `repeat_share` of the sessions belong to a handful of "regular" residents measured several times; the
    others to one patient each. The same `seed` gives the same data (ids and idempotency keys aside)."""
    if sessions < 0:
        raise ValueError("sessions must be >= 0")
    rng = random.Random(seed)
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    result = SeedResult()
    if sessions == 0:
        return result
    patient_count = max(1, sessions - int(sessions * repeat_share))
    regulars = max(1, patient_count // 10)
    owners = list(range(patient_count)) + [rng.randrange(regulars) for _ in range(sessions - patient_count)]
    rng.shuffle(owners)

    # daytime moments over the last `days`, in order
    moments = []
    for _ in range(sessions):
        day = (now - dt.timedelta(days=rng.uniform(0, days))).astimezone(PARIS)
        local = day.replace(hour=rng.randint(8, 18), minute=rng.randint(0, 59), second=rng.randint(0, 59),
                            microsecond=0)
        moment = local.astimezone(dt.timezone.utc)
        moments.append(min(moment, now - dt.timedelta(minutes=5)))
    moments.sort()

    clock = [moments[0] - dt.timedelta(days=1)]
    patient_ids: dict[int, str] = {}
    with _store_clock(store, clock):
        for owner, moment in zip(owners, moments):
            clock[0] = moment - dt.timedelta(minutes=3)
            if owner not in patient_ids:
                patient_ids[owner] = _add_patient(store, rng)
                result.patients.append(patient_ids[owner])
            session_id = store.open_session(patient_ids[owner], reason=rng.choice(REASONS),
                                            staff=f"IDE-DEMO-{rng.randint(1, 6):02d}")
            value = _temperature(rng)
            manual = rng.random() < 0.1
            measured = moment.astimezone(PARIS)
            received = moment + dt.timedelta(seconds=rng.randint(1, 4))
            clock[0] = received
            if manual:
                store.add_measurement(session_id, code="8310-5", value=f"{value:.1f}", unit="Cel", source="manual",
                                      measured_at=measured, received_at=received)
            else:
                site = rng.choice(list(SITES))
                store.add_measurement(
                    session_id, code="8310-5", value=f"{value:.2f}", unit="Cel", source="bluetooth",
                    device=rng.choice(THERMOMETERS), raw=hts_bytes(int(value * 100), site),
                    status=[f"site:{SITES[site]}"], measured_at=measured, received_at=received)
            clock[0] = received + dt.timedelta(seconds=rng.randint(20, 120))
            result.outbox.append(store.close_session(session_id))
            result.sessions.append(session_id)
    return result


def _add_patient(store: Store, rng: random.Random) -> str:
    for _ in range(100):
        sex = rng.choice("FM")
        try:
            return store.add_patient(
                family_name=rng.choice(FAMILY_NAMES), given_name=rng.choice(GIVEN_NAMES[sex]),
                birth_date=dt.date(rng.randint(1926, 1952), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
                sex=sex, birth_place_insee=rng.choice(BIRTH_PLACES),
                identity_status=rng.choice(("PROV", "RECUP", "VALI", "VALI")),
                resident_id=f"DEMO-{rng.randint(1, 99999):05d}")
        except IdentityError:
            continue  # the same invented identity drawn twice: draw again
    raise RuntimeError("could not draw a new demo identity")
