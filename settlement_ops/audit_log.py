"""The audit log as a person reads it: one sentence per event and its details as a table of
labelled values (a before/after pair side by side), never a raw Python dict."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps

from .models import AuditEvent


@dataclass
class DetailRow:
    label: str
    value: str = ""
    before: str = ""
    after: str = ""
    changed: bool = False


def _words(key: str) -> str:
    return str(key).replace("_", " ").replace(".", " ").strip().capitalize()


def _text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{_words(k).lower()}: {_text(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or "—"
    return str(value)


def object_label(event: AuditEvent) -> str:
    """ "invoice 17" from ("receivables.invoice", "17"): the model's own name, not its label."""
    if not event.object_type:
        return ""
    try:
        name = apps.get_model(event.object_type)._meta.verbose_name
    except (LookupError, ValueError):
        name = _words(event.object_type.rsplit(".", 1)[-1]).lower()
    return f"{name} {event.object_id}".strip()


def sentence(event: AuditEvent) -> str:
    who = event.username or "The system"
    detail = event.detail or {}
    if event.kind == AuditEvent.Kind.SIGN_IN:
        return f"{who} signed in."
    if event.kind == AuditEvent.Kind.SIGN_OUT:
        return f"{who} signed out."
    if event.kind == AuditEvent.Kind.SIGN_IN_FAILED:
        return f"A sign-in as {event.username or 'an unknown user'} failed."
    if event.kind == AuditEvent.Kind.ACCESS_REFUSED:
        where = f" to {detail.get('method', 'GET')} {detail['path']}" if detail.get("path") else ""
        return f"{who} was refused access{where}" + (f" ({_words(event.action).lower()})." if event.action else ".")
    what = _words(event.action).lower() if event.action else event.get_kind_display().lower()
    target = object_label(event)
    prefix = "approved: " if event.kind == AuditEvent.Kind.APPROVAL else ""
    return f"{who} — {prefix}{what}" + (f", {target}." if target else ".")


def detail_rows(event: AuditEvent) -> list[DetailRow]:
    """Labelled values; a `before`/`after` pair of dicts becomes one row per field with both."""
    detail = dict(event.detail or {})
    if event.kind == AuditEvent.Kind.ACCESS_REFUSED:
        detail.pop("path", None), detail.pop("method", None)
    rows = []
    before, after = detail.pop("before", None), detail.pop("after", None)
    if isinstance(before, dict) or isinstance(after, dict):
        before, after = before or {}, after or {}
        for key in list(dict.fromkeys([*before, *after])):
            b, a = _text(before.get(key)), _text(after.get(key))
            rows.append(DetailRow(_words(key), before=b, after=a, changed=b != a))
    elif before is not None or after is not None:
        rows.append(DetailRow("Value", before=_text(before), after=_text(after), changed=_text(before) != _text(after)))
    rows.extend(DetailRow(_words(key), value=_text(value)) for key, value in detail.items())
    return rows


def readable(events) -> list[AuditEvent]:
    """The events (a page) with `.sentence` and `.rows` set for the template."""
    events = list(events)
    for event in events:
        event.sentence = sentence(event)
        event.rows = detail_rows(event)
    return events
