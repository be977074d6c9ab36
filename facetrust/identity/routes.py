"""HTTP routes of the identity domain (thin: validate, call the service, map the result)."""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import (
    ClientInfo,
    app_keyring,
    get_session,
    keeping_refusal_records,
    kyc_context,
    liveness_context,
    platform_client_info,
)
from facetrust.api.ratelimits import rate_limited
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity import adapters, kyc, lookup, operators, service
from facetrust.identity.models import BANK_CODE_MAX_ATTEMPTS, Account, Operator, Tenant
from facetrust.identity.schemas import (
    AccountCreate,
    AccountOut,
    BankCardAuthIn,
    BankCardChallengeOut,
    BankCodeIn,
    CreditSummaryOut,
    EvidenceIn,
    EvidenceOut,
    EvidenceTemplateOut,
    FaceAuthIn,
    FrozenOut,
    ManagedOperatorOut,
    MeOut,
    OperatorAccountOut,
    OperatorCreated,
    OperatorIn,
    OperatorOut,
    OperatorRoleIn,
    OperatorTokenOut,
    RealNameOut,
    ReleaseIn,
    RevealIn,
    RevealOut,
    TenantCreated,
    TenantIn,
    TenantOut,
    TokenOut,
)
from facetrust.identity.scope import Scope
from facetrust.identity.service import Principal
from facetrust.liveness.service import LivenessContext
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit, template_store

router = APIRouter(prefix="/v1", tags=["identity"])


def _out(account: Account) -> AccountOut:
    return AccountOut(
        account_id=account.id,
        platform_user_id=account.platform_user_id,
        mobile_masked=service.mask_mobile(account.mobile),
        status=account.status,
        created_at=account.created_at,
    )


@router.post("/accounts", status_code=201, response_model=AccountOut)
def register_account(
    body: AccountCreate, tenant: Tenant = Depends(auth.tenant), session: Session = Depends(get_session)
) -> AccountOut:
    """The platform's back end registers one of its users."""
    account = service.register_account(session, tenant, body.platform_user_id, body.mobile)
    session.commit()
    return _out(account)


@router.post(
    "/accounts/{platform_user_id}/tokens",
    status_code=201,
    response_model=TokenOut,
    dependencies=[rate_limited("auth", who=auth.tenant)],
)
def mint_token(
    platform_user_id: str,
    request: Request,
    tenant: Tenant = Depends(auth.tenant),
    session: Session = Depends(get_session),
    client: ClientInfo = Depends(platform_client_info),
) -> TokenOut:
    """The platform's back end mints a bearer token for its signed-in user: a login. It may pass the
    user's device and IP (``X-Device-Id``, ``X-Client-Ip``) for risk control; it vouches for them
    with its key, and the token is bound to that device."""
    ttl = dt.timedelta(seconds=request.app.state.settings.user_token_ttl_seconds)
    token, expires = service.mint_user_token(session, tenant, platform_user_id, ttl, client.device_id)
    account = service.find_account(session, tenant, platform_user_id)
    events.emit(
        session,
        EventIn(
            "login",
            account_id=account.id if account else None,
            device_id=client.device_id,
            ip=client.ip,
            data=client.vouched(),
        ),
    )
    session.commit()
    return TokenOut(token=token, expires_at=expires)


@router.get("/me", response_model=MeOut)
def me(request: Request, p: Principal = Depends(auth.user), session: Session = Depends(get_session)) -> MeOut:
    """The caller's own account (personal data masked); while it is frozen, since when and whether the
    automatic checks or an operator froze it (not the operator's own words); and how to reach support."""
    from facetrust.risk import engine as risk

    account = session.get(Account, p.account_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "the account no longer exists")
    frozen = None
    if account.status == "frozen":
        latest = risk.latest_freeze(session, account.id)
        by, since = latest if latest else (None, account.created_at)
        frozen = FrozenOut(since=since, cause="automatic_checks" if by == "risk-engine" else "review")
    return MeOut(
        **_out(account).model_dump(),
        frozen=frozen,
        support_contact=request.app.state.settings.support_contact,
        face_verified=template_store.held(session, account.id, "kyc"),
    )


