"""Fill a store with realistic closed demo sessions (demos, fault tests, the sync benchmark).

Demo data only: invented family names (plant names, no real person), no INS unless the store writes INS under the
demo or test OID (a `Store(..., ins_system=fhir.INS_DEMO_SYSTEM)`: then some residents have a qualified identity
with an invented INS; never under the production OID 1.2.250.1.213.1.4.8), identity status PROV, RECUP or VALI
otherwise. Staff, site and doctors are invented too: RPPS numbers starting with 000 and the FINESS 000000018
(department 00 does not exist), so nothing points to a real professional or establishment.

What a session holds, as in an EHPAD teleconsultation: the site and the staff member running it, the reason, the
resident's consent (sometimes given by the personne de confiance), body temperature from a Bluetooth thermometer
("36.90": IEEE 11073 FLOAT, exponent -2) or typed by staff ("37.1"), SpO2 and pulse from an oximeter, one blood
pressure reading (systolic, diastolic, mean) from a cuff, the remote doctor's conclusion and the summary for the
resident's own doctor; readings are mostly normal with some fevers, desaturations, tachycardias and hypertensions.
Times are spread over the last days, in daytime (Europe/Paris).

`complete=False` gives the walking-skeleton sessions of schema v1 (one temperature, no context).
"""
from __future__ import annotations

import datetime as dt
import random
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterator

from sync import fhir
from sync.clinical.rules import flag_of
from sync.store import IdentityError, Store, ins_key_valid
from sync import closing

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
REASONS = ("Fièvre depuis ce matin", "Essoufflement inhabituel", "Chute sans perte de connaissance",
           "Suivi de tension artérielle", "Altération de l'état général", "Toux et encombrement",
           "Douleur thoracique atypique", "Confusion récente", "Contrôle après changement de traitement")
SITES = {1: "armpit", 6: "mouth", 9: "tympanum"}
THERMOMETERS = (
    {"address": "02:DE:40:00:00:11", "name": "Thermo-Démo 1", "manufacturer": "Relais Démo", "model": "TD-100",
     "serial": "DEMO-T100-0011", "firmware": "1.4.2"},
    {"address": "02:DE:40:00:00:12", "name": "Thermo-Démo 2", "manufacturer": "Relais Démo", "model": "TD-100",
     "serial": "DEMO-T100-0012", "firmware": "1.4.2"},
    {"address": "02:DE:40:00:00:21", "name": "Auri-Démo", "manufacturer": "Relais Démo", "model": "TA-20",
     "serial": "DEMO-TA20-0021", "firmware": "2.0.7"},
)
OXIMETERS = (
    {"address": "02:DE:50:00:00:31", "name": "Oxy-Démo", "manufacturer": "Relais Démo", "model": "OX-60",
     "serial": "DEMO-OX60-0031", "firmware": "3.1.0"},
)
CUFFS = (
    {"address": "02:DE:60:00:00:41", "name": "Tensio-Démo", "manufacturer": "Relais Démo", "model": "BP-7",
     "serial": "DEMO-BP7-0041", "firmware": "1.0.3"},
)
DEMO_SITE = {"kind": "ehpad", "name": "EHPAD de démonstration Les Tilleuls", "finess": "000000018",
             "ars_declaration": "DEMO-ARS-TLC-0001"}
DEMO_STAFF = (
    {"display_name": "Inès Démo (IDE)", "role": "infirmier", "rpps": "00000000017"},
    {"display_name": "Aline Démo (AS)", "role": "aide_soignant"},
    {"display_name": "Marc Démo (AS)", "role": "aide_soignant"},
    {"display_name": "Sophie Démo (assistante médicale)", "role": "assistant_medical"},
)
REMOTE_DOCTORS = (("Dr Claire Démo-Distant", "00000000025"), ("Dr Paul Démo-Garde", "00000000033"))
OWN_DOCTORS = (("Dr Hugo Démo-Traitant", "00000000041"), ("Dr Léa Démo-Famille", None))
# their secure mail boxes: under the .test domain name reserved for testing (RFC 2606), so a seeded report can never
# reach a real mailbox, whatever server the tablet is configured to send through
OWN_DOCTOR_ADDRESSES = {"Dr Hugo Démo-Traitant": "hugo.demo-traitant@medecin.mssante.test",
                        "Dr Léa Démo-Famille": "lea.demo-famille@medecin.mssante.test"}
