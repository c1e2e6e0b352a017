"""The agreements a user accepts before subscribing or publishing (SPEC SUB1, P1)."""

from __future__ import annotations

from ..entities import Agreement

DATA_SECURITY = Agreement(
    "data-security-privacy-risk",
    "1.0",
    "Data Security and Privacy Risk notice",
    "This asset was not published by the gallery operator. Its code runs with your permissions and can "
    "read the data you give it. Review its description, code and constraints before you use it with "
    "sensitive data; the publisher, not the gallery, is responsible for what it does.",
)
SERVICE_AGREEMENT = Agreement(
    "service-agreement",
    "1.0",
    "Service Agreement of the gallery",
    "Assets are shared free of charge within their free-duration quota. Compute used to run them is your "
    "own. The gallery may discontinue or remove assets that break these terms.",
)
PUBLISHING_AGREEMENT = Agreement(
    "publishing-agreement",
    "1.0",
    "Agreement for Publishing Digital Contents",
    "You confirm you have the right to share what you publish, that it contains no malicious code and no "
    "personal data you may not share, and that the gallery may scan, list and distribute it to the users "
    "you choose.",
)
CONSTRAINTS_ID = "version-constraints"

SUBSCRIBE_AGREEMENTS = (DATA_SECURITY, SERVICE_AGREEMENT)
ALL = {a.id: a for a in (DATA_SECURITY, SERVICE_AGREEMENT, PUBLISHING_AGREEMENT)}


def agreement_text(agreement_id: str) -> str:
    """The title and text of an agreement, to read before accepting it."""
    from ..errors import InvalidInput

    if agreement_id not in ALL:
        raise InvalidInput(f"Unknown agreement {agreement_id!r}; known: {', '.join(ALL)}.")
    agreement = ALL[agreement_id]
    return f"{agreement.title} (version {agreement.version})\n\n{agreement.text}"