@router.get(
    "/me/export",
    response_model=dict,
    dependencies=[rate_limited("export", who=auth.user)],
    responses={200: {"description": "The archive, as a JSON download (Content-Disposition: attachment)."}},
)
def export_my_data(
    request: Request, p: Principal = Depends(auth.user), session: Session = Depends(get_session)
) -> JSONResponse:
    """The caller's copy of everything held about them (PIPL Art. 45), as one versioned JSON
    document: account, consents, real-name decisions, face pay, payments, refunds, credit, risk
    refusals in plain words, and every read of their face templates. Never a template, an image or
    a full ID number (facetrust/identity/export.py). Rate-limited; the export itself is audited."""
    from facetrust.identity import export

    body = export.build(session, app_keyring(request), p.account_id)  # type: ignore[arg-type]
    session.commit()  # the audit record of the export
    day = body["generated_at"][:10]
    return JSONResponse(body, headers={"Content-Disposition": f'attachment; filename="facetrust-my-data-{day}.json"'})


def _source_fields(source: str) -> dict:
    """Who answered: the English text as stored, and its code (and bank) for the page's own words."""
    of = adapters.source_of(source)
    return {"source": source, "source_code": of.code, "source_bank": of.bank}


def _auth_out(r, for_operator: bool = False) -> RealNameOut:
    """The face match's score and threshold only for operators: the person matched sees the outcome."""
    return RealNameOut(
        authentication_id=r.id,
        method=r.method,
        outcome=r.outcome,
        reasons=json.loads(r.reasons),
        liveness=r.liveness,
        liveness_session_id=r.liveness_session_id,
        **_source_fields(r.source),
        model_id=r.model_id,
        calibration_id=r.calibration_id,
        score=r.score if for_operator else None,
        threshold=r.threshold if for_operator else None,
        created_at=r.created_at,
    )


def _account(session: Session, p: Principal) -> Account:
    account = session.get(Account, p.account_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "the account no longer exists")
    return account


@router.post(
    "/me/real-name/face",
    status_code=201,
    response_model=RealNameOut,
    dependencies=[rate_limited("face", who=auth.user)],
)
def real_name_face(
    body: FaceAuthIn,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: kyc.KycContext = Depends(kyc_context),
    live: LivenessContext = Depends(liveness_context),
) -> RealNameOut:
    """Real-name authentication by the live face of a passed liveness session (purpose
    `real_name`) compared with the authority's photo (kyc profile). A decided mismatch is stored
    and answered 422 `face_mismatch`."""
    with keeping_refusal_records(session):
        record = kyc.authenticate_face(
            session, ctx, live, _account(session, p), body.name, body.id_number, body.liveness_session_id
        )
    session.commit()
    if record.outcome != "passed":
        raise DomainError(
            ErrorCode.FACE_MISMATCH,
            "the selfie does not match the identity authority's photo",
            authentication_id=record.id,
        )
    return _auth_out(record)


@router.post(
    "/me/real-name/bank-card",
    status_code=202,
    response_model=BankCardChallengeOut,
    dependencies=[rate_limited("face", who=auth.user)],
)
def real_name_bank_card(
    body: BankCardAuthIn,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: kyc.KycContext = Depends(kyc_context),
) -> BankCardChallengeOut:
    """Bank-card authentication, step one: the bank checks the four elements (name, ID number,
    card, the mobile it holds for the card) and texts a one-time code to that mobile. Step two
    (`.../{challenge_id}/confirm`) completes it with the code."""
    with keeping_refusal_records(session):
        challenge = kyc.start_bank_card(
            session, ctx, _account(session, p), body.name, body.id_number, body.card_number, body.mobile
        )
    session.commit()
    return BankCardChallengeOut(
        challenge_id=challenge.id,
        status="code_sent",
        **_source_fields(challenge.source),
        expires_at=challenge.expires_at,
        max_attempts=BANK_CODE_MAX_ATTEMPTS,
    )


