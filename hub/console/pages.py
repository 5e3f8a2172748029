"""The console's pages: each checks who is signed in and what their role allows, reads
through ``queries``, and renders a template. Forms post back with a CSRF token."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from hub.agencies.models import Agency
from hub.console import charts, queries
from hub.console.users import (
    ConsoleRole,
    ConsoleUser,
    UserError,
    authenticate,
    create_user,
)
from hub.console.web import (
    IG,
    Administrator,
    CsrfChecked,
    DbSession,
    HubDep,
    IntegrityViewer,
    Practitioner,
    SignedIn,
    render,
    start_session,
)
from hub.db.base import utcnow
from hub.decision.decide import Requester
from hub.disclosure.flow import NOT_PERMITTED, decide_for, recorded
from hub.disclosure.log import append
from hub.identifiers import InvalidIdentifier
from hub.vocab import LegalBasis, LogEvent, Outcome, Purpose

router = APIRouter()

CONSOLE_CLIENT = "hub-console"
PURPOSES_FOR_ROLE = {
    ConsoleRole.LEAD_PROFESSIONAL: [
        Purpose.TEAM_AROUND_THE_FAMILY,
        Purpose.LEAD_PROFESSIONAL_CHECK,
        Purpose.EARLY_HELP_ASSESSMENT,
    ],
    ConsoleRole.FRONT_DOOR: [Purpose.FRONT_DOOR_TRIAGE],
}


def _match_queue(request: Request) -> queries.MatchQueue:
    queue: queries.MatchQueue = request.app.state.match_queue
    return queue


# --- signing in and out ------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only ever return to a console page on this site after signing in."""
    if not target:
        return "/console/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not parsed.path.startswith("/console/"):
        return "/console/"
    return target


@router.get("/sign-in")
def sign_in_page(request: Request, next: str = "/console/") -> Response:
    return render(request, "sign_in.html", next=_safe_next(next), errors={}, username="")


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: DbSession,
    _csrf: CsrfChecked,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/console/",
) -> Response:
    errors: dict[str, str] = {}
    if not username.strip():
        errors["username"] = "Enter your username"
    if not password:
        errors["password"] = "Enter your password"  # noqa: S105 - a message, not a secret
    if not errors:
        result = authenticate(session, username, password)
        session.commit()
        if result.user is not None:
            start_session(request, result.user)
            return RedirectResponse(_safe_next(next), status_code=303)
        errors["username"] = (
            "This account is locked for 15 minutes after too many failed attempts"
            if result.locked
            else "Enter a correct username and password"
        )
    return render(
        request,
        "sign_in.html",
        status_code=400,
        next=_safe_next(next),
        errors=errors,
        username=username,
    )


@router.post("/sign-out")
def sign_out(request: Request, session: DbSession, _csrf: CsrfChecked) -> Response:
    uid = request.session.get("uid")
    user = session.get(ConsoleUser, uid) if isinstance(uid, int) else None
    if user is not None:
        user.session_version += 1  # every session of this user ends, not only this one
        session.commit()
    request.session.clear()
    return RedirectResponse("/console/sign-in", status_code=303)


# --- start page -------------------------------------------------------------------------


@router.get("/")
def start(request: Request, user: SignedIn, session: DbSession) -> Response:
    context: dict[str, Any] = {}
    if user.console_role is ConsoleRole.IG_OFFICER:
        context["counts"] = queries.counts(session)
    return render(request, "start.html", **context)


@router.get("/charts")
def charts_page(request: Request, user: IG, session: DbSession) -> Response:
    days = [utcnow().date() - timedelta(days=n) for n in range(13, -1, -1)]
    return render(
        request,
        "charts.html",
        agency_charts=charts.decisions_by_agency(queries.decisions_per_day(session, 14), days),
        overrides=charts.overrides_chart(queries.overrides_per_week(session, 12)),
    )


# --- the disclosure log -----------------------------------------------------------------


def _date(value: str, name: str, errors: dict[str, str]) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors[name] = "Enter a real date, for example 2026-11-25"
        return None


