"""The MSSanté settings: checked before anything is saved (host:port, the sender's address, a certificate and the
key that belongs to it, a readable CA bundle), kept in the store together, traced by name only, the key never in a
repr."""
from __future__ import annotations

import pytest
import trustme

from sync.delivery.mssante_settings import (SETTING_KEYS, MssanteSettingsError, load_mssante_settings,
                                            save_mssante_settings)
from sync.store.settings import get_setting
from tests.support.smtp import SENDER


@pytest.fixture(scope="module")
def identity():
    ca = trustme.CA()
    leaf = ca.issue_cert(SENDER)
    other = ca.issue_cert("someone-else@site.mssante.fr")
    return {"cert_pem": leaf.cert_chain_pems[0].bytes().decode(), "key_pem": leaf.private_key_pem.bytes().decode(),
            "other_key": other.private_key_pem.bytes().decode(), "ca_pem": ca.cert_pem.bytes().decode()}


def save(store, identity, **changes):
    values = dict(smtp="smtp.mssante.example.org:587", sender=SENDER, cert_pem=identity["cert_pem"],
                  key_pem=identity["key_pem"], ca_pem=identity["ca_pem"])
    values.update(changes)
    return save_mssante_settings(store, **values)


def test_saved_settings_load_back_and_the_repr_hides_the_key(store, identity):
    assert load_mssante_settings(store) is None  # not configured: nothing will be sent
    saved = save(store, identity)
    loaded = load_mssante_settings(store)
    assert loaded == saved
    assert (loaded.host, loaded.port, loaded.sender, loaded.ca_pem) == ("smtp.mssante.example.org", 587, SENDER,
                                                                        identity["ca_pem"])
    assert get_setting(store, "mssante_from") == SENDER  # the name the app's screens read
    key_body = identity["key_pem"].splitlines()[1]
    assert key_body not in repr(loaded) and key_body not in str(loaded)
    traced = store.query("SELECT subject_id, detail FROM audit_log WHERE subject_kind = 'setting'")
    assert {row["subject_id"] for row in traced} == set(SETTING_KEYS)
    assert all(row["detail"] is None for row in traced)


def test_without_a_ca_bundle_the_system_trust_is_used(store, identity):
    save(store, identity, ca_pem=None)
    assert load_mssante_settings(store).ca_pem is None


@pytest.mark.parametrize("change, code", [
    ({"smtp": "smtp.mssante.example.org"}, "mssante.smtp.invalid"),
    ({"smtp": "smtp.mssante.example.org:0"}, "mssante.smtp.invalid"),
    ({"smtp": "smtp mssante:587"}, "mssante.smtp.invalid"),
    ({"sender": "not an address"}, "mssante.from.invalid"),
    ({"sender": "Relais <app@site.mssante.fr>"}, "mssante.from.invalid"),
    ({"cert_pem": "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"}, "mssante.cert.unreadable"),
    ({"key_pem": "not a key"}, "mssante.key.unreadable"),
    ({"key_pem": "other_key"}, "mssante.key.mismatch"),
    ({"ca_pem": "garbage"}, "mssante.ca.unreadable"),
])
def test_a_setting_that_cannot_work_is_refused_and_the_previous_ones_stay(store, identity, change, code):
    save(store, identity)
    before = {key: get_setting(store, key) for key in SETTING_KEYS}
    change = {k: identity[v] if v in identity else v for k, v in change.items()}
    with pytest.raises(MssanteSettingsError) as refused:  # with a new host too: it must not be saved either
        save(store, identity, **{"smtp": "other.example.org:465", **change})
    assert refused.value.code == code
    assert {key: get_setting(store, key) for key in SETTING_KEYS} == before
