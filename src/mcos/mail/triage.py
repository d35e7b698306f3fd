# TEMPORARY local stand-in until the corpus branch lands; not committed.
from mcos.mail.message import MailItem

TRIAGE_GUIDE = "(guide)"


def untrusted(item: MailItem, *, id: int | str) -> str:
    return f"<mail {id}>\nFrom: {item.sender}\nSubject: {item.subject}\n\n{item.text}\n</mail>"