@router.post(
    "/me/real-name/bank-card/{challenge_id}/confirm",
    status_code=201,
    response_model=RealNameOut,
    dependencies=[rate_limited("face", who=auth.user)],
)
def real_name_bank_card_confirm(
    challenge_id: str,
    body: BankCodeIn,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: kyc.KycContext = Depends(kyc_context),
) -> RealNameOut:
    """Bank-card authentication, step two: the code the bank texted. A wrong code is 422
    `bank_code_wrong` with the attempts left; the fifth closes the verification."""
    with keeping_refusal_records(session):
        record = kyc.confirm_bank_card(session, ctx, _account(session, p), challenge_id, body.code)
    session.commit()
    return _auth_out(record)


@router.get("/me/real-name", response_model=list[RealNameOut])
def real_name_history(p: Principal = Depends(auth.user), session: Session = Depends(get_session)) -> list[RealNameOut]:
    """The caller's own authentication history, with each decision's reasons and versions."""
    return [_auth_out(r) for r in kyc.history(session, p.account_id)]


@router.delete("/me", response_model=dict)
def close_my_account(
    request: Request, p: Principal = Depends(auth.bound_user), session: Session = Depends(get_session)
) -> dict:
    """The user's deletion request: face templates and credentials are deleted now; real-name
    evidence is kept for the anti-money-laundering period and deleted when it ends."""
    from facetrust.identity import retention

    until = retention.close_account(session, _account(session, p), request.app.state.settings.aml_retention_years)
    session.commit()  # the face-pay gallery follows (facetrust/bootstrap.py)
    return {"status": "closed", "real_name_evidence_retained_until": until.isoformat()}


@router.delete("/me/real-name")
def delete_my_real_name_evidence(p: Principal = Depends(auth.user), session: Session = Depends(get_session)) -> None:
    """Deleting real-name evidence inside its retention period is refused with the date it ends."""
    from facetrust.identity import retention

    retention.refuse_evidence_deletion(session, _account(session, p))


@router.get(
    "/operator/accounts/{account_id}/real-name",
    response_model=list[RealNameOut],
    dependencies=[rate_limited("operator", who=auth.principal)],
)
def operator_real_name_history(
    account_id: str,
    op: Principal = Depends(auth.operator("compliance_officer", "admin")),
    session: Session = Depends(get_session),
) -> list[RealNameOut]:
    """Compliance look-up of an account's real-name decisions (no identity data; the read is
    audited with the operator's name)."""
    Scope.of(op).account(session, account_id)
    records = kyc.history(session, account_id)
    audit.append(
        session,
        actor=op.audit_name,
        action="real_name.lookup",
        subject=f"account:{account_id}",
        purpose="compliance",
        details={"records": len(records)},
    )
    session.commit()
    return [_auth_out(r, for_operator=True) for r in records]


@router.post(
    "/operator/accounts/{account_id}/real-name/evidence",
    response_model=EvidenceOut,
    dependencies=[rate_limited("operator", who=auth.principal)],
)
def operator_real_name_evidence(
    account_id: str,
    body: EvidenceIn,
    request: Request,
    op: Principal = Depends(auth.operator("compliance_officer")),
    session: Session = Depends(get_session),
) -> EvidenceOut:
    """The real-name evidence kept under anti-money-laundering rules, also after the account closed:
    the decisions and the sealed KYC templates (opened to prove them intact; digests only). A
    compliance officer's read, for a purpose and a reason, audited before the answer."""
    from facetrust.identity import retention

    account = Scope.of(op).account(session, account_id)
    records, templates, record = retention.read_evidence(
        session, app_keyring(request), account, op.audit_name, body.purpose, body.reason
    )
    session.commit()
    return EvidenceOut(
        account_id=account.id,
        account_status=account.status,
        records=[_auth_out(r) for r in records],
        templates=[EvidenceTemplateOut(**vars(t)) for t in templates],
        audit_seq=record.seq,
    )


