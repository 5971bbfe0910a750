"""``govlake serve web``: the quality officers' workbench (docs/workbench.md).

A Starlette application over the lake, for three kinds of user of the users file
(jobs/serving/auth/users.py): quality officers, department liaisons (bound to one department)
and analysts (read-only). Pages are rendered on the server from Jinja templates with
autoescaping; the stylesheet is the application's own file (no CDN, no script needed). Every
value is shown by the one masking policy (jobs/platform/policy.py) for the user's role, every
page view, download and action is recorded in audit.queries, every login in audit.logins, and
every action in quality.finding_actions (jobs/pipeline/quality/actions.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from jobs.pipeline.quality import actions as finding_actions
from jobs.pipeline.quality.rules.common import DIMENSIONS
from jobs.platform.config import catalog
from jobs.platform.policy import Grant, grant, mask_value
from jobs.serving.auth import logins
from jobs.serving.auth.limits import LoginLimiter
from jobs.serving.auth.scram import Verifier, dummy_verifier, verify_password
from jobs.serving.auth.users import UsersCache, UsersFileError
from jobs.serving.lookup.trace import TraceError, trace, trace_masks
from jobs.serving.sql import audit
from jobs.serving.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Session,
    Sessions,
    same,
    token,
)
from jobs.serving.workbench.present import (
    LISTED,
    band,
    shown_entity,
    shown_value,
    trend_svg,
    write_lists,
)
from jobs.serving.workbench.state import FILTERS, NotReady, WorkbenchData

log = logging.getLogger("govlake.web")

# the roles the workbench serves; a role of conf/access.yaml not listed here cannot log in
ROLES = (
    "quality_officer",
    "department_liaison",
    "city_analyst",
    "district_analyst",
    "platform_admin",
)
STATUS_LABELS = {
    "open": "待整改 open",
    "disputed": "异议中 disputed",
    "dismissed": "已撤销 dismissed",
    "rectification_submitted": "已提交整改 rectification submitted",
    "rectification_failed": "整改未通过 rectification failed",
    "resolved": "已解决 resolved",
}
DIMENSION_LABELS = {
    "overall": "综合",
    "conformity": "规范性",
    "completeness": "完整性",
    "accuracy": "准确性",
    "consistency": "一致性",
    "timeliness": "时效性",
    "accessibility": "可访问性",
    "uniqueness": "唯一性",
}
TRACE_KINDS = {"person": "person", "legal_person": "legal-person", "licence": "licence"}
# a finding's attribute that is not a base library's column: the column of the fact it rests on
TRACED_AS = {
    ("person", "reg_status"): "death_date",  # still 正常 in 户籍 although dead: the certificate
    ("person", "receiving_benefits"): "death_date",  # paid although dead: the certificate
    ("person", "id_number"): "name",  # a number that fails its check: the person's records
}
MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True)
class WebConfig:
    lake: Path
    users_file: Path
    host: str = "127.0.0.1"
    port: int = 8800
    tls: bool = False  # served over TLS here, or by a proxy in front (--proxied)
    idle_s: float = 1800.0


class Forbidden(Exception):
    """The user may not see or do this; ``status`` 403, or 404 to not reveal what exists."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


