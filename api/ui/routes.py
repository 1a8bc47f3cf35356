"""Pages of the web UI (/ui): the same services as the API, rendered in Chinese for people.

Log-in takes an API key once and keeps it in an HttpOnly, SameSite=Strict cookie, so forms on
these pages post without a script and other sites cannot post with it. Every page checks the
role as the API does; personal data stays masked except where the API would reveal it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import ComponentsDep, SettingsDep, StoreDep
from api.jobs import JOB_KINDS, cancel_job, start_job
from api.keys import Principal, verify_key
from api.routes.search import guard_grade_filter, hit_doc, run_search
from api.schemas import RowId
from api.taxonomies import activate, active_taxonomy, list_versions
from api.ui import charts
from api.ui.data import dashboard_data, record_data
from insights.credit.scorecard import load_scorecard
from insights.credit.service import claim, contact_history, release, triage_queue
from insights.demand.rules import list_searches, save_search
from insights.demand.service import get_proposal, list_proposals, set_status
from insights.demand.workflow import STATUSES, TRANSITIONS
from radar.errors import APIError, ErrorCode, RadarError

__all__ = ["COOKIE", "LoginRequired", "router", "templates"]

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(highlight=charts.highlight, radar=charts.radar, sparkline=charts.sparkline, bars=charts.bars)
COOKIE = "radar_key"
STATUS_NAMES = {
    "draft": "草稿",
    "submitted": "已提交",
    "accepted": "已采纳",
    "rejected": "已驳回",
    "in_progress": "实施中",
    "done": "已完成",
}
NAV = (
    ("/ui/", "概览", ("admin", "demand_manager", "complaint_agent", "labeler", "viewer")),
    ("/ui/search", "搜索", ("admin", "demand_manager", "complaint_agent", "labeler", "viewer")),
    ("/ui/proposals", "需求提案", ("admin", "demand_manager", "viewer")),
    ("/ui/triage", "投诉分级队列", ("admin", "complaint_agent")),
    ("/ui/taxonomy", "分类体系", ("admin", "demand_manager", "complaint_agent", "labeler", "viewer")),
    ("/ui/jobs", "批量任务", ("admin", "labeler")),
)
FACET_NAMES = {
    "demand_category": "需求类别",
    "complaint_type": "投诉类型",
    "intent": "意图",
    "sentiment": "情感",
    "product": "产品",
    "brand": "品牌",
    "channel": "渠道",
    "source": "来源",
    "region": "地市",
    "escalation": "升级风险",
}
templates.env.globals.update(STATUS_NAMES=STATUS_NAMES, FACET_NAMES=FACET_NAMES, TRANSITIONS=TRANSITIONS)


class LoginRequired(Exception):
    """No valid key in the cookie: the app answers with a redirect to the log-in page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def current_user(request: Request, store: StoreDep) -> Principal:
    try:
        principal = verify_key(store, request.cookies.get(COOKIE))
    except RadarError:
        raise LoginRequired(str(request.url.path)) from None
    request.app.state.limiter.take(principal.key_id)
    return principal


User = Annotated[Principal, Depends(current_user)]


def allow(principal: Principal, path: str) -> None:
    roles = next(r for p, _, r in NAV if p == path)
    if principal.role not in roles:
        raise APIError(ErrorCode.E503, role=principal.role, action=f"open {path}", roles=", ".join(roles))


def page(request: Request, name: str, me: Principal, status_code: int = 200, **context: Any) -> HTMLResponse:
    nav = [(p, title) for p, title, roles in NAV if me.role in roles]
    return templates.TemplateResponse(request, name, {"me": me, "nav": nav, "path": request.url.path, **context}, status_code=status_code)


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- log-in -------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/ui/") -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"next": _local(next), "error": None})