TRUSTED_PERSONS = ("Nicole", "Bernard", "Sylvie", "Patrick", "Martine")


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
        original = store.clock
        store.clock = lambda: clock[0]
        try:
            yield
        finally:
            store.clock = original


def seed_sessions(store: Store, sessions: int, *, seed: int = 0, days: float = 7.0,
                  now: dt.datetime | None = None, repeat_share: float = 0.25, complete: bool = True,
                  doctors: bool = False) -> SeedResult:
    """Create patients and `sessions` closed sessions, oldest first, and return their ids.

    `doctors=True` (complete sessions): each resident has a médecin traitant with a secure mail address (kept on
    the patient), to whom the session's report is frozen at close and queued (sync.delivery).
    About `repeat_share` of the sessions belong to a handful of "regular" residents measured several times; the
    others to one patient each. The same `seed` gives the same data (ids and idempotency keys aside). The demo
    site and staff are created once per store and reused."""
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
        moments.append(local.astimezone(dt.timezone.utc))
    moments.sort()
    # one tablet runs one session at a time: keep them apart by the length of a session, then slide the whole
    # series back if that pushed the last one past `now`
    gap = dt.timedelta(minutes=25 if complete else 6)
    for i in range(1, len(moments)):
        moments[i] = max(moments[i], moments[i - 1] + gap)
    excess = moments[-1] - (now - gap)
    if excess > dt.timedelta(0):
        moments = [m - excess for m in moments]

    clock = [moments[0] - dt.timedelta(days=1)]
    patient_ids: dict[int, str] = {}
    qualified_ok = store.ins_system in (fhir.INS_DEMO_SYSTEM, fhir.INS_TEST_SYSTEM)
    with _store_clock(store, clock):
        context = _demo_context(store) if complete else None
        for owner, moment in zip(owners, moments):
            clock[0] = moment - dt.timedelta(minutes=3)
            if owner not in patient_ids:
                patient_ids[owner] = _add_patient(store, rng, qualified_ok=qualified_ok and complete)
                result.patients.append(patient_ids[owner])
            if context is None:
                session_id = _v1_session(store, rng, patient_ids[owner], moment, clock)
            else:
                session_id = _complete_session(store, rng, patient_ids[owner], moment, clock, context)
                if doctors:
                    _report_to_own_doctor(store, patient_ids[owner], session_id)
            clock[0] += dt.timedelta(seconds=rng.randint(20, 120))
            result.outbox.append(closing.close_session(store, session_id, require_complete=context is not None))
            result.sessions.append(session_id)
    return result


def _v1_session(store: Store, rng: random.Random, patient_id: str, moment: dt.datetime,
                clock: list[dt.datetime]) -> str:
    """One temperature, no context: what the v1 walking skeleton recorded."""
    session_id = store.open_session(patient_id, reason=rng.choice(REASONS), staff=f"IDE-DEMO-{rng.randint(1, 6):02d}")
    _temperature_reading(store, rng, session_id, moment, clock)
    return session_id


def _flag(code: str, value: Any, unit: str) -> str | None:
    """The flag the clinical rules give the value, stored with it as the tablet would."""
    return flag_of(code, Decimal(str(value)), unit)


def _temperature_reading(store: Store, rng: random.Random, session_id: str, moment: dt.datetime,
                         clock: list[dt.datetime]) -> Decimal:
    value = _temperature(rng)
    manual = rng.random() < 0.1
    measured = moment.astimezone(PARIS)
    received = moment + dt.timedelta(seconds=rng.randint(1, 4))
    clock[0] = received
    if manual:
        store.add_measurement(session_id, code="8310-5", value=f"{value:.1f}", unit="Cel", source="manual",
                              measured_at=measured, received_at=received,
                              interpretation=_flag("8310-5", f"{value:.1f}", "Cel"))
    else:
        site = rng.choice(list(SITES))
        store.add_measurement(
            session_id, code="8310-5", value=f"{value:.2f}", unit="Cel", source="bluetooth",
            device=rng.choice(THERMOMETERS), raw=hts_bytes(int(value * 100), site),
            status=[f"site:{SITES[site]}"], measured_at=measured, received_at=received,
            interpretation=_flag("8310-5", f"{value:.2f}", "Cel"))
    return value


