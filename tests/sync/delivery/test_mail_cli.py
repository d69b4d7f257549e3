"""The command line and the app's sync loop with secure mail: `configure --mssante-…` keeps the settings in the
encrypted store (the key never printed nor logged; a key that is not the certificate's refused, nothing saved);
`push` sends the waiting reports after the FHIR upload, once; `status` counts them; the app's loop sends them too."""
from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from sync.__main__ import main
from sync.background import SyncLoop
from sync.delivery import mail_outbox
from sync.delivery.mssante_settings import load_mssante_settings, save_mssante_settings
from sync.store import Store, open_app_store, open_store_file
from tests.support.servers import DevServer
from tests.support.smtp import SENDER
from tests.sync.delivery.mail_samples import GP, PATIENT, queue_report


@pytest.fixture
def app_store(tmp_path):
    """An encrypted store file, as on a tablet: (its path, its key file)."""
    path, key = tmp_path / "relais.db", tmp_path / "keys" / "store.key"
    open_app_store(path, key_path=key).close()
    return path, key


@pytest.fixture
def pem_files(tmp_path, mail_server):
    """The test server's client identity and CA as PEM files, plus a key that belongs to another certificate."""
    settings = mail_server.settings()
    files = {"cert": settings.cert_pem, "key": settings.key_pem, "ca": settings.ca_pem,
             "other_key": mail_server.ca.issue_cert("other@site.mssante.fr").private_key_pem.bytes().decode()}
    for name, text in files.items():
        (tmp_path / f"{name}.pem").write_text(text)
    return {name: str(tmp_path / f"{name}.pem") for name in files} | {"key_text": settings.key_pem}


def configure(store_file, mail_server, pem_files, *, key: str = "key", verbose: bool = False) -> int:
    """`python -m sync configure` with the four MSSanté flags and the CA; `store_file`: (path, key file or None)."""
    path, key_file = store_file
    return main([*(["--verbose"] if verbose else []), "configure", "--db", str(path),
                 *(["--key-file", str(key_file)] if key_file else []),
                 "--mssante-smtp", f"localhost:{mail_server.port}", "--mssante-from", SENDER,
                 "--mssante-cert", pem_files["cert"], "--mssante-key", pem_files[key], "--ca-bundle", pem_files["ca"]])


def test_configure_keeps_the_settings_encrypted_and_never_shows_the_key(app_store, mail_server, pem_files, capsys,
                                                                        caplog):
    caplog.set_level(logging.DEBUG)
    assert configure(app_store, mail_server, pem_files, verbose=True) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"mssante": {"smtp": f"localhost:{mail_server.port}", "from": SENDER,
                                           "ca_bundle": True}}
    key_lines = [line for line in pem_files["key_text"].splitlines() if "-----" not in line]
    for text in (out, err, caplog.text):
        assert not any(line in text for line in key_lines)
    path, key_file = app_store
    for stored in path.parent.glob(path.name + "*"):  # the store and its journal: encrypted at rest
        assert not any(line.encode() in stored.read_bytes() for line in key_lines), stored
    with open_store_file(path, key_path=key_file) as store:
        settings = load_mssante_settings(store)
        assert (settings.host, settings.port, settings.sender) == ("localhost", mail_server.port, SENDER)
        assert settings.key_pem == pem_files["key_text"]
        audit = "".join(str(row) for row in store.query("SELECT * FROM audit_log"))
        assert not any(line in audit for line in key_lines)


def test_a_key_that_is_not_the_certificates_is_refused_and_nothing_saved(app_store, mail_server, pem_files, capsys):
    assert configure(app_store, mail_server, pem_files, key="other_key") == 2
    out, err = capsys.readouterr()
    assert out == "" and "does not belong to the client certificate" in err
    path, key_file = app_store
    with open_store_file(path, key_path=key_file) as store:
        assert load_mssante_settings(store) is None


