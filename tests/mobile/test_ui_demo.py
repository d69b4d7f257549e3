"""The demo entry point (`python -m mobile --demo --screenshots DIR`) in its own process: one full session (oximeter,
blood pressure, temperature) played by itself, a screenshot per screen at tablet size, the session saved and waiting in the outbox (offline)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(90)
def test_demo_plays_a_session_and_saves_screenshots(tmp_path):
    from PIL import Image

    shots = tmp_path / "shots"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCFG_")}  # the app's own window size
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "mobile", "--demo", "--offline", "--store", str(tmp_path / "relais.db"),
         "--screenshots", str(shots)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=80)
    assert result.returncode == 0, result.stderr[-3000:]
    names = sorted(p.name for p in shots.glob("*.png"))
    assert names == ["01-site-setup.png", "02-patients.png", "03-new-patient.png", "04-session-start.png",
                     "05-measure.png", "06-review-oximeter.png", "07-review-blood-pressure.png",
                     "08-review-thermometer.png", "09-measure-done.png", "10-vitals-news2.png",
                     "11-teleconsult.png", "12-summary.png", "13-saved.png"]
    for path in shots.glob("*.png"):
        image = Image.open(path).convert("RGB")
        assert image.size == (1280, 800)
        assert len(image.getcolors(1 << 20)) > 50, f"{path.name} looks blank"
    from sync.store import open_store_file

    with open_store_file(tmp_path / "relais.db") as store:  # encrypted with the install key (RELAIS_KEYS)
        [patient] = store.find_patients("DÉMO")
        assert (patient["given_name"], patient["birth_date"]) == ("Jeanne", "1938-04-02")
        assert store.outbox_counts()["pending"] == 1  # one session, holding the three measurements
        from sync import outbox

        (entry,) = outbox.entries(store)
        # validated on an identity card: the tablet cannot qualify an identity (INSi), so no INS is typed or sent
        assert (patient["identity_status"], patient["identity_document"], patient["ins"]) == ("VALI", "CN", None)
        assert "fr-core-cs-mode-validation-identity" in entry.payload
        assert "1.2.250.1.213.1.4.11" not in entry.payload and "1.2.250.1.213.1.4.8" not in entry.payload
        assert '"valueCodeableConcept"' in entry.payload and "9279-1" in entry.payload  # ACVPU, respiration rate