@dataclass(frozen=True)
class _Context:
    site_id: str
    runners: tuple[str, ...]  # staff who run sessions


def _demo_context(store: Store) -> _Context:
    """The demo site and staff, created on first use and found again afterwards (by FINESS / name)."""
    site = next((s for s in store.list_sites() if s["finess"] == DEMO_SITE["finess"]), None)
    site_id = site["id"] if site else store.add_site(**DEMO_SITE)
    known = {s["display_name"]: s["id"] for s in store.list_staff(active_only=True)}
    staff_ids = tuple(known.get(s["display_name"]) or store.add_staff(**s) for s in DEMO_STAFF)
    return _Context(site_id, staff_ids)


def _complete_session(store: Store, rng: random.Random, patient_id: str, moment: dt.datetime,
                      clock: list[dt.datetime], context: _Context) -> str:
    """A whole teleconsultation: context, consent, four readings, conclusion, summary."""
    runner = rng.choice(context.runners)
    reason = rng.choice(REASONS)
    session_id = store.open_session(patient_id, reason=reason, site_id=context.site_id, staff_id=runner)
    doctor, doctor_rpps = rng.choice(REMOTE_DOCTORS)
    companion = rng.random() < 0.3
    store.update_session(session_id, remote_doctor_name=doctor, remote_doctor_rpps=doctor_rpps,
                         companion_present=companion, interpreter_present=rng.random() < 0.05,
                         callback_phone=f"01 00 00 {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}")
    clock[0] = moment - dt.timedelta(minutes=2)
    if rng.random() < 0.2:  # the resident cannot consent alone: their personne de confiance does
        family = store.get_patient(patient_id)["family_name"]
        store.record_consent(session_id, decision="given", given_by="trusted_person",
                             given_by_name=f"{rng.choice(TRUSTED_PERSONS)} {family}", recorded_by=runner)
    else:
        store.record_consent(session_id, decision="given", recorded_by=runner)

    temperature = _temperature_reading(store, rng, session_id, moment, clock)
    oximeter, cuff = rng.choice(OXIMETERS), rng.choice(CUFFS)
    measured = (moment + dt.timedelta(minutes=2)).astimezone(PARIS)
    clock[0] = moment + dt.timedelta(minutes=2, seconds=rng.randint(5, 20))
    spo2 = rng.choice((88, 90, 91, 93)) if rng.random() < 0.1 else rng.randint(94, 99)
    pulse = rng.randint(101, 128) if rng.random() < 0.1 else rng.randint(58, 96)
    store.add_measurement(session_id, code="59408-5", value=str(spo2), unit="%", device=oximeter,
                          measured_at=measured, received_at=clock[0], interpretation=_flag("59408-5", spo2, "%"))
    store.add_measurement(session_id, code="8867-4", value=str(pulse), unit="/min", device=oximeter,
                          measured_at=measured, received_at=clock[0], interpretation=_flag("8867-4", pulse, "/min"))
    measured = (moment + dt.timedelta(minutes=4)).astimezone(PARIS)
    clock[0] = moment + dt.timedelta(minutes=4, seconds=rng.randint(30, 50))
    systolic = rng.randint(165, 195) if rng.random() < 0.15 else rng.randint(108, 150)
    diastolic = max(45, min(systolic - 30, rng.randint(58, 95)))
    mean = round((systolic + 2 * diastolic) / 3)
    for code, value in (("8480-6", systolic), ("8462-4", diastolic), ("8478-0", mean)):
        store.add_measurement(session_id, code=code, value=str(value), unit="mm[Hg]", device=cuff,
                              panel_id="cuff-1", measured_at=measured, received_at=clock[0],
                              interpretation=_flag(code, value, "mm[Hg]"))

    start = moment + dt.timedelta(minutes=5)
    end = start + dt.timedelta(minutes=rng.randint(5, 12))
    clock[0] = end
    store.update_session(session_id, started_at=start.astimezone(PARIS), ended_at=end.astimezone(PARIS))
    alerts = []
    if temperature >= Decimal("37.8"):
        alerts.append(f"fièvre à {str(temperature).replace('.', ',')} °C")
    if spo2 < 92:
        alerts.append(f"SpO2 à {spo2} %")
    if pulse > 100:
        alerts.append(f"tachycardie à {pulse}/min")
    if systolic > 160:
        alerts.append(f"PA {systolic}/{diastolic} mmHg")
    if alerts:
        conclusion = (f"{reason} avec {', '.join(alerts)}. Bilan biologique demandé, surveillance rapprochée des "
                      "constantes, nouvelle téléconsultation sous 24 h ou appel au 15 en cas d'aggravation.")
    else:
        conclusion = (f"{reason}. Constantes dans les normes, examen à distance rassurant. Poursuite du traitement "
                      "habituel, surveillance par l'équipe.")
    store.add_note(session_id, kind="remote_doctor_conclusion", text=conclusion)
    if companion:
        store.add_note(session_id, kind="staff_note", text="Accompagnée par un proche pendant l'échange.",
                       staff_id=runner)
    own, own_rpps = rng.choice(OWN_DOCTORS)
    findings = (f"Température {str(temperature).replace('.', ',')} °C, SpO2 {spo2} %, pouls {pulse}/min, "
                f"PA {systolic}/{diastolic} mmHg.")
    store.set_summary(session_id, text=f"Téléconsultation assistée ({reason.lower()}) avec {doctor}. {findings} "
                                       f"Conclusion : {conclusion}", recipient_name=own, recipient_rpps=own_rpps)
    return session_id


