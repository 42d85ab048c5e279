"""SLA clocks in a market's business hours and public holidays, in its own timezone.

Deadlines are business minutes after the ticket opened: a ticket raised on Friday evening in
Jakarta is due on Monday, and one raised before a holiday skips it. Time waiting on the seller
does not count: on resume, the deadlines move by the business minutes the clock was paused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from settlement_ops.models import Market

from ..models import BusinessCalendar, PublicHoliday, SlaPolicy, Ticket

DEFAULT_OPENS, DEFAULT_CLOSES = time(9, 0), time(18, 0)
# Remaining share of the target under which a ticket shows "at risk".
AT_RISK_SHARE = 0.25


@dataclass(frozen=True)
class Calendar:
    tz: object
    opens: time
    closes: time
    weekdays: frozenset
    holidays: frozenset

    @classmethod
    def for_market(cls, market: Market) -> Calendar:
        row = BusinessCalendar.objects.filter(market=market).first()
        holidays = frozenset(PublicHoliday.objects.filter(market=market).values_list("date", flat=True))
        if row is None:
            return cls(market.tz, DEFAULT_OPENS, DEFAULT_CLOSES, frozenset(range(5)), holidays)
        weekdays = frozenset(int(day) for day in row.weekdays.split(",") if day.strip().isdigit() and int(day) < 7)
        # A calendar without a valid weekday would never reach a deadline: the default week.
        return cls(market.tz, row.opens, row.closes, weekdays or frozenset(range(5)), holidays)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.opens, self.tz), datetime.combine(day, self.closes, self.tz))

    def add_minutes(self, start: datetime, minutes: int) -> datetime:
        """The moment `minutes` business minutes after `start`."""
        moment = timezone.localtime(start, self.tz)
        remaining = timedelta(minutes=minutes)
        day = moment.date()
        for _ in range(3660):  # ten years of days: a calendar with no business day ends here
            if self.is_business_day(day):
                opens, closes = self._window(day)
                begin = max(moment, opens)
                if begin < closes:
                    if begin + remaining <= closes:
                        return begin + remaining
                    remaining -= closes - begin
            day += timedelta(days=1)
            moment = datetime.combine(day, time(0), self.tz)
        raise ValueError("the desk calendar has no business hours")

    def minutes_between(self, start: datetime, end: datetime) -> int:
        """Business minutes from `start` to `end` (0 when end is not later)."""
        if end <= start:
            return 0
        start, end = timezone.localtime(start, self.tz), timezone.localtime(end, self.tz)
        total = timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_business_day(day):
                opens, closes = self._window(day)
                begin, finish = max(start, opens), min(end, closes)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return int(total.total_seconds() // 60)


def policy_for(market: Market, category: str, priority: str) -> SlaPolicy | None:
    policies = SlaPolicy.objects.filter(market=market, priority=priority, category__in=[category, ""])
    return sorted(policies, key=lambda p: p.category == "")[0] if policies else None


# Without a configured policy: a working day to answer, five to resolve.
DEFAULT_MINUTES = {"urgent": (60, 480), "high": (240, 1080), "normal": (540, 2700), "low": (1080, 5400)}


def deadlines(market: Market, category: str, priority: str, opened_at: datetime) -> tuple[datetime, datetime]:
    policy = policy_for(market, category, priority)
    first, resolution = (
        (policy.first_response_minutes, policy.resolution_minutes) if policy else DEFAULT_MINUTES[priority]
    )
    calendar = Calendar.for_market(market)
    return calendar.add_minutes(opened_at, first), calendar.add_minutes(opened_at, resolution)


class Badge:
    ON_TRACK, AT_RISK, BREACHED, PAUSED, MET = "on_track", "at_risk", "breached", "paused", "met"
    LABELS = {
        "on_track": "On track",
        "at_risk": "At risk",
        "breached": "Breached",
        "paused": "Paused (waiting on seller)",
        "met": "Met",
    }


def badge(ticket: Ticket, now: datetime | None = None) -> str:
    """The SLA badge a queue shows: the first response target until answered, then resolution."""
    now = now or timezone.now()
    if not ticket.is_open:
        due = ticket.resolution_due_at
        return Badge.MET if ticket.resolved_at and ticket.resolved_at <= due else Badge.BREACHED
    if ticket.paused_at:
        return Badge.PAUSED
    due = ticket.resolution_due_at if ticket.first_responded_at else ticket.first_response_due_at
    if now > due:
        return Badge.BREACHED
    span = (due - ticket.created_at).total_seconds() or 1
    return Badge.AT_RISK if (due - now).total_seconds() / span < AT_RISK_SHARE else Badge.ON_TRACK


def breached_at(ticket: Ticket, now: datetime) -> bool:
    if not ticket.is_open or ticket.paused_at:
        return False
    if ticket.first_responded_at is None and now > ticket.first_response_due_at:
        return True
    return now > ticket.resolution_due_at
