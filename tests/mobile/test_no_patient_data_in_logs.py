"""No patient data in logs: a full demo session (`python -m mobile --demo`, simulated devices, the local sync server,
upload included) with debug logging everywhere (our loggers, Kivy, the sync server), then every byte it logged is
searched for the identity of every patient the session stored: names, birth date in ISO and French forms, INS."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync.store import open_store_file
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def needles(patient: dict) -> set[str]:
    year, month, day = patient["birth_date"].split("-")
    found = {patient["family_name"], patient["given_name"], patient["birth_date"], f"{day}/{month}/{year}",
             f"{day}{month}{year}"}
    if patient.get("birth_given_names"):
        found.add(patient["birth_given_names"])
    if patient.get("ins"):
        found.add(patient["ins"])
    if patient.get("resident_id"):
        found.add(patient["resident_id"])
    return {n for n in found if n and len(n) >= 3}


@pytest.mark.timeout(180)
def test_a_full_demo_session_with_debug_logging_logs_no_patient_data(tmp_path):
    kivy_home = tmp_path / "kivy"
    kivy_home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCFG_")}
    env.update(PYTHONPATH=str(ROOT), KIVY_HOME=str(kivy_home), KIVY_LOG_LEVEL="debug", KIVY_LOG_MODE="MIXED")
    env.pop("KIVY_NO_FILELOG", None)  # Kivy's own log files too
    store = tmp_path / "home" / "relais.db"
    result = subprocess.run(
        [sys.executable, "-m", "mobile", "--demo", "-v", "--store", str(store), "--port", str(free_port()),
         "--screenshots", str(tmp_path / "shots")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stderr[-3000:]
    logged = [("stdout", result.stdout), ("stderr", result.stderr)]
    for path in list(tmp_path.rglob("*.log")) + list(tmp_path.rglob("*.txt")) + list(kivy_home.rglob("*")):
        if path.is_file():
            logged.append((str(path), path.read_text("utf-8", errors="replace")))
    assert sum(len(text) for _, text in logged) > 2000  # debug logging really was on
    assert "DEBUG" in result.stderr
    with open_store_file(store) as s:
        patients = s.find_patients("")
        counts = s.outbox_counts()
    assert patients and counts["sent"] + counts["pending"] >= 1  # a session was recorded (and synced)
    leaks = [(where, needle) for patient in patients for needle in needles(patient) for where, text in logged
             if needle.casefold() in text.casefold()]
    assert leaks == []