def _report_to_own_doctor(store: Store, patient_id: str, session_id: str) -> None:
    """The doctor named in the summary becomes the resident's médecin traitant and the report's recipient."""
    summary = store.get_summary(session_id)
    name, rpps = summary["recipient_name"], summary["recipient_rpps"]
    address = OWN_DOCTOR_ADDRESSES[name]
    store.set_patient_gp(patient_id, name=name, address=address, rpps=rpps)
    store.add_report_recipient(session_id, kind="gp", address=address, name=name, rpps=rpps)


def _demo_ins(rng: random.Random, sex: str, birth: dt.date, insee: str) -> str:
    """An invented NIR-shaped INS with a correct key, for the demo OID only."""
    body = f"{1 if sex == 'M' else 2}{birth.year % 100:02d}{birth.month:02d}{insee}{rng.randint(1, 999):03d}"
    digits = body.replace("2A", "19").replace("2B", "18") if insee[:2] in ("2A", "2B") else body
    ins = f"{body}{97 - int(digits) % 97:02d}"
    assert ins_key_valid(ins)
    return ins


def _add_patient(store: Store, rng: random.Random, *, qualified_ok: bool = False) -> str:
    for _ in range(100):
        sex = rng.choice("FM")
        given = rng.choice(GIVEN_NAMES[sex])
        birth = dt.date(rng.randint(1926, 1952), rng.randint(1, 12), rng.randint(1, 28))
        insee = rng.choice(BIRTH_PLACES)
        traits: dict[str, Any] = dict(
            family_name=rng.choice(FAMILY_NAMES), given_name=given, birth_date=birth.isoformat(), sex=sex,
            birth_place_insee=insee, identity_status=rng.choice(("PROV", "RECUP", "VALI", "VALI")),
            resident_id=f"DEMO-{rng.randint(1, 99999):05d}", identity_method=rng.choice(("SM", "CV", "CV")))
        if qualified_ok and rng.random() < 0.4 and not insee.startswith("99") and not insee.startswith("97"):
            traits.update(identity_status="QUAL", identity_method=rng.choice(("AV", "INSI", "CV")),
                          ins=_demo_ins(rng, sex, birth, insee),
                          birth_given_names=f"{given} {rng.choice(GIVEN_NAMES[sex])}")
        try:
            return store.add_patient(**traits)
        except IdentityError:
            continue  # the same invented identity drawn twice (or its INS): draw again
    raise RuntimeError("could not draw a new demo identity")
