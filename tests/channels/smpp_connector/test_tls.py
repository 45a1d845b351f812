"""TLS to the SMSC: the connector verifies the SMSC's certificate against a given CA file."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.channels.smpp.smpp34_process import requires_smpp34
from tests.channels.smpp_connector.conftest import SmppStack, smpp_connector
from tests.channels.smpp_connector.smsc_process import SmscProcess
from tests.support import wait_until

pytestmark = requires_smpp34


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smsc.test")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365 * 30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smsc.pem", directory / "smsc.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_a_message_goes_over_tls_to_a_verified_smsc(
    smsc_factory: Callable[..., SmscProcess],
    stack_factory: Callable[..., SmppStack],
    tmp_path: Path,
) -> None:
    cert, key = _self_signed(tmp_path)
    smsc = smsc_factory(tls={"cert": str(cert), "key": str(key)})
    stack = stack_factory(
        (
            smpp_connector("op1", smsc.port, tls=True, tls_ca_file=str(cert)),
            smpp_connector("untrusted", smsc.port, tls=True),
        )
    )
    message_id = stack.send("+31612345678", "over TLS")
    wait_until(lambda: stack.message(message_id)["status"] == "delivered", message="delivered")
    # Without the CA, the certificate is refused: no bind, the reason in the state.
    wait_until(lambda: stack.status_of("untrusted")["bind_failures"] >= 1, message="refused")
    status = stack.status_of("untrusted")
    assert status["bound"] is False
    assert "CERTIFICATE_VERIFY_FAILED" in str(status["last_error"])