def test_the_mssante_flags_go_together(app_store, capsys):
    path, key_file = app_store
    assert main(["configure", "--db", str(path), "--key-file", str(key_file), "--mssante-smtp", "h:587"]) == 2
    assert "also give --mssante-from, --mssante-cert, --mssante-key" in capsys.readouterr().err


def test_push_sends_the_reports_after_the_fhir_upload_once(tmp_path, mail_server, pem_files, capsys):
    db = tmp_path / "plain.db"
    with Store(db) as store:
        queue_report(store)  # a closed session (its FHIR bundle) and two report messages
    assert main(["status", "--db", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)["reports"] == {"pending": 2, "sent": 0, "refused": 0}
    with DevServer(tmp_path / "server.db") as server:
        assert main(["push", "--server", server.url, "--db", str(db)]) == 1  # mail not configured: they wait
        out, err = capsys.readouterr()
        assert json.loads(out)["reports"] == {"sent": 0, "refused": 0, "waiting": 2, "not_configured": True}
        assert "secure mail (MSSanté) is not configured" in err
        assert mail_server.handler.messages() == []
        assert configure((db, None), mail_server, pem_files) == 0
        capsys.readouterr()
        assert main(["push", "--server", server.url, "--db", str(db)]) == 0
        out, err = capsys.readouterr()
        assert json.loads(out)["sent"] == 0  # the FHIR bundle went with the first push
        assert json.loads(out)["reports"] == {"sent": 2, "refused": 0, "waiting": 0, "not_configured": False}
        assert "2 sent, 0 refused, 0 waiting" in err
        assert main(["push", "--server", server.url, "--db", str(db)]) == 0
        capsys.readouterr()
    assert sorted(r.recipients for r in mail_server.handler.messages()) == sorted([(GP,), (PATIENT,)])
    assert main(["status", "--db", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)["reports"] == {"pending": 0, "sent": 2, "refused": 0}


async def test_the_app_sync_loop_sends_the_reports_after_its_upload(tmp_path, mail_server):
    path = tmp_path / "tablet.db"
    store = Store(path)
    queue_report(store, recipients=[("gp", GP)])
    settings = mail_server.settings()
    save_mssante_settings(store, smtp=settings.smtp, sender=settings.sender, cert_pem=settings.cert_pem,
                          key_pem=settings.key_pem, ca_pem=settings.ca_pem)
    with DevServer(tmp_path / "server.db") as server:
        loop = SyncLoop(path, server.url, interval_seconds=60)
        loop.start()
        try:
            deadline = time.monotonic() + 15
            while mail_outbox.counts(store)["sent"] == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await loop.stop()
    assert mail_outbox.counts(store) == {"pending": 0, "sent": 1, "refused": 0}
    assert loop.last_mail.sent == 1 and loop.last_result.sent == 1
    assert [r.recipients for r in mail_server.handler.messages()] == [(GP,)]
    store.close()


def test_seed_then_push_takes_each_report_to_its_residents_doctor(tmp_path, mail_server, pem_files, capsys):
    """The whole path from the command line: seeded sessions come with a médecin traitant (an address under the
    reserved .test domain), their reports are frozen at close, and one push delivers each once."""
    db = tmp_path / "plain.db"
    assert main(["seed", "--sessions", "3", "--db", str(db), "--seed", "5"]) == 0
    assert configure((db, None), mail_server, pem_files) == 0
    with DevServer(tmp_path / "server.db") as server:
        capsys.readouterr()
        assert main(["push", "--server", server.url, "--db", str(db)]) == 0
        out = json.loads(capsys.readouterr().out)
    assert (out["sent"], out["reports"]["sent"], out["reports"]["waiting"]) == (3, 3, 0)
    received = mail_server.handler.messages()
    assert len(received) == 3 and all(r.recipients[0].endswith("@medecin.mssante.test") for r in received)
    with Store(db) as store:
        remembered = {p["gp_mssante"] for p in store.query("SELECT gp_mssante FROM patients")}
        assert remembered == {r.recipients[0] for r in received}