def log_filter(
    errors: dict[str, str],
    child: str = "",
    practitioner: str = "",
    agency: str = "",
    purpose: str = "",
    legal_basis: str = "",
    outcome: str = "",
    date_from: str = "",
    date_to: str = "",
    review: str = "",
    event: str = "decisions",
    flagged: str = "",
) -> queries.LogFilter:
    return queries.LogFilter(
        child=child.strip(),
        practitioner=practitioner.strip(),
        agency=agency.strip(),
        purpose=purpose if purpose in {p.value for p in Purpose} else "",
        legal_basis=legal_basis if legal_basis in {b.value for b in LegalBasis} else "",
        outcome=outcome if outcome in {o.value for o in Outcome} else "",
        date_from=_date(date_from, "date_from", errors),
        date_to=_date(date_to, "date_to", errors),
        review=review if review in ("unreviewed", "reviewed", "questioned") else "",
        event=event if event in ("decisions", "reviews", "all") else "decisions",
        flagged=flagged == "yes",
    )


FilterParams = dict[str, str]


def _filter_from(request: Request, errors: dict[str, str]) -> queries.LogFilter:
    names = [
        "child",
        "practitioner",
        "agency",
        "purpose",
        "legal_basis",
        "outcome",
        "date_from",
        "date_to",
        "review",
        "event",
        "flagged",
    ]
    given = {n: request.query_params.get(n, "") for n in names if request.query_params.get(n)}
    return log_filter(errors, **given)


def _log_page(
    request: Request,
    session: DbSession,
    hub: HubDep,
    given: queries.LogFilter,
    errors: dict[str, str],
    page: int,
    *,
    title: str,
    queue: bool = False,
) -> Response:
    result = None
    try:
        result = queries.search_log(session, hub, given, page=page)
    except queries.ChildNotFound as exc:
        errors["child"] = str(exc)
    return render(
        request,
        "log.html",
        title=title,
        queue=queue,
        filter=given,
        active=given.active(),
        result=result,
        errors=errors,
        agencies=queries.agencies(session),
        purposes=[p.value for p in Purpose],
        legal_bases=[b.value for b in LegalBasis],
        outcomes=[o.value for o in Outcome],
        verdicts=queries.REVIEW_VERDICTS,
    )


