"""A throw-away PKI for one local cluster: a CA, the API server's serving certificate, client
certificates for each component and the admin, and the service-account signing key pair."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=30)

# client identities: file stem -> (common name, organisations)
CLIENTS = {
    "admin": ("kubernetes-admin", ["system:masters"]),
    "kube-controller-manager": ("system:kube-controller-manager", []),
    "kube-scheduler": ("system:kube-scheduler", []),
    # KWOK plays every kubelet: it updates nodes, leases and pod status across namespaces.
    "kwok": ("kwok-controller", ["system:masters"]),
}


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(path: Path, cert) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn: str, orgs=()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _sign(ca_cert, ca_key, subject, key, *, server_sans=None, client=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    usages = []
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                            content_commitment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=False, crl_sign=False,
                                            encipher_only=False, decipher_only=False), critical=True))
    if server_sans is not None:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = builder.add_extension(x509.SubjectAlternativeName(server_sans), critical=False)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def generate(pki_dir: Path, service_ip: str) -> dict[str, Path]:
    """Write every key and certificate into pki_dir and return their paths by role."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    pki_dir.chmod(0o700)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = _key()
    ca_name = _name("openvino-ovms-local-ca")
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                            content_commitment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    paths = {"ca.crt": pki_dir / "ca.crt", "ca.key": pki_dir / "ca.key"}
    _write_cert(paths["ca.crt"], ca_cert)
    _write_key(paths["ca.key"], ca_key)

    sans = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default",
                                      "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")]
    sans += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address(service_ip))]
    key = _key()
    _write_cert(pki_dir / "apiserver.crt", _sign(ca_cert, ca_key, _name("kube-apiserver"), key, server_sans=sans))
    _write_key(pki_dir / "apiserver.key", key)
    paths["apiserver.crt"], paths["apiserver.key"] = pki_dir / "apiserver.crt", pki_dir / "apiserver.key"

    # The API server's own client identity towards aggregated APIs/kubelets is not used here; the
    # components below each get a client certificate for their kubeconfig.
    for stem, (cn, orgs) in CLIENTS.items():
        key = _key()
        _write_cert(pki_dir / f"{stem}.crt", _sign(ca_cert, ca_key, _name(cn, orgs), key, client=True))
        _write_key(pki_dir / f"{stem}.key", key)
        paths[f"{stem}.crt"], paths[f"{stem}.key"] = pki_dir / f"{stem}.crt", pki_dir / f"{stem}.key"

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki_dir / "sa.key", sa_key)
    (pki_dir / "sa.pub").write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    paths["sa.key"], paths["sa.pub"] = pki_dir / "sa.key", pki_dir / "sa.pub"
    return paths
