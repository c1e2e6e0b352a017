"""SPEC P5: the failed-scan email, sent to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest import SmtpInbox

from gallery_widgets.notify import SmtpSettings, scan_report, send_email
from gallery_widgets.scan import Finding


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """Start a real SMTP server on 127.0.0.1; yields (inbox, port, start) for servers with options."""
    started = []

    def start(**options):
        inbox = SmtpInbox()
        port = _free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="gallery-test", **options)
        controller.start()
        started.append(controller)
        return inbox, port

    yield start
    for controller in started:
        controller.stop()


FINDINGS = (
    Finding("train.py", 12, "B602", "high", "subprocess call with shell=True identified."),
    Finding("model.pkl", None, "pickle-global", "high", "the pickle imports os.system (byte 0)."),
    Finding("train.py", 1, "B404", "low", "Consider possible security implications of subprocess."),
)


def test_p5_scan_report_email_arrives_with_subject_body_and_recipient(smtp_server):
    inbox, port = smtp_server()
    subject, body = scan_report("Churn forecaster", "algorithm", "1.2.0", FINDINGS)
    settings = SmtpSettings(host="127.0.0.1", port=port, sender="gallery@example.org")

    send_email(settings, "alice@example.org", subject, body)

    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "gallery@example.org"
    assert envelope.rcpt_tos == ["alice@example.org"]
    message = inbox.messages()[0]
    assert message["Subject"] == 'Publish failed: security scan of algorithm "Churn forecaster" 1.2.0'
    assert message["To"] == "alice@example.org" and message["From"] == "gallery@example.org"
    assert message["Message-ID"] and message["Date"]
    text = message.get_content()
    assert "train.py:12 [high B602] subprocess call with shell=True identified." in text
    assert "model.pkl [high pickle-global] the pickle imports os.system (byte 0)." in text
    assert "train.py:1 [low B404]" in text
    assert "What to do" in text


def test_p5_scan_report_lists_blocking_findings_first_and_says_nothing_was_kept():
    subject, body = scan_report("Net\nwith a newline", "model", "2.0.0", FINDINGS)
    assert "\n" not in subject and '"Net with a newline"' in subject
    assert "found 2 high-severity problems" in body and "Nothing of this publish was kept" in body
    blocking_part, other_part = body.split("Other findings")
    assert "[high B602]" in blocking_part and "[high pickle-global]" in blocking_part
    assert "[low B404]" in other_part and "[low B404]" not in blocking_part


def test_p5_scan_report_of_many_findings_stays_readable():
    many = [Finding(f"f{i}.py", 1, "B602", "high", "shell") for i in range(250)]
    _, body = scan_report("x", "algorithm", "1.0.0", many)
    assert "f199.py:1" in body and "f200.py:1" not in body and "and 50 more" in body


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
def test_p5_email_login_reaches_the_server(smtp_server):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        if auth_data.password == b"s3cret":
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # handled=False: the server answers 535

    inbox, port = smtp_server(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    settings = SmtpSettings(host="127.0.0.1", port=port, username="gallery", password="s3cret")
    send_email(settings, "bob@example.org", "hello", "body")
    assert logins == [(b"gallery", b"s3cret")]
    assert inbox.messages()[0]["Subject"] == "hello"

    with pytest.raises(smtplib.SMTPAuthenticationError):
        send_email(SmtpSettings(host="127.0.0.1", port=port, username="gallery", password="wrong"),
                   "bob@example.org", "hello", "body")
    assert len(inbox.envelopes) == 1


@pytest.fixture
def loopback_certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 (needs the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("the STARTTLS test needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_p5_email_starttls_verifies_the_server_certificate(smtp_server, loopback_certificate, monkeypatch):
    cert, key = loopback_certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    inbox, port = smtp_server(tls_context=server_tls, require_starttls=True)
    settings = SmtpSettings(host="127.0.0.1", port=port, starttls=True)

    # Not trusted yet: the self-signed certificate must be refused.
    monkeypatch.setenv("SSL_CERT_FILE", str(key.parent / "no-such-bundle.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(key.parent / "no-such-dir"))
    with pytest.raises(ssl.SSLCertVerificationError):
        send_email(settings, "carol@example.org", "over TLS", "secret body")
    assert inbox.envelopes == []

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    send_email(settings, "carol@example.org", "over TLS", "secret body")
    assert inbox.messages()[0]["Subject"] == "over TLS"

    # A server that insists on STARTTLS refuses a client configured without it.
    with pytest.raises(smtplib.SMTPException):
        send_email(SmtpSettings(host="127.0.0.1", port=port), "carol@example.org", "plain", "body")
    assert len(inbox.envelopes) == 1


def test_p5_email_to_an_unreachable_server_raises_oserror():
    settings = SmtpSettings(host="127.0.0.1", port=_free_port(), timeout=2.0)
    with pytest.raises(OSError):
        send_email(settings, "dave@example.org", "s", "b")


@pytest.mark.parametrize("to, subject", [
    ("eve@example.org\r\nBcc: all@example.org", "s"),
    ("eve@example.org", "s\nBcc: all@example.org"),
    ("not-an-address", "s"),
    ("a@example.org, b@example.org", "s"),
])
def test_p5_email_refuses_header_injection_and_bad_addresses(to, subject, smtp_server):
    inbox, port = smtp_server()
    with pytest.raises(ValueError):
        send_email(SmtpSettings(host="127.0.0.1", port=port), to, subject, "b")
    assert inbox.envelopes == []


def test_p5_smtp_settings_from_env(monkeypatch):
    for name in ("HOST", "PORT", "FROM", "USER", "PASSWORD", "STARTTLS"):
        monkeypatch.delenv(f"GALLERY_SMTP_{name}", raising=False)
    assert SmtpSettings.from_env() is None

    monkeypatch.setenv("GALLERY_SMTP_HOST", "mail.example.org")
    assert SmtpSettings.from_env() == SmtpSettings(host="mail.example.org")

    monkeypatch.setenv("GALLERY_SMTP_PORT", "587")
    monkeypatch.setenv("GALLERY_SMTP_FROM", "ml-gallery@example.org")
    monkeypatch.setenv("GALLERY_SMTP_USER", "gallery")
    monkeypatch.setenv("GALLERY_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("GALLERY_SMTP_STARTTLS", "TRUE")
    settings = SmtpSettings.from_env()
    assert settings == SmtpSettings(host="mail.example.org", port=587, sender="ml-gallery@example.org",
                                    username="gallery", password="s3cret", starttls=True)
    assert "s3cret" not in repr(settings)

    monkeypatch.setenv("GALLERY_SMTP_STARTTLS", "ture")
    with pytest.raises(ValueError, match="GALLERY_SMTP_STARTTLS"):
        SmtpSettings.from_env()
    monkeypatch.setenv("GALLERY_SMTP_STARTTLS", "0")
    monkeypatch.setenv("GALLERY_SMTP_PORT", "smtp")
    with pytest.raises(ValueError, match="GALLERY_SMTP_PORT"):
        SmtpSettings.from_env()