@router.post("/login", response_model=None)
def login(request: Request, store: StoreDep, key: Annotated[str, Form(max_length=200)], next: Annotated[str, Form()] = "/ui/") -> Response:
    try:
        verify_key(store, key.strip())
    except RadarError as exc:
        context = {"next": _local(next), "error": exc}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    response = back(_local(next))
    response.set_cookie(COOKIE, key.strip(), httponly=True, samesite="strict", max_age=12 * 3600, path="/")
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    response = back("/ui/login")
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(url: str) -> str:
    # only paths of this UI: a log-in link must not bounce the user to another site
    return url if url.startswith("/ui/") and not url.startswith("//") else "/ui/"


# -- pages --------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, store: StoreDep, me: User) -> HTMLResponse:
    return page(request, "dashboard.html", me, **dashboard_data(store))


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    store: StoreDep,
    components: ComponentsDep,
    me: User,
    q: Annotated[str, Query(max_length=500)] = "",
    filter: Annotated[list[str], Query()] = [],  # noqa: B006 - read, never mutated
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    saved: str | None = None,
) -> HTMLResponse:
    backend = components.backend(store, semantic=False)
    guard_grade_filter(me, q, filter, "/ui/search")
    response = run_search(backend, q, filter, limit=20, cursor=cursor, collapse=True)
    chosen = set(filter)
    facets = {
        name: [(value, n, f"{name}:{value}" in chosen, _toggle(q, filter, f"{name}:{value}")) for value, n in counts.items()]
        for name, counts in response.facets.items()
        if counts
    }
    query = urlencode([("q", q), *[("filter", f) for f in filter]])
    return page(
        request,
        "search.html",
        me,
        q=q,
        filters=filter,
        total=response.total,
        relaxed=response.relaxed,
        hits=[hit_doc(h) for h in response.hits],
        facets=facets,
        next_url=f"/ui/search?{query}&{urlencode({'cursor': response.next_cursor})}" if response.next_cursor else None,
        export_query=query,
        saved=saved,
        searches=list_searches(store),
    )


def _toggle(q: str, filters: list[str], value: str) -> str:
    kept = [f for f in filters if f != value] if value in filters else [*filters, value]
    return "/ui/search?" + urlencode([("q", q), *[("filter", f) for f in kept]])


@router.post("/searches")
def save_search_form(
    store: StoreDep,
    me: User,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    q: Annotated[str, Form(max_length=500)] = "",
    filters: Annotated[list[str], Form()] = [],  # noqa: B006
) -> RedirectResponse:
    if me.role not in ("admin", "demand_manager", "labeler"):
        raise APIError(ErrorCode.E503, role=me.role, action="save searches", roles="admin, demand_manager, labeler")
    pairs = [tuple(f.split(":", 1)) for f in filters if ":" in f]
    save_search(store, name.strip(), q, pairs)  # type: ignore[arg-type]
    return back("/ui/search?" + urlencode([("q", q), *[("filter", f) for f in filters], ("saved", name.strip())]))


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(request: Request, record_id: str, store: StoreDep, me: User) -> HTMLResponse:
    return page(request, "record.html", me, **record_data(store, record_id, me))


@router.get("/customers/{customer_key}", response_class=HTMLResponse)
def customer_page(request: Request, customer_key: str, store: StoreDep, me: User) -> HTMLResponse:
    allow(me, "/ui/triage")
    return page(
        request, "customer.html", me, history=contact_history(store, load_scorecard(), customer_key, viewer=me.name), key=customer_key
    )


@router.get("/proposals", response_class=HTMLResponse)
def proposals_board(request: Request, store: StoreDep, me: User) -> HTMLResponse:
    allow(me, "/ui/proposals")
    items = list_proposals(store, limit=300)
    columns = [(s, STATUS_NAMES.get(s, s), [p for p in items if p["status"] == s]) for s in STATUSES]
    return page(request, "proposals.html", me, columns=columns, statuses=STATUSES, can_edit=_edits(me))