@router.get("/log")
def log_page(
    request: Request,
    user: IG,
    session: DbSession,
    hub: HubDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    errors: dict[str, str] = {}
    given = _filter_from(request, errors)
    return _log_page(request, session, hub, given, errors, page, title="Disclosure log")


@router.get("/overrides")
def override_queue(
    request: Request,
    user: IG,
    session: DbSession,
    hub: HubDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    given = queries.LogFilter(flagged=True, review="unreviewed")
    return _log_page(
        request, session, hub, given, {}, page, title="Override review queue", queue=True
    )


def _cell(value: object) -> str:
    """Neutralise text a spreadsheet would run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/log.csv")
def log_csv(request: Request, user: IG, session: DbSession, hub: HubDep) -> Response:
    errors: dict[str, str] = {}
    given = _filter_from(request, errors)
    try:
        rows = queries.export_log(session, hub, given)
    except queries.ChildNotFound:
        rows = []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "seq",
            "entry_id",
            "recorded_at",
            "event",
            "subject",
            "agency",
            "practitioner",
            "role",
            "purpose",
            "legal_basis",
            "outcome",
            "reasons",
            "review",
        ]
    )
    for row in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    row.seq,
                    row.entry_id,
                    row.recorded_at.isoformat(),
                    row.event,
                    row.subject,
                    row.agency,
                    row.practitioner,
                    row.role,
                    row.purpose,
                    row.legal_basis,
                    row.outcome,
                    " ".join(row.reasons),
                    row.review or ("unreviewed" if row.event.endswith("decided") else ""),
                )
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="disclosure-log.csv"'},
    )


@router.get("/log/{seq}")
def entry_page(request: Request, seq: int, user: IG, session: DbSession, hub: HubDep) -> Response:
    detail = queries.log_entry(session, hub, seq)
    if detail is None:
        return _not_found(request, "There is no entry with that number in the disclosure log.")
    return _entry(request, detail, reviewed=request.query_params.get("reviewed") == "1")


def _entry(
    request: Request,
    detail: queries.LogDetail,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    comment: str = "",
    chosen: str = "",
    reviewed: bool = False,
) -> Response:
    """One log entry, with the review form (and what was wrong with it, if it was sent)."""
    return render(
        request,
        "entry.html",
        status_code=status_code,
        detail=detail,
        reason_text=queries.REASON_TEXT,
        verdicts=queries.REVIEW_VERDICTS,
        errors=errors or {},
        comment=comment,
        chosen=chosen,
        reviewed=reviewed,
    )


def _not_found(request: Request, message: str) -> Response:
    return render(request, "error.html", status_code=404, title="Page not found", message=message)


@router.post("/log/{seq}/review")
def review_entry(
    request: Request,
    seq: int,
    user: IG,
    session: DbSession,
    hub: HubDep,
    _csrf: CsrfChecked,
    verdict: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    detail = queries.log_entry(session, hub, seq)
    if detail is None or detail.row.event != LogEvent.DISCLOSURE_DECIDED:
        return _not_found(request, "Only disclosure decisions in the log can be reviewed.")
    errors: dict[str, str] = {}
    if verdict not in queries.REVIEW_VERDICTS:
        errors["verdict"] = "Select whether you have concerns about this decision"
    comment = comment.strip()
    if not comment:
        errors["comment"] = "Enter a comment saying what you checked"
    elif len(comment) > 2000:
        errors["comment"] = "Comment must be 2000 characters or fewer"
    if errors:
        return _entry(
            request, detail, status_code=400, errors=errors, comment=comment, chosen=verdict
        )
    queries.record_review(
        session,
        detail,
        reviewer=user.username,
        reviewer_name=user.display_name,
        verdict=verdict,
        comment=comment,
    )
    session.commit()
    return RedirectResponse(f"/console/log/{seq}?reviewed=1", status_code=303)


# --- log integrity ----------------------------------------------------------------------


@router.get("/integrity")
def integrity_page(
    request: Request, user: IntegrityViewer, session: DbSession, hub: HubDep
) -> Response:
    return render(request, "integrity.html", integrity=queries.integrity(session, hub))


# --- match review -----------------------------------------------------------------------


@router.get("/matches")
def matches_page(request: Request, user: IG, session: DbSession, hub: HubDep) -> Response:
    queue = _match_queue(request)
    return render(
        request,
        "matches.html",
        pairs=queue.pending(session, hub),
        installed=getattr(queue, "installed", True),
        done=request.query_params.get("done", ""),
    )


@router.post("/matches/{pair_id}")
def resolve_match(
    request: Request,
    pair_id: str,
    user: IG,
    session: DbSession,
    hub: HubDep,
    _csrf: CsrfChecked,
    verdict: Annotated[str, Form()] = "",
) -> Response:
    if verdict not in ("accept", "reject"):
        return RedirectResponse("/console/matches", status_code=303)
    found = _match_queue(request).resolve(
        session, hub, pair_id, accept=verdict == "accept", reviewer=user.username
    )
    session.commit()
    done = ("accepted" if verdict == "accept" else "rejected") if found else "gone"
    return RedirectResponse(f"/console/matches?done={done}", status_code=303)


# --- a child, for practitioners ---------------------------------------------------------


@router.get("/children")
def child_search(request: Request, user: Practitioner) -> Response:
    return render(
        request,
        "child_search.html",
        purposes=PURPOSES_FOR_ROLE[user.console_role],
        errors={},
        identifier="",
        chosen="",
    )


@router.post("/children")
def child_page(
    request: Request,
    user: Practitioner,
    session: DbSession,
    hub: HubDep,
    _csrf: CsrfChecked,
    identifier: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
) -> Response:
    purposes = PURPOSES_FOR_ROLE[user.console_role]
    errors: dict[str, str] = {}
    parsed = None
    try:
        parsed = queries.child_identifier(identifier)
    except InvalidIdentifier as exc:
        errors["identifier"] = str(exc)
    if purpose not in purposes:
        errors["purpose"] = "Select why you are asking"
    if errors or parsed is None or user.agency is None or user.practitioner_ref is None:
        return render(
            request,
            "child_search.html",
            status_code=400,
            purposes=purposes,
            errors=errors or {"identifier": "Your account is not linked to an agency"},
            identifier=identifier,
            chosen=purpose,
        )
    requester = Requester(
        agency_code=user.agency.code,
        agency_kind=user.agency.kind,
        client_id=CONSOLE_CLIENT,
        practitioner=user.practitioner_ref,
        role=user.role,
    )
    decided = decide_for(
        hub,
        session,
        parsed,
        purpose,
        requester,
        requester_log={
            "agency": user.agency.code,
            "client": CONSOLE_CLIENT,
            "practitioner": user.practitioner_ref,
            "role": user.role,
            "console_user": user.username,
        },
        asked={
            "what": "involvements",
            "identifier_system": parsed.system,
            "identifier_index": hub.crypto.blind.of(parsed.system, parsed.value),
            "channel": "console",
            "shown": ["involvements", "family", "consents"],
        },
    )
    answer = recorded(hub, session, decided)
    context: dict[str, Any] = {"answer": answer, "purpose": purpose, "not_permitted": NOT_PERMITTED}
    if answer.decision.permitted and answer.subject:
        context.update(
            identity=queries.identity(session, hub, answer.subject),
            family=queries.family(session, hub, answer.subject),
            consents=queries.consents_in_force(session, answer.subject, utcnow()),
            shielded=set(answer.decision.shielded),
        )
    return render(request, "child.html", status_code=answer.status, **context)


# --- subject access ---------------------------------------------------------------------


@router.get("/subject-access")
def subject_access_form(request: Request, user: IG) -> Response:
    return render(request, "subject_access_form.html", errors={}, identifier="")


@router.post("/subject-access")
def subject_access_report(
    request: Request,
    user: IG,
    session: DbSession,
    hub: HubDep,
    _csrf: CsrfChecked,
    identifier: Annotated[str, Form()] = "",
) -> Response:
    try:
        person_id = queries.find_child(session, hub, identifier)
    except queries.ChildNotFound as exc:
        return render(
            request,
            "subject_access_form.html",
            status_code=400,
            errors={"identifier": str(exc)},
            identifier=identifier,
        )
    report = queries.subject_access(session, hub, person_id)
    append(
        session,
        event=LogEvent.SUBJECT_ACCESS_REPORTED,
        subject=person_id,
        body={"requester": {"console_user": user.username, "role": user.role}},
    )
    session.commit()
    return render(request, "subject_access.html", report=report)


# --- users, for administrators ----------------------------------------------------------


@router.get("/users")
def users_page(request: Request, user: Administrator, session: DbSession) -> Response:
    return _users(request, session, errors={}, created=request.query_params.get("created", ""))


def _users(
    request: Request,
    session: DbSession,
    *,
    errors: dict[str, str],
    created: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "users.html",
        status_code=status_code,
        users=session.execute(select(ConsoleUser).order_by(ConsoleUser.username)).scalars().all(),
        agencies=queries.agencies(session),
        roles=list(ConsoleRole),
        errors=errors,
        created=created,
        form=form or {},
    )


@router.post("/users")
def add_user(
    request: Request,
    user: Administrator,
    session: DbSession,
    _csrf: CsrfChecked,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    agency: Annotated[str, Form()] = "",
    practitioner_ref: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "agency": agency,
        "practitioner_ref": practitioner_ref,
    }
    if role not in {r.value for r in ConsoleRole}:
        return _users(
            request, session, errors={"role": "Select a role"}, form=form, status_code=400
        )
    found = (
        session.execute(select(Agency).where(Agency.code == agency)).scalar_one_or_none()
        if agency
        else None
    )
    try:
        created = create_user(
            session,
            username=username,
            display_name=display_name,
            role=ConsoleRole(role),
            password=password,
            agency=found,
            practitioner_ref=practitioner_ref.strip() or None,
        )
    except UserError as exc:
        session.rollback()
        field = "password" if "password" in str(exc) else "username"
        return _users(request, session, errors={field: str(exc)}, form=form, status_code=400)
    session.commit()
    return RedirectResponse(f"/console/users?created={created.username}", status_code=303)


@router.post("/users/{user_id}/deactivate")
def deactivate_user(
    request: Request, user_id: int, user: Administrator, session: DbSession, _csrf: CsrfChecked
) -> Response:
    target = session.get(ConsoleUser, user_id)
    if target is not None and target.id != user.id:
        target.active = False
        target.session_version += 1
        session.commit()
    return RedirectResponse("/console/users", status_code=303)