class Workbench:
    """The application's state: the lake's data, the users, the sessions and the limits."""

    def __init__(self, config: WebConfig):
        self.config = config
        self.data = WorkbenchData(config.lake)
        self.users = UsersCache(config.users_file)
        self.sessions = Sessions(idle_s=config.idle_s)
        self.limiter = LoginLimiter(address_allowed=20)  # any names, from one address
        self.env = Environment(
            loader=PackageLoader("jobs.serving.web", "templates"),
            autoescape=select_autoescape(["html", "j2"]),
        )
        self.env.globals.update(
            status_labels=STATUS_LABELS,
            dimension_labels=DIMENSION_LABELS,
            band=band,
            transitions=finding_actions.TRANSITIONS,
        )
        self._act_lock = threading.Lock()
        audit.ensure_table(config.lake)
        logins.ensure_table(config.lake)

    # ---------------------------------------------------------------- helpers
    def render(self, request: Request, template: str, *, status: int = 200, **ctx) -> HTMLResponse:
        s: Session | None = request.state.session if hasattr(request.state, "session") else None
        page = self.env.get_template(template).render(
            session=s,
            csrf=s.csrf if s else "",
            as_of=self.data.publication.business_date if self.data.publication else None,
            request_path=request.url.path,
            **ctx,
        )
        return HTMLResponse(page, status_code=status)

    def audit(
        self,
        request: Request,
        *,
        what: str,
        tables: list[str],
        entities: list[str] | None = None,
        rows: int | None = None,
        status: str = "allowed",
        reason: str | None = None,
    ) -> None:
        s: Session = request.state.session
        bound = f"[{s.department}] " if s.department else ""
        audit.record_access(
            self.config.lake,
            user=s.user,
            role=s.role,
            division=s.division,
            client=f"web {_client(request)}",
            what=bound + what,
            tables=tables,
            entities=entities,
            rows=rows,
            status=status,
            reason=reason,
            as_of=self.data.publication.business_date if self.data.publication else None,
        )

    @contextlib.contextmanager
    def acting(self):
        """One action at a time on this lake: the status is read and the action appended under
        one lock (a thread lock, and an flock shared with other workbench processes)."""
        folder = self.config.lake / "_govlake"
        folder.mkdir(exist_ok=True)
        with self._act_lock:
            fd = os.open(
                folder / "finding_actions.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def _grant(s: Session) -> Grant:
    return grant(s.role, s.division, department=s.department)


def _json_wanted(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _show_finding(row: dict, reader: Grant) -> dict:
    """A finding as ``reader`` may see it."""
    out = dict(row)
    out["entity_shown"] = shown_entity(
        row["entity_kind"], row["rule_id"], value=row["entity_id"], reader=reader
    )
    out["observed_shown"] = shown_value(row["attribute"], row["observed"], reader=reader)
    out["expected_shown"] = shown_value(row["attribute"], row["expected"], reader=reader)
    return out


def _show_action(row: dict, reader: Grant) -> dict:
    out = dict(row)
    for col in ("note", "evidence"):
        v = mask_value("quality.finding_actions", col, value=row.get(col), reader=reader)
        out[col] = "(hidden)" if v is None and row.get(col) else v
    return out


# ------------------------------------------------------------------------- middleware
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _origin_ok(request: Request) -> bool:
    """A POST must come from this site: Origin (or Referer) names our own host when given."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True  # non-browser clients; the CSRF token still applies
    host = request.headers.get("host", "")
    for scheme in ("http://", "https://"):
        if origin == f"{scheme}{host}" or origin.startswith(f"{scheme}{host}/"):
            return True
    return False


class WebApp:
    """The routes of the workbench, over one :class:`Workbench`."""

    def __init__(self, config: WebConfig):
        self.config = config
        self.wb = Workbench(config)

    def page(self, handler, *, public: bool = False):
        """Wrap a handler: session, fresh data, errors as pages, security headers."""

        async def endpoint(request: Request) -> Response:
            try:
                if request.method == "POST":
                    if not _origin_ok(request):
                        raise Forbidden("cross-site request refused")
                    length = request.headers.get("content-length")
                    if length is None or not length.isdigit():  # no unbounded bodies
                        raise Forbidden("a form needs its Content-Length", 411)
                    if int(length) > MAX_FORM_BYTES:
                        raise Forbidden("form too large", 413)
                if not public:
                    s = self._session_of(request)
                    if s is None:
                        if request.method == "GET" and not request.url.path.startswith("/api/"):
                            nxt = urlencode({"next": request.url.path})
                            return self._headers(RedirectResponse(f"/login?{nxt}", 303))
                        return self._headers(JSONResponse({"error": "log in first"}, 401))
                    request.state.session = s
                    await run_in_threadpool(self.wb.data.refresh)
                response = await handler(request)
            except Forbidden as e:
                if hasattr(request.state, "session"):
                    await run_in_threadpool(
                        self.wb.audit,
                        request,
                        what=f"{request.method} {request.url.path}",
                        tables=[],
                        status="denied",
                        reason=str(e),
                    )
                response = self._error(request, e.status, str(e))
            except NotReady as e:
                response = self._error(request, 503, str(e))
            except ValueError as e:
                response = self._error(request, 400, str(e))
            except Exception:  # never a traceback to the browser; the log has it
                log.exception("%s %s failed", request.method, request.url.path)
                response = self._error(request, 500, "the workbench failed on this request")
            return self._headers(response)

        return endpoint

    def _session_of(self, request: Request) -> Session | None:
        s = self.wb.sessions.get(request.cookies.get(SESSION_COOKIE))
        if s is None:
            return None
        try:
            user = self.wb.users.get(s.user)
        except UsersFileError:
            return None  # the users file has become unusable: nobody is let in
        if (
            user is None
            or user.disabled
            or user.role != s.role
            or user.division != s.division
            or user.department != s.department
        ):
            self.wb.sessions.end(s.token)
            return None
        return s

    def _error(self, request: Request, status: int, message: str) -> Response:
        if _json_wanted(request) or request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status)
        return self.wb.render(
            request, "error.html.j2", status=status, status_code=status, message=message
        )

    def _headers(self, response: Response) -> Response:
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    # ------------------------------------------------------------ login / logout
    async def login_form(self, request: Request) -> Response:
        pre = token()
        response = self.wb.render(
            request,
            "login.html.j2",
            login_token=pre,
            next=_safe_next(request.query_params.get("next")),
        )
        self._set_cookie(response, LOGIN_COOKIE, pre, max_age=3600)
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form()
        name = str(form.get("username", "")).strip()[:64]
        password = str(form.get("password", ""))[:1024]
        nxt = _safe_next(str(form.get("next", "")))
        addr = _client(request)
        if not same(str(form.get("login_token", "")), request.cookies.get(LOGIN_COOKIE)):
            return self.wb.render(
                request, "login.html.j2", status=400, login_token=self._renew(request),
                error="the login form expired; please try again", next=nxt,
            )  # fmt: skip
        ok, reason, user = await run_in_threadpool(self._check_login, name, password, addr)
        await run_in_threadpool(
            logins.record,
            self.config.lake,
            logins.LoginRow(
                user_name=name,
                client_addr=addr,
                application_name="govlake web",
                tls=self.config.tls,
                outcome="accepted" if ok else "refused",
                reason=reason,
            ),
        )
        if not ok:
            status = 429 if reason == "too many failed logins (back-off)" else 401
            response = self.wb.render(
                request, "login.html.j2", status=status, login_token=(pre := token()),
                error="wrong user name or password" if status == 401 else
                "too many failed logins: wait a minute and try again", next=nxt,
            )  # fmt: skip
            self._set_cookie(response, LOGIN_COOKIE, pre, max_age=3600)
            return response
        s = self.wb.sessions.start(
            user=user.name, role=user.role, division=user.division, department=user.department
        )
        response = RedirectResponse(nxt or "/", 303)
        self._set_cookie(response, SESSION_COOKIE, s.token)
        response.delete_cookie(
            LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="strict"
        )
        return response

    def _renew(self, request: Request) -> str:
        return request.cookies.get(LOGIN_COOKIE) or token()

    def _check_login(self, name: str, password: str, addr: str):
        if self.wb.limiter.blocked(name, addr):
            verify_password(dummy_verifier(), password)  # the same time as any attempt
            return False, "too many failed logins (back-off)", None
        try:
            user = self.wb.users.get(name)
        except UsersFileError as e:
            return False, f"users file unusable: {e}", None
        verifier = Verifier.parse(user.verifier) if user else dummy_verifier()
        good = verify_password(verifier, password)
        if user is None or user.disabled or not good:
            self.wb.limiter.failed(name, addr)
            why = (
                "unknown user"
                if user is None
                else "disabled"
                if user.disabled
                else "wrong password"
            )
            return False, why, None
        if user.role not in ROLES:
            self.wb.limiter.failed(name, addr)
            return False, f"role {user.role} does not use the workbench", None
        self.wb.limiter.succeeded(name, addr)
        return True, None, user

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        s: Session = request.state.session
        if not same(str(form.get("csrf", "")), s.csrf):
            raise Forbidden("the form's CSRF token is missing or wrong")
        self.wb.sessions.end(s.token)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict"
        )
        return response

    def _set_cookie(self, response: Response, name: str, value: str, max_age: int | None = None):
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
        )

    # ------------------------------------------------------------------ pages
    async def dashboard(self, request: Request) -> Response:
        ctx = await run_in_threadpool(self._dashboard)
        await run_in_threadpool(
            self.wb.audit, request, what="GET /", tables=["quality.scores", "quality.findings"],
            rows=len(ctx["departments"]),
        )  # fmt: skip
        return self.wb.render(request, "dashboard.html.j2", **ctx)

    def _trend(self, scope: str, scope_id: str) -> list[tuple[str, float]]:
        """(date, overall score) of one scope over the published dates, as the workbench
        scores them (upheld disputes out)."""
        out = []
        for day in self.wb.data.score_dates():
            sc = self.wb.data.scores(day)
            p = sc[
                (sc["scope"] == scope)
                & (sc["scope_id"] == scope_id)
                & (sc["dimension"] == "overall")
            ]
            if len(p):
                out.append((str(day), float(p["score"].iloc[0])))
        return out

    def _dashboard(self) -> dict:
        d = self.wb.data
        today = d.scores()
        trend = self._trend("platform", "platform")
        platform = trend[-1][1] if trend else None
        counts = {r["department_id"]: r for r in d.counts_by_department()}
        departments = []
        for dep_id, name in _departments():
            cells = []
            for dim in ("overall", *DIMENSIONS):
                cells.append(_cell(today, "department", name, dim))
            departments.append(
                {"id": dep_id, "name": name, "cells": cells, "counts": counts.get(dep_id, {})}
            )
        return {
            "platform": platform,
            "platform_before": trend[-2][1] if len(trend) > 1 else None,
            "trend_svg": trend_svg(trend),
            "dims": ("overall", *DIMENSIONS),
            "departments": departments,
            "worst": d.worst_rules(),
            "finding_rules": set(_rules()),
            "disputes": [r for r in d.rule_disputes() if r["disputed"]],
            "totals": _totals(counts.values()),
        }

    async def department(self, request: Request) -> Response:
        dep_id = request.path_params["dep"]
        s: Session = request.state.session
        names = dict(_departments())
        if dep_id not in names:
            raise Forbidden(f"no department {dep_id}", 404)
        if s.department and s.department != dep_id:
            raise Forbidden("a liaison sees their own department only", 404)
        ctx = await run_in_threadpool(self._department, dep_id, names[dep_id])
        await run_in_threadpool(
            self.wb.audit, request, what=f"GET /departments/{dep_id}",
            tables=["quality.scores", "quality.findings"], rows=1,
        )  # fmt: skip
        return self.wb.render(request, "department.html.j2", **ctx)

    def _department(self, dep_id: str, name: str) -> dict:
        d = self.wb.data
        today = d.scores()
        trend = self._trend("department", name)
        sources = [(s, e.resource_name) for s, e in catalog().items() if e.department_id == dep_id]
        source_rows = [
            {
                "id": s,
                "name": n,
                "cells": [_cell(today, "source", s, dim) for dim in ("overall", *DIMENSIONS)],
            }
            for s, n in sources
        ]
        counts = {r["department_id"]: r for r in d.counts_by_department()}.get(dep_id, {})
        return {
            "dep_id": dep_id,
            "name": name,
            "score": _cell(today, "department", name, "overall"),
            "dim_cells": [
                _cell(today, "department", name, dim) for dim in ("overall", *DIMENSIONS)
            ],
            "dims": ("overall", *DIMENSIONS),
            "trend_svg": trend_svg(trend),
            "sources": source_rows,
            "counts": counts,
        }

    async def findings(self, request: Request) -> Response:
        s: Session = request.state.session
        reader = _grant(s)
        if s.division:
            raise Forbidden("findings carry no division: district readers see the dashboard only")
        filters = {k: request.query_params.get(k, "") for k in FILTERS}
        if s.department:
            filters["department"] = s.department
        page_ = await run_in_threadpool(
            lambda: self.wb.data.findings_page(
                filters=filters,
                department=s.department,
                entity_in_clear=_ids_in_clear(reader),
                cursor=request.query_params.get("after") or None,
            )
        )
        rows = [_show_finding(r, reader) for r in page_.rows]
        await run_in_threadpool(
            self.wb.audit, request, what=f"GET /findings?{request.url.query}",
            tables=["quality.findings", "quality.finding_actions"],
            entities=sorted({r["entity_shown"] for r in rows if r["entity_shown"]}),
            rows=len(rows),
        )  # fmt: skip
        if _json_wanted(request):
            return JSONResponse(
                {
                    "total": page_.total,
                    "next": page_.next_cursor,
                    "findings": [_public(r) for r in rows],
                }
            )
        nxt = None
        if page_.next_cursor:
            q = {k: v for k, v in filters.items() if v and not (s.department and k == "department")}
            nxt = "/findings?" + urlencode({**q, "after": page_.next_cursor})
        return self.wb.render(
            request, "findings.html.j2", rows=rows, total=page_.total, next_url=nxt,
            filters=filters, rules=_rules(), sources=sorted(catalog()),
            departments=_departments(), statuses=list(STATUS_LABELS),
        )  # fmt: skip

    async def finding(self, request: Request) -> Response:
        s: Session = request.state.session
        reader = _grant(s)
        fid = request.path_params["fid"]
        if s.division:
            raise Forbidden("findings carry no division: district readers see the dashboard only")
        row = await run_in_threadpool(self.wb.data.status_of, fid)
        if row is None or (s.department and row["department_id"] != s.department):
            raise Forbidden(f"no finding {fid}", 404)
        shown = _show_finding(row, reader)
        seen = await run_in_threadpool(self.wb.data.history_of, fid)
        for h in seen:
            h["observed"] = shown_value(row["attribute"], h["observed"], reader=reader)
            h["expected"] = shown_value(row["attribute"], h["expected"], reader=reader)
        acts = [
            _show_action(a, reader) for a in await run_in_threadpool(self.wb.data.actions_of, fid)
        ]
        value_trace, trace_error = await run_in_threadpool(self._trace, row, reader)
        await run_in_threadpool(
            self.wb.audit, request, what=f"GET /findings/{fid}",
            tables=["quality.findings", "quality.finding_history", "quality.finding_actions"],
            entities=[shown["entity_shown"]] if shown["entity_shown"] else None, rows=1,
        )  # fmt: skip
        if _json_wanted(request) or request.url.path.startswith("/api/"):
            return JSONResponse(
                {
                    "finding": _public(shown),
                    "history": [{**h, "business_date": str(h["business_date"])} for h in seen],
                    "actions": [
                        {
                            k: (str(v) if isinstance(v, dt.date | dt.datetime) else v)
                            for k, v in a.items()
                        }
                        for a in acts
                    ],
                },
            )
        possible = [
            t for t in finding_actions.TRANSITIONS.values()
            if t.role == s.role and row["state"] in t.from_statuses
            and (s.role != "department_liaison" or s.department == row["department_id"])
        ]  # fmt: skip
        return self.wb.render(
            request, "finding.html.j2", f=shown, seen=seen, actions=acts, possible=possible,
            trace=value_trace, trace_error=trace_error,
        )  # fmt: skip

    def _trace(self, row: dict, reader: Grant):
        kind = TRACE_KINDS.get(row["entity_kind"])
        if kind is None:
            return None, "no trace for this kind of entity"
        attribute = TRACED_AS.get((row["entity_kind"], row["attribute"]), row["attribute"])
        try:
            t = trace(self.config.lake, kind, key=row["entity_id"], attribute=attribute)
        except (TraceError, KeyError, LookupError) as e:
            return None, str(e).splitlines()[0] if str(e) else "nothing to trace"
        key_mask, value_mask = trace_masks(t, reader)
        names = {s: e.resource_name for s, e in catalog().items()}
        return {
            "table": t.table,
            "key": key_mask(t.key),
            "attribute": t.attribute,
            "value": value_mask(t.value),
            "version": t.version,
            "chosen": t.chosen_source,
            "authority": t.authority,
            "records": [
                {
                    "source": r.source_id,
                    "source_name": names.get(r.source_id, ""),
                    "column": r.column,
                    "value": value_mask(r.value),
                    "file": r.file,
                    "row": r.row_number,
                    "business_date": r.business_date,
                    "batch": r.batch_id,
                    "taken": r.source_id == t.chosen_source,
                }
                for r in sorted(
                    t.records, key=lambda r: (r.source_id, r.business_date, r.file, r.row_number)
                )
            ],
        }, None

    async def act(self, request: Request) -> Response:
        s: Session = request.state.session
        fid = request.path_params["fid"]
        form = await request.form()
        if not same(str(form.get("csrf", "")), s.csrf) and not same(
            request.headers.get("x-csrf-token", ""), s.csrf
        ):
            raise Forbidden("the form's CSRF token is missing or wrong")
        action = str(form.get("action", ""))
        note = str(form.get("note", "")).strip()
        evidence = str(form.get("evidence", "")).strip()
        if not note:
            raise ValueError("a reason or note is required")
        if len(note) > finding_actions.MAX_NOTE or len(evidence) > finding_actions.MAX_EVIDENCE:
            raise ValueError(
                f"a note has at most {finding_actions.MAX_NOTE} characters and evidence "
                f"{finding_actions.MAX_EVIDENCE}"
            )
        try:
            new_status = await run_in_threadpool(
                self._act, s, fid, action, note, evidence, _client(request)
            )
        except finding_actions.ActionRefused as e:
            raise Forbidden(str(e), 409 if "needs a finding" in str(e) else 403) from None
        await run_in_threadpool(
            self.wb.audit, request, what=f"POST /findings/{fid}/act {action}",
            tables=["quality.finding_actions"], rows=1,
        )  # fmt: skip
        if _json_wanted(request):
            return JSONResponse({"finding_id": fid, "action": action, "status": new_status})
        return RedirectResponse(f"/findings/{fid}", 303)

    def _act(self, s: Session, fid: str, action: str, note: str, evidence: str, client: str) -> str:
        with self.wb.acting():
            self.wb.data.refresh()
            row = self.wb.data.status_of(fid)
            if row is None or (s.department and row["department_id"] != s.department):
                raise Forbidden(f"no finding {fid}", 404)
            t = finding_actions.check(
                action, role=s.role, department=s.department,
                finding_department=row["department_id"], status=row["state"],
            )  # fmt: skip
            finding_actions.append(
                self.config.lake,
                [
                    {
                        "finding_id": fid,
                        "rule_id": row["rule_id"],
                        "source_id": row["source_id"],
                        "department_id": row["department_id"],
                        "action": t.action,
                        "from_status": row["state"],
                        "to_status": t.to_status,
                        "note": note,
                        "evidence": evidence or None,
                        "actor": s.user,
                        "actor_role": s.role,
                        "actor_department": s.department,
                        "effective_date": self.wb.data.as_of,
                        "client": f"web {client}",
                    }
                ],
            )
            self.wb.data.refresh()
            return self.wb.data.status_of(fid)["state"]

    async def download(self, request: Request) -> Response:
        s: Session = request.state.session
        reader = _grant(s)
        dep_id, fmt = request.path_params["dep"], request.path_params["fmt"]
        if fmt not in ("csv", "xlsx") or dep_id not in dict(_departments()):
            raise Forbidden("no such list", 404)
        if s.department and s.department != dep_id:
            raise Forbidden("a liaison downloads their own department's list only", 404)
        if s.division:
            raise Forbidden("findings carry no division: district readers see the dashboard only")
        folder = Path(tempfile.mkdtemp(prefix="govlake-list-"))
        path, n = await run_in_threadpool(self._write_list, dep_id, fmt, folder, reader)
        await run_in_threadpool(
            self.wb.audit, request, what=f"GET /lists/{dep_id}.{fmt}",
            tables=["quality.findings", "quality.finding_actions"], rows=n,
        )  # fmt: skip
        media = (
            "text/csv; charset=utf-8"
            if fmt == "csv"
            else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        return FileResponse(
            path, media_type=media, filename=path.name,
            background=BackgroundTask(_remove, folder),
        )  # fmt: skip

    def _write_list(self, dep_id: str, fmt: str, folder: Path, reader: Grant):
        frame = (
            self.wb.data.cursor()
            .execute(
                "SELECT * FROM finding_state WHERE department_id = ? AND state IN "
                f"({', '.join('?' * len(LISTED))})",
                [dep_id, *LISTED],
            )
            .df()
        )
        lists = write_lists(frame, folder, reader=reader)
        if not lists:  # an empty list is still a list: the header alone
            from jobs.serving.export import save_csv, save_xlsx
            from jobs.serving.workbench.present import LIST_COLUMNS

            stem = f"整改清单-{dep_id}"
            header = list(LIST_COLUMNS.values())
            p = (
                save_csv(folder / f"{stem}.csv", [], header=header)
                if fmt == "csv"
                else save_xlsx(folder / f"{stem}.xlsx", [], header=header, sheet="整改清单")
            )
            return p, 0
        ((n, paths),) = lists.values()
        return paths[fmt], n

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    def app(self) -> Starlette:
        static = Path(__file__).parent / "static"
        routes = [
            Route("/login", self.page(self.login_form, public=True), methods=["GET"]),
            Route("/login", self.page(self.login, public=True), methods=["POST"]),
            Route("/logout", self.page(self.logout), methods=["POST"]),
            Route("/", self.page(self.dashboard), methods=["GET"]),
            Route("/departments/{dep}", self.page(self.department), methods=["GET"]),
            Route("/findings", self.page(self.findings), methods=["GET"]),
            Route("/findings/{fid}", self.page(self.finding), methods=["GET"]),
            Route("/api/findings/{fid}", self.page(self.finding), methods=["GET"]),
            Route("/findings/{fid}/act", self.page(self.act), methods=["POST"]),
            Route("/lists/{dep}.{fmt}", self.page(self.download), methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=static), name="static"),
        ]
        app = Starlette(routes=routes)
        app.state.workbench = self.wb
        return app


def build_app(config: WebConfig) -> Starlette:
    """The workbench's ASGI application."""
    return WebApp(config).app()


def _safe_next(value: str | None) -> str:
    """Only a path of this site (no scheme, no host, no //): never an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _departments() -> list[tuple[str, str]]:
    return sorted({(e.department_id, e.department) for e in catalog().values()})


def _rules() -> list[str]:
    from jobs.pipeline.quality.rules import rules

    return sorted(rules())


def _ids_in_clear(reader: Grant) -> bool:
    from jobs.platform.policy import column_rules

    rule = column_rules("quality.findings").get("entity_id")
    return rule is None or reader.in_clear(rule.level)


def _cell(scores: pd.DataFrame, scope: str, scope_id: str, dim: str) -> dict:
    r = scores[
        (scores["scope"] == scope) & (scores["scope_id"] == scope_id) & (scores["dimension"] == dim)
    ]
    if not len(r):
        return {"text": "—", "band": "none", "score": None, "title": "not evaluated"}
    x = r.iloc[0]
    return {
        "text": f"{x['score']:.2f}",
        "band": band(x["score"]),
        "score": float(x["score"]),
        "title": f"{int(x['failed']):,} failed of {int(x['evaluated']):,}",
    }


def _totals(rows) -> dict:
    keys = ("open", "overdue", "disputed", "submitted", "failed", "dismissed", "resolved")
    return {k: sum(int(r.get(k, 0) or 0) for r in rows) for k in keys}


def _public(row: dict) -> dict:
    """A shown finding for JSON: the masked values only."""
    keep = (
        "finding_id", "rule_id", "dimension", "entity_kind", "attribute", "source_id",
        "department_id", "department", "authoritative_source", "first_seen_on", "last_seen_on",
        "status", "state", "severity", "due_on", "resolved_on",
    )  # fmt: skip
    out = {k: (str(row[k]) if isinstance(row.get(k), dt.date) else row.get(k)) for k in keep}
    out.update(
        entity=row["entity_shown"], observed=row["observed_shown"], expected=row["expected_shown"]
    )
    return out