def _edits(me: Principal) -> bool:
    return me.role in ("admin", "demand_manager")


@router.get("/proposals/{proposal_id}", response_class=HTMLResponse)
def proposal_page(request: Request, proposal_id: str, store: StoreDep, me: User) -> HTMLResponse:
    allow(me, "/ui/proposals")
    proposal = get_proposal(store, proposal_id)
    periods = sorted(proposal["evidence"].get("by_period", {}).items())
    return page(request, "proposal.html", me, p=proposal, periods=periods, statuses=STATUSES, can_edit=_edits(me))


@router.post("/proposals/{proposal_id}/status")
def proposal_status(
    proposal_id: str,
    store: StoreDep,
    me: User,
    status: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    department: Annotated[str, Form(max_length=10)] = "",
    assignee: Annotated[str, Form(max_length=100)] = "",
    due: Annotated[str, Form(pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = "",
    back_to: Annotated[str, Form()] = "",
) -> RedirectResponse:
    if not _edits(me):
        raise APIError(ErrorCode.E503, role=me.role, action="change proposals", roles="admin, demand_manager")
    set_status(
        store,
        proposal_id,
        status or None,
        actor=me.name,
        note=note,
        assignee=assignee or None,
        due=due or None,
        department=department or None,
    )
    return back(_local(back_to) if back_to else f"/ui/proposals/{proposal_id}")


@router.get("/triage", response_class=HTMLResponse)
def triage_page(request: Request, store: StoreDep, me: User, region: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    allow(me, "/ui/triage")
    filters = [("region", region)] if region else []
    queue = triage_queue(store, load_scorecard(), filters=filters, limit=100, viewer=me.name)
    return page(request, "triage.html", me, queue=queue, region=region)


@router.post("/triage/{record_id}/{action}")
def triage_action(record_id: str, action: str, store: StoreDep, me: User) -> RedirectResponse:
    allow(me, "/ui/triage")
    if action not in ("claim", "release"):
        raise APIError(ErrorCode.E501, reason=f"unknown action '{action}'", command="triage")
    (claim if action == "claim" else release)(store, record_id, me.name)
    return back("/ui/triage")


@router.get("/taxonomy", response_class=HTMLResponse)
def taxonomy_page(request: Request, store: StoreDep, settings: SettingsDep, me: User) -> HTMLResponse:
    taxonomy = active_taxonomy(store, settings)
    versions = list_versions(store) if me.role in ("admin", "labeler") else []
    return page(request, "taxonomy.html", me, taxonomy=taxonomy, versions=versions)


@router.post("/taxonomy/{ref}/activate")
def taxonomy_activate(ref: str, store: StoreDep, me: User) -> RedirectResponse:
    if me.role != "admin":
        raise APIError(ErrorCode.E503, role=me.role, action="activate a taxonomy version", roles="admin")
    activate(store, ref)
    return back("/ui/taxonomy")


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, store: StoreDep, me: User) -> HTMLResponse:
    allow(me, "/ui/jobs")
    jobs = store.jobs(limit=50)
    return page(request, "jobs.html", me, jobs=jobs, kinds=list(JOB_KINDS), running=any(j["status"] == "running" for j in jobs))


@router.post("/jobs")
def jobs_start(settings: SettingsDep, components: ComponentsDep, me: User, kind: Annotated[str, Form(max_length=20)]) -> RedirectResponse:
    allow(me, "/ui/jobs")
    if kind not in JOB_KINDS:
        raise APIError(ErrorCode.E501, reason=f"unknown job kind '{kind}'", command="jobs")
    start_job(settings.db, components, kind, me.name, batch=settings.batch_size)
    return back("/ui/jobs")


@router.post("/jobs/{job_id}/cancel")
def jobs_cancel(job_id: RowId, store: StoreDep, me: User) -> RedirectResponse:
    allow(me, "/ui/jobs")
    cancel_job(store, job_id)
    return back("/ui/jobs")
