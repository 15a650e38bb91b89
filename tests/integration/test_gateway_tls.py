"""`assay serve --tls-cert --tls-key`: TLS 1.2 and later only."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.gateway_helpers import init_data_dir
from tests.helpers import run_cli, running_server


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def _context(cert: Path, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    if maximum is not None:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = maximum
        context.set_ciphers("ALL:@SECLEVEL=0")
    return context


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_serves_1_2_and_later_only(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path)
    cert, key = _self_signed(tmp_path)
    with running_server(data.path, env=data.env, extra=("--tls-cert", str(cert), "--tls-key", str(key))) as base:
        url = base.replace("http://", "https://") + "/readyz"
        assert httpx.get(url, verify=_context(cert), timeout=30).status_code == 200
        assert httpx.get(url, verify=_context(cert, ssl.TLSVersion.TLSv1_2), timeout=30).status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, verify=_context(cert, ssl.TLSVersion.TLSv1_1), timeout=30)
        with pytest.raises(httpx.HTTPError):
            httpx.get(base + "/readyz", timeout=30)  # plain HTTP is not served


def test_tls_needs_both_files(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path)
    cert, _ = _self_signed(tmp_path)
    result = run_cli("serve", "--data-dir", str(data.path), "--tls-cert", str(cert), env=data.env)
    assert result.exit_code == 2
    assert "--tls-key" in result.stderr
