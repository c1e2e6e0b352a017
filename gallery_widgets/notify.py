"""Email notifications, sent where SMTP is configured (SPEC P5: a failed scan is mailed
to the publisher as well as shown in the gallery).

Configuration comes from the environment (``SmtpSettings.from_env``); without
``GALLERY_SMTP_HOST`` the gallery sends no email at all.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from .errors import InvalidInput

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
_IMPLICIT_TLS_PORT = 465  # SMTPS: TLS from the first byte, not STARTTLS
_MAX_LISTED = 200  # findings listed in one email; the gallery notification has them all


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send email."""

    host: str
    port: int = 25
    sender: str = "gallery@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # kept out of reprs, logs and tracebacks
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        """Settings from GALLERY_SMTP_HOST (required, else None), GALLERY_SMTP_PORT, GALLERY_SMTP_FROM,
        GALLERY_SMTP_USER, GALLERY_SMTP_PASSWORD and GALLERY_SMTP_STARTTLS ("1"/"true" or "0"/"false").

        Raises:
            InvalidInput: a port that is not a number from 1 to 65535, or a STARTTLS value that is
                neither true nor false (a typo must not silently send a password in clear text).
        """
        host = os.environ.get("GALLERY_SMTP_HOST", "").strip()
        if not host:
            return None
        port_text = os.environ.get("GALLERY_SMTP_PORT", "").strip() or "25"
        if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InvalidInput(f"GALLERY_SMTP_PORT={port_text!r} is not a port; use a number such as 25, 587 or 465.")
        starttls_text = os.environ.get("GALLERY_SMTP_STARTTLS", "").strip().lower()
        if starttls_text not in _TRUE | _FALSE:
            raise InvalidInput(f"GALLERY_SMTP_STARTTLS={starttls_text!r} is not understood; use 1/true or 0/false.")
        return cls(
            host=host,
            port=int(port_text),
            sender=os.environ.get("GALLERY_SMTP_FROM", "").strip() or cls.sender,
            username=os.environ.get("GALLERY_SMTP_USER") or None,
            password=os.environ.get("GALLERY_SMTP_PASSWORD") or None,
            starttls=starttls_text in _TRUE,
        )


def send_email(settings: SmtpSettings, to: str, subject: str, body: str) -> None:
    """Send one plain-text email. With ``starttls`` the server's certificate is verified;
    port 465 speaks TLS from the start (SMTPS).

    Raises:
        InvalidInput: ``to`` is not one email address, or ``to``/``subject`` hold a line break.
        OSError: the server cannot be reached (refused, timed out, TLS failure: ssl.SSLError).
        smtplib.SMTPException: the server refused the login, the sender or the recipient.
    """
    for name, value in (("to", to), ("subject", subject)):
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            raise InvalidInput(f"The email {name} must be one line of text; got {value!r}.")
    if to.count("@") != 1 or "," in to or " " in to.strip():
        raise InvalidInput(f"{to!r} is not one email address; give it as name@example.org.")
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to.strip()
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    # The domain is given so make_msgid does not ask DNS for this machine's name.
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or "localhost")
    message.set_content(body)

    if settings.port == _IMPLICIT_TLS_PORT:
        connection = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
        )
    else:
        connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with connection as smtp:
        if settings.starttls and settings.port != _IMPLICIT_TLS_PORT:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def scan_report(title: str, kind: str, version: str, findings) -> tuple[str, str]:
    """(subject, body) of the "publish failed: security scan" email (SPEC P5).

    ``findings`` are ``gallery_widgets.scan.Finding``s; the high ones are listed first.
    """
    findings = list(findings)
    high = [f for f in findings if f.severity == "high"]
    other = [f for f in findings if f.severity != "high"]
    name = " ".join(str(title).split())  # one line, whatever the title holds
    subject = f'Publish failed: security scan of {kind} "{name}" {version}'
    lines = [
        f'Your {kind} "{name}" version {version} was not published: the security scan found '
        f"{len(high)} high-severity problem{'s' if len(high) != 1 else ''}. Nothing of this publish was kept "
        "in the gallery.",
        "",
        "Problems that block the publish:",
        *_listed(high),
    ]
    if other:
        lines += ["", "Other findings (they do not block a publish, but please check them):", *_listed(other)]
    lines += [
        "",
        "What to do: fix or remove what is named above — rewrite the flagged code, save model weights as",
        "tensors or arrays (safetensors, .npy) instead of pickled objects, and leave archives with unsafe",
        "paths, links or oversized contents out of the source — then publish again. Each finding reads",
        "file:line [severity rule] message.",
    ]
    return subject, "\n".join(lines) + "\n"


def _listed(findings) -> list[str]:
    shown = [f"  {finding}" for finding in findings[:_MAX_LISTED]]
    if len(findings) > _MAX_LISTED:
        shown.append(f"  ... and {len(findings) - _MAX_LISTED} more (see your notifications in the gallery)")
    return shown


__all__ = ["SmtpSettings", "send_email", "scan_report"]