@router.post(
    "/operator/accounts/{account_id}/real-name/release",
    response_model=dict,
    dependencies=[rate_limited("operator", who=auth.principal)],
)
def operator_release_real_name(
    account_id: str,
    body: ReleaseIn,
    op: Principal = Depends(auth.operator("compliance_officer", "admin")),
    session: Session = Depends(get_session),
) -> dict:
    """After reviewing an identity-change case: let the account prove another identity. The old
    records stay as evidence; the release is audited with the operator and the reason."""
    kyc.release_binding(session, Scope.of(op).account(session, account_id), op.audit_name, body.reason)
    session.commit()
    return {"status": "released"}


# --- the operator console: who is signed in, account lookup (masked) and reveal (audited) ---------

OPERATORS = ("risk_analyst", "compliance_officer", "admin")
REVEALERS = ("compliance_officer", "admin")


def _operator_account_out(v: lookup.AccountView) -> OperatorAccountOut:
    a = v.account
    credit = CreditSummaryOut(**vars(v.credit)) if v.credit else None
    return OperatorAccountOut(
        account_id=a.id,
        tenant_id=a.tenant_id,
        tenant_name=v.tenant_name,
        platform_user_id=a.platform_user_id,
        mobile_masked=v.mobile_masked,
        name_masked=v.name_masked,
        id_number_masked=v.id_number_masked,
        status=a.status,
        real_name=v.real_name,
        real_name_method=v.real_name_method,
        real_name_verified_at=v.real_name_verified_at,
        face_pay=v.face_pay,
        credit=credit,
        created_at=a.created_at,
        closed_at=a.closed_at,
    )


@router.get("/operator/me", response_model=OperatorOut)
def operator_me(op: Principal = Depends(auth.operator(*OPERATORS))) -> OperatorOut:
    """Who the console is signed in as: the operator's name, role and tenant (None: the platform)."""
    return OperatorOut(name=op.operator_name or "", role=op.role or "", tenant_id=op.tenant_id)


@router.get(
    "/operator/accounts",
    response_model=list[OperatorAccountOut],
    dependencies=[rate_limited("operator", who=auth.principal)],
)
def operator_find_accounts(
    request: Request,
    q: str = Query(
        min_length=1, max_length=128, description="an account id, platform user id, mobile or ID number (exact)"
    ),
    op: Principal = Depends(auth.operator(*OPERATORS)),
    session: Session = Depends(get_session),
) -> list[OperatorAccountOut]:
    """Accounts of the operator's tenant (every tenant's for a platform operator) matching the query exactly, personal data masked (mobile 138****5678,
    name 张*, ID number 1101**********0016); at most 20."""
    return [_operator_account_out(v) for v in lookup.search(session, app_keyring(request), q, Scope.of(op))]


@router.get(
    "/operator/accounts/{account_id}",
    response_model=OperatorAccountOut,
    dependencies=[rate_limited("operator", who=auth.principal)],
)
def operator_account(
    account_id: str,
    request: Request,
    op: Principal = Depends(auth.operator(*OPERATORS)),
    session: Session = Depends(get_session),
) -> OperatorAccountOut:
    """One account, masked: status, real-name status, face pay, credit."""
    return _operator_account_out(lookup.view(session, app_keyring(request), Scope.of(op).account(session, account_id)))


@router.post(
    "/operator/accounts/{account_id}/reveal",
    response_model=RevealOut,
    dependencies=[rate_limited("operator", who=auth.principal)],
)
def operator_reveal(
    account_id: str,
    body: RevealIn,
    request: Request,
    op: Principal = Depends(auth.operator(*REVEALERS)),
    session: Session = Depends(get_session),
) -> RevealOut:
    """The unmasked mobile, name and ID number, for a stated reason. The access is written to the
    audit log (operator, reason, fields shown; never the values) before the answer."""
    revealed = lookup.reveal(
        session, app_keyring(request), Scope.of(op).account(session, account_id), op.audit_name, body.reason
    )
    session.commit()
    return RevealOut(
        account_id=revealed.account_id,
        mobile=revealed.mobile,
        name=revealed.name,
        id_number=revealed.id_number,
        audit_seq=revealed.audit.seq,
    )


# --- admins: tenants and operators (facetrust/identity/operators.py) -------------------------------

ADMINS = ("admin",)


