"""Incident reports to the competent department (Article 14): one per sanction, as JSON and
as a printable HTML page.

The report names the account by id and nickname and, for a publisher, by the masked
identity on file; plain identity values are only ever given through the lawful-request
flow of the identity module.
"""

from __future__ import annotations

from typing import Any, Final

from jinja2 import Environment, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.core.models import Account
from livegate.enforcement.models import Appeal, EvidenceRef, IncidentReport, Sanction
from livegate.enforcement.reasons import REASONS
from livegate.identity.models import IdentityRecord, PhoneVerification

REPORT_FORMAT: Final = "livegate.incident-report/1"

_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>Incident report {{ r.report }} · sanction {{ r.sanction.id }}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#111}
h1{font-size:1.4rem} table{border-collapse:collapse;width:100%;margin:.5rem 0 1.2rem}
th,td{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top} th{width:14rem;background:#eee}
.muted{color:#555} @media print{.noprint{display:none}}
</style></head><body>
<p class="noprint"><button onclick="window.print()">Print</button></p>
<h1>Report of a violation and the measures taken (Measures, Art. 14)</h1>
<p class="muted">Report {{ r.report }} · drafted {{ r.drafted_at }} · format {{ r.format }}</p>
<h2>Account</h2>
<table>
<tr><th>Account</th><td>{{ r.account.id }} ({{ r.account.nickname }})</td></tr>
<tr><th>Status</th><td>{{ r.account.status }}</td></tr>
<tr><th>Identity on file (masked)</th><td>{{ r.account.identity or "none" }}</td></tr>
<tr><th>Phone on file (masked)</th><td>{{ r.account.phone or "none" }}</td></tr>
</table>
<h2>Violation</h2>
<table>
<tr><th>Reason</th><td>{{ r.violation.title }} ({{ r.violation.reason_code }})</td></tr>
<tr><th>Rule, article</th><td>{{ r.violation.rule }}, {{ r.violation.article }}</td></tr>
<tr><th>Severity</th><td>{{ r.violation.severity }}</td></tr>
<tr><th>Case</th><td>{{ r.violation.case_id or "none" }}</td></tr>
<tr><th>Room</th><td>{{ r.violation.room_id or "none" }}</td></tr>
<tr><th>Note</th><td>{{ r.violation.note }}</td></tr>
</table>
<h2>Measure</h2>
<table>
<tr><th>Sanction</th><td>{{ r.sanction.kind }}{% if r.sanction.scopes %} of {{ r.sanction.scopes|join(", ") }}
{% endif %}</td></tr>
<tr><th>From / until</th><td>{{ r.sanction.starts_at }} / {{ r.sanction.ends_at or "-" }}</td></tr>
<tr><th>Escalation</th><td>{{ r.sanction.escalation }}</td></tr>
<tr><th>Credit deducted</th><td>{{ r.sanction.credit_deducted }}</td></tr>
<tr><th>Decided by</th><td>{{ r.sanction.created_by }}</td></tr>
<tr><th>Status</th><td>{{ r.sanction.status }}</td></tr>
</table>
<h2>Actions carried out</h2>
<table>{% for k, v in r.actions.items() %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% else %}
<tr><td class="muted">pending</td></tr>{% endfor %}</table>
<h2>Evidence preserved</h2>
<table><tr><th>Kind</th><th>Reference</th></tr>
{% for e in r.evidence %}<tr><td>{{ e.kind }}</td><td>{{ e.ref }}</td></tr>{% else %}
<tr><td colspan="2" class="muted">none recorded</td></tr>{% endfor %}</table>
{% if r.appeal %}<h2>Appeal</h2>
<table><tr><th>Status</th><td>{{ r.appeal.status }}</td></tr>
<tr><th>Decided by</th><td>{{ r.appeal.decided_by }}</td></tr>
<tr><th>Reason</th><td>{{ r.appeal.decision_reason }}</td></tr></table>{% endif %}
<p class="muted">Signature of the responsible officer: ______________________ Date: ____________</p>
</body></html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(_HTML)


def build_report(s: Session, sanction: Sanction, report: IncidentReport | None) -> dict[str, Any]:
    acc = s.get(Account, sanction.account_id)
    rec = s.scalar(select(IdentityRecord).where(IdentityRecord.account_id == sanction.account_id)
                   .order_by(IdentityRecord.id.desc()).limit(1))
    phone = s.get(PhoneVerification, sanction.account_id)
    reason = REASONS.get(sanction.reason_code)
    evidence = s.scalars(select(EvidenceRef).where(EvidenceRef.sanction_id == sanction.id)
                         .order_by(EvidenceRef.id)).all()
    appeal = s.scalar(select(Appeal).where(Appeal.sanction_id == sanction.id))
    effects = dict(sanction.effects or {})
    return {
        "format": REPORT_FORMAT,
        "report": report.id if report else None,
        "drafted_at": report.created_at.isoformat() if report else None,
        "recipient": "the competent department (Measures, Art. 14)",
        "account": {"id": sanction.account_id, "nickname": acc.nickname if acc else "",
                    "status": acc.status if acc else "",
                    "identity": f"{rec.doc_type} {rec.doc_masked} {rec.name_masked}" if rec else "",
                    "phone": phone.phone_masked if phone else ""},
        "violation": {"reason_code": sanction.reason_code, "title": reason.title if reason else sanction.reason_code,
                      "rule": sanction.rule, "article": sanction.article, "severity": sanction.severity,
                      "case_id": sanction.case_id, "room_id": sanction.room_id, "note": sanction.note},
        "sanction": {"id": sanction.id, "kind": sanction.kind, "scopes": list(sanction.scopes or []),
                     "requested_kind": sanction.requested_kind, "starts_at": sanction.starts_at.isoformat(),
                     "ends_at": sanction.ends_at.isoformat() if sanction.ends_at else None,
                     "escalation": sanction.escalation, "credit_deducted": sanction.credit_deducted,
                     "created_by": sanction.created_by, "status": sanction.status},
        "actions": effects,
        "evidence": [{"kind": e.kind, "ref": e.ref, "details": e.details} for e in evidence],
        "appeal": None if appeal is None else {"status": appeal.status, "decided_by": appeal.decided_by,
                                               "decision_reason": appeal.decision_reason},
    }


def render_html(doc: dict[str, Any]) -> str:
    return _template.render(r=doc)
