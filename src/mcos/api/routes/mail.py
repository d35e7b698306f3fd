"""/api/v1/mail: what runners read from mailboxes, triage, the digest, drafts and sending."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.params import AfterSeq
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.mail import (
    Digest,
    DigestList,
    Draft,
    DraftList,
    Mail,
    MailAccountList,
    MailFailure,
    MailList,
    MailSynced,
    Triaged,
)
from mcos.fleet.mail import NAME_PATTERN, Category
from mcos.mail.schemas import (
    DigestIn,
    DraftIn,
    SendFailedIn,
    SentIn,
    SyncFailedIn,
    SyncIn,
    TriageIn,
)
from mcos.services import mail, mail_drafts, mail_triage

router = APIRouter(prefix="/api/v1/mail", tags=["mail"])
AccountName = Annotated[str, Path(pattern=NAME_PATTERN)]
RowPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get(
    "/accounts",
    response_model=MailAccountList,
    responses=errors(),
    summary="Mail accounts: owner, what it may do, last sync, failures",
)
async def list_accounts(store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    items = await store.read(mail.list_accounts, store.fleet, principal)
    return JSON({"accounts": items})


@router.post(
    "/accounts/{account}/sync",
    response_model=MailSynced,
    responses=errors(404),
    summary="Report new mail read from an account, with the cursor after it (its owner's runner)",
)
async def record_sync(
    account: AccountName, body: SyncIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    result = await store.write(mail.record_sync, store.fleet, principal, account, body)
    return JSON(result)


@router.post(
    "/accounts/{account}/failed",
    response_model=MailFailure,
    responses=errors(404),
    summary="Report that an account could not be read (shown on its owner's card)",
)
async def record_failure(
    account: AccountName, body: SyncFailedIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    view = await store.write(mail.record_sync_failure, store.fleet, principal, account, body)
    return JSON(view)


@router.get(
    "/messages",
    response_model=MailList,
    responses=errors(),
    summary="Mail the caller may read, newest first",
)
async def list_mail(
    store: CurrentStore,
    principal: CurrentPrincipal,
    account: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    status: Literal["all", "untriaged", "triaged", "undigested"] = "all",
    thread: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    category: Category | None = None,
    after_id: AfterSeq = 0,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> JSON:
    items = await store.read(
        lambda conn: mail.list_mail(
            conn,
            store.fleet,
            principal,
            account=account,
            status=status,
            thread=thread,
            category=category,
            after_id=after_id,
            limit=limit,
        )
    )
    return JSON({"messages": items})


@router.get(
    "/messages/{mail_id}",
    response_model=Mail,
    responses=errors(404),
    summary="One mail, whole (its text is the sender's: untrusted)",
)
async def get_mail(mail_id: RowPath, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    return JSON(await store.read(mail.get_mail, store.fleet, principal, mail_id))


@router.post(
    "/triage",
    response_model=Triaged,
    responses=errors(404),
    summary="Classify mail; the fleet file's rules override the verdict",
)
async def triage(body: TriageIn, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    return JSON(await store.write(mail_triage.record_triage, store.fleet, principal, body))


@router.post(
    "/digests",
    response_model=Digest,
    responses=errors(404),
    status_code=201,
    summary="Write the digest of the mail not in one yet",
)
async def write_digest(body: DigestIn, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    view = await store.write(mail_triage.write_digest, store.fleet, principal, body)
    return JSON(view, status_code=201)


@router.get(
    "/digests", response_model=DigestList, responses=errors(), summary="Digests, newest first"
)
async def list_digests(
    store: CurrentStore,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=365)] = 30,
) -> JSON:
    items = await store.read(mail_triage.list_digests, principal, limit)
    return JSON({"digests": items})


@router.get(
    "/digests/{digest_id}",
    response_model=Digest,
    responses=errors(404),
    summary="One digest, as Markdown",
)
async def get_digest(digest_id: RowPath, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    return JSON(await store.read(mail_triage.get_digest, principal, digest_id))


@router.post(
    "/drafts",
    response_model=Draft,
    responses=errors(404),
    status_code=201,
    summary="Store a draft (never edited: a change is new)",
)
async def create_draft(body: DraftIn, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    view = await store.write(mail_drafts.create_draft, store.fleet, principal, body)
    return JSON(view, status_code=201)


@router.get("/drafts", response_model=DraftList, responses=errors(), summary="Drafts, newest first")
async def list_drafts(
    store: CurrentStore,
    principal: CurrentPrincipal,
    status: Literal["draft", "sent", "failed"] | None = None,
) -> JSON:
    items = await store.read(mail_drafts.list_drafts, store.fleet, principal, status)
    return JSON({"drafts": items})


@router.get(
    "/drafts/{draft_id}",
    response_model=Draft,
    responses=errors(404),
    summary="One draft, with the hash an email.send must name",
)
async def get_draft(draft_id: RowPath, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    return JSON(await store.read(mail_drafts.get_draft, store.fleet, principal, draft_id))


@router.post(
    "/drafts/{draft_id}/sent",
    response_model=Draft,
    responses=errors(404, 409),
    summary="Report a draft sent, as approved",
)
async def record_sent(
    draft_id: RowPath, body: SentIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    view = await store.write(mail_drafts.record_sent, store.fleet, principal, draft_id, body)
    return JSON(view)


@router.post(
    "/drafts/{draft_id}/failed",
    response_model=Draft,
    responses=errors(404, 409),
    summary="Report that sending a draft failed",
)
async def record_send_failed(
    draft_id: RowPath, body: SendFailedIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    view = await store.write(mail_drafts.record_send_failed, store.fleet, principal, draft_id, body)
    return JSON(view)