def _managed_out(o: Operator) -> ManagedOperatorOut:
    return ManagedOperatorOut(
        name=o.name,
        role=o.role,
        tenant_id=o.tenant_id,
        status=o.status,
        created_by=o.created_by,
        created_at=o.created_at,
    )


def _ttl(request: Request) -> dt.timedelta:
    return dt.timedelta(seconds=request.app.state.settings.operator_token_ttl_seconds)


@router.get("/operator/tenants", response_model=list[TenantOut])
def list_tenants(
    op: Principal = Depends(auth.operator(*ADMINS)), session: Session = Depends(get_session)
) -> list[TenantOut]:
    """Every tenant for a platform admin; a tenant admin's own."""
    return [
        TenantOut(tenant_id=t.id, name=t.name, created_at=t.created_at)
        for t in operators.tenants(session, Scope.of(op))
    ]


@router.post("/operator/tenants", status_code=201, response_model=TenantCreated)
def create_tenant_by_admin(
    body: TenantIn, op: Principal = Depends(auth.operator(*ADMINS)), session: Session = Depends(get_session)
) -> TenantCreated:
    """A new platform (tenant) and its API key, shown once; platform admins only. Audited."""
    tenant, api_key = operators.create_tenant(session, Scope.of(op), op.audit_name, body.name)
    session.commit()
    return TenantCreated(tenant_id=tenant.id, name=tenant.name, created_at=tenant.created_at, api_key=api_key)


@router.get("/operator/operators", response_model=list[ManagedOperatorOut])
def list_operators(
    op: Principal = Depends(auth.operator(*ADMINS)), session: Session = Depends(get_session)
) -> list[ManagedOperatorOut]:
    """Managed operators: every one for a platform admin, a tenant admin's own tenant's."""
    return [_managed_out(o) for o in operators.operators(session, Scope.of(op))]


@router.post("/operator/operators", status_code=201, response_model=OperatorCreated)
def create_operator(
    body: OperatorIn,
    request: Request,
    op: Principal = Depends(auth.operator(*ADMINS)),
    session: Session = Depends(get_session),
) -> OperatorCreated:
    """A new operator of a tenant (or of the platform, by a platform admin) and their first token,
    shown once. A tenant admin naming another tenant or the platform: 403 ``operator_scope_forbidden``."""
    row, token, expires = operators.create_operator(
        session, Scope.of(op), op.audit_name, body.name, body.role, body.tenant_id, _ttl(request)
    )
    session.commit()
    return OperatorCreated(**_managed_out(row).model_dump(), token=token, expires_at=expires)


@router.post("/operator/operators/{name}/tokens", status_code=201, response_model=OperatorTokenOut)
def issue_operator_token(
    name: str,
    request: Request,
    op: Principal = Depends(auth.operator(*ADMINS)),
    session: Session = Depends(get_session),
) -> OperatorTokenOut:
    """Another token for an active operator in the admin's scope (shown once). Audited."""
    token, expires = operators.issue_token(session, Scope.of(op), op.audit_name, name, _ttl(request))
    session.commit()
    return OperatorTokenOut(name=name, token=token, expires_at=expires)


@router.put("/operator/operators/{name}/role", response_model=ManagedOperatorOut)
def change_operator_role(
    name: str,
    body: OperatorRoleIn,
    op: Principal = Depends(auth.operator(*ADMINS)),
    session: Session = Depends(get_session),
) -> ManagedOperatorOut:
    """A new role, effective on the operator's tokens at once; never a new tenant. Audited."""
    row = operators.change_role(session, Scope.of(op), op.audit_name, name, body.role)
    session.commit()
    return _managed_out(row)


@router.post("/operator/operators/{name}/disable", response_model=ManagedOperatorOut)
def disable_operator(
    name: str, op: Principal = Depends(auth.operator(*ADMINS)), session: Session = Depends(get_session)
) -> ManagedOperatorOut:
    """Disable an operator: their tokens stop working at once. Audited."""
    row = operators.disable(session, Scope.of(op), op.audit_name, name)
    session.commit()
    return _managed_out(row)
