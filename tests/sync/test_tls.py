"""TLS to the server: verification is always on; a server whose certificate comes from a CA the tablet was not
told about is refused (and nothing is lost); configuring that CA makes it work; the tablet's token is kept in the
encrypted store, never in clear on disk."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync import outbox, server_config
from sync.seed import seed_sessions
from sync.server import tablets
from sync.server.handler import make_server
from sync.server.tablets import TabletRegistry
from sync.store import open_app_store
from sync.uploader import Uploader


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(tmp_path, *, host: str = "127.0.0.1"):
    """A private CA and a server certificate it signed for `host`: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Relais test CA")).issuer_name(_name("Relais test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        san = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    cert = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp_path / f"ca-{host}.pem", tmp_path / f"cert-{host}.pem", tmp_path / f"key-{host}.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def https_server(tmp_path, monkeypatch):
    """The development server behind TLS with a certificate from a private CA; tablets need their token."""
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(variable, raising=False)  # only what the test configures is trusted
    ca, cert, key = _issue(tmp_path)
    registry = tmp_path / "tablets.json"
    token = tablets.add_tablet(registry, "ehpad-1", ["000000018"])
    server = make_server("127.0.0.1", 0, tmp_path / "server.db", registry=TabletRegistry.load(registry))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/fhir", str(ca), token
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def store(tmp_path):
    """Overrides the shared store (tests/sync/conftest.py): the app's encrypted store, two sessions seeded."""
    with open_app_store(tmp_path / "relais.db", key_path=tmp_path / "keys" / "store.key") as s:
        seed_sessions(s, 2, seed=4)
        yield s


def test_a_server_signed_by_an_unknown_ca_is_refused_and_nothing_is_lost(https_server, store):
    url, _, token = https_server
    result = Uploader(url, token=token, connect_timeout=2, read_timeout=5).push(store)
    assert (result.sent, result.stopped) == (0, "tls")
    assert store.outbox_counts()["pending"] == 2
    assert all(outbox.read_error(e.last_error) == ("upload.tls", {}) for e in outbox.entries(store))


def test_the_configured_ca_is_trusted(https_server, store):
    url, ca, token = https_server
    result = Uploader(url, token=token, ca_bundle=ca).push(store, ignore_backoff=True)
    assert (result.sent, result.remaining) == (2, 0)


def test_a_certificate_for_another_name_is_refused_even_from_the_configured_ca(https_server, store, tmp_path):
    url, ca, token = https_server
    result = Uploader(url.replace("127.0.0.1", "localhost"), token=token, ca_bundle=ca).push(store)
    assert (result.sent, result.stopped) == (0, "tls")  # the certificate names 127.0.0.1, not localhost


def test_verification_cannot_be_turned_off_and_plain_http_stays_on_this_machine(tmp_path):
    with pytest.raises(TypeError, match="cannot be disabled"):
        Uploader("https://fhir.example.org/fhir", ca_bundle=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="HTTPS"):
        Uploader("http://fhir.example.org/fhir")
    assert Uploader("http://127.0.0.1:8765/fhir").verify is True
    with open_app_store(tmp_path / "relais.db", key_path=tmp_path / "store.key") as store:
        with pytest.raises(server_config.ServerConfigError, match="HTTPS"):
            server_config.save(store, url="http://fhir.example.org/fhir", token="t")
        with pytest.raises(server_config.ServerConfigError, match="CA file"):
            server_config.save(store, url="https://fhir.example.org/fhir", ca_bundle=tmp_path / "missing.pem")


def test_configure_keeps_the_token_encrypted_and_push_uses_it(https_server, tmp_path, sync_cli):
    url, ca, token = https_server
    home = tmp_path / "home"
    env = {"RELAIS_HOME": str(home), "RELAIS_KEYS": str(tmp_path / "keys"), "PATH": "/usr/bin:/bin"}
    # each command a real process, forked from an interpreter that imported the commands once
    seeded = sync_cli("seed", "--sessions", "1", env=env)
    assert seeded.returncode == 0, seeded.stderr
    # configured without the CA first: the push is refused, nothing lost
    configure = ["configure", "--server", url, "--token-stdin"]
    done = sync_cli(*configure, input=token + "\n", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"server": url, "token": True, "ca_bundle": None, "max_entries": None}
    push = sync_cli("push", env=env)
    assert push.returncode == 1 and json.loads(push.stdout)["stopped"] == "tls"
    done = sync_cli(*configure, "--ca-bundle", ca, input=token + "\n", env=env)
    assert done.returncode == 0, done.stderr
    push = sync_cli("push", env=env)
    pushed = json.loads(push.stdout)
    assert (pushed["sent"], pushed["remaining"]) == (1, 0), push.stdout + push.stderr
    # the seeded session's report waits for secure mail, which this tablet does not have: said, and exit 1
    assert push.returncode == 1 and pushed["reports"]["not_configured"], push.stdout + push.stderr
    # the token is in the store, which is encrypted: not in clear anywhere under the app's home
    for path in home.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    for stream in (done.stdout, done.stderr, push.stdout, push.stderr):
        assert token not in stream
    with open_app_store(home / "relais.db", key_path=tmp_path / "keys" / "store.key") as store:
        assert server_config.load(store).token == token
        assert token not in repr(server_config.load(store))
        assert token not in "".join(str(r) for r in store.db.query("SELECT * FROM audit_log"))
