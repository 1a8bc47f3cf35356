from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from insights.credit.events import ContactEvent
from insights.credit.grading import grade_customer, repeat_flags
from insights.credit.scorecard import load_scorecard

CARD = load_scorecard()
AS_OF = datetime(2026, 11, 24)
TYPES = ["网络质量", "费用争议", "终端", "服务质量", None]


def _event(i: int, days_ago: float, **kw: object) -> ContactEvent:
    base = {"customer_key": "c1", "record_id": f"r{i:04d}", "at": AS_OF - timedelta(days=days_ago), "source": "tickets", "complaint": True}
    return ContactEvent(**{**base, **kw})  # type: ignore[arg-type]


events_strategy = st.lists(
    st.builds(
        lambda days, kind, founded, esc, comp, complaint, dis: (days, kind, founded, esc, comp, complaint, dis),
        st.floats(0, 400),
        st.sampled_from(TYPES),
        st.sampled_from([True, False, None]),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    ),
    max_size=25,
)


def _history(specs: list[tuple]) -> list[ContactEvent]:  # type: ignore[type-arg]
    evs = [
        _event(
            i,
            d,
            complaint_type=k if c else None,
            founded=f if c else None,
            escalated=e and c,
            compensation=comp and c,
            complaint=c,
            dissatisfied=dis,
            source="tickets" if c else "calls",
        )
        for i, (d, k, f, e, comp, c, dis) in enumerate(specs)
    ]
    return sorted(evs, key=lambda e: (e.at, e.record_id))


def _score(events: list[ContactEvent]) -> float:
    return grade_customer("c1", sorted(events, key=lambda e: (e.at, e.record_id)), CARD, AS_OF).score


@settings(max_examples=150, deadline=None)
@given(events_strategy, st.floats(0, 400), st.sampled_from(TYPES))
def test_another_escalation_never_lowers_the_score(specs: list[tuple], days: float, kind: str | None) -> None:  # type: ignore[type-arg]
    history = _history(specs)
    more = [*history, _event(9999, days, complaint_type=kind, escalated=True, founded=True)]
    assert _score(more) >= _score(history)
    # and turning an existing complaint into an escalated one never lowers it either
    for i, ev in enumerate(history):
        if ev.complaint and not ev.escalated:
            bumped = history[:i] + [replace(ev, escalated=True)] + history[i + 1 :]
            assert _score(bumped) >= _score(history)


@settings(max_examples=150, deadline=None)
@given(events_strategy, st.floats(0, 400), st.sampled_from(TYPES[:-1]), st.sampled_from([True, None]))
def test_another_founded_repeat_complaint_never_lowers_the_score(specs: list[tuple], days: float, kind: str, founded: bool | None) -> None:  # type: ignore[type-arg]
    history = _history(specs)
    first = _event(9998, days + 1, complaint_type=kind, founded=founded)
    again = _event(9999, days, complaint_type=kind, founded=founded)
    assert _score([*history, first]) >= _score(history)
    assert _score([*history, first, again]) >= _score([*history, first])


def test_no_complaints_gives_the_neutral_grade() -> None:
    assert grade_customer("c0", [], CARD, AS_OF).grade == CARD.neutral_grade == "C"
    calm = [_event(1, 3, complaint=False, source="calls"), _event(2, 10, complaint=False, source="forum")]
    grade = grade_customer("c0", calm, CARD, AS_OF)
    assert grade.score == CARD.neutral_score and grade.grade == CARD.neutral_grade


def test_factor_points_add_up_to_the_score() -> None:
    history = [
        _event(1, 5, complaint_type="网络质量", escalated=True),
        _event(2, 3, complaint_type="网络质量"),
        _event(3, 40, founded=False),
    ]
    grade = grade_customer("c1", history, CARD, AS_OF)
    assert abs(CARD.neutral_score + sum(f.points for f in grade.factors) - grade.score) < 1e-6
    points = {f.name: f.points for f in grade.factors}
    assert points["escalations"] > 0 and points["founded_repeats"] > 0 and points["unfounded"] < 0


def test_network_complaints_weigh_more_than_service_ones() -> None:
    network = grade_customer("c1", [_event(1, 5, complaint_type="网络质量")], CARD, AS_OF)
    service = grade_customer("c1", [_event(1, 5, complaint_type="服务质量")], CARD, AS_OF)
    assert network.score > service.score


def test_old_events_fade_and_events_after_as_of_do_not_count() -> None:
    recent = grade_customer("c1", [_event(1, 10, escalated=True)], CARD, AS_OF).score
    old = grade_customer("c1", [_event(1, 200, escalated=True)], CARD, AS_OF).score
    ancient = grade_customer("c1", [_event(1, 500, escalated=True)], CARD, AS_OF).score
    future = grade_customer("c1", [_event(1, -5, escalated=True)], CARD, AS_OF).score
    assert recent > old > ancient == future == CARD.neutral_score


def test_unfounded_repeat_complaints_lead_to_verify_first_not_to_less_service() -> None:
    history = [_event(i, 2 + i * 3, complaint_type="费用争议", founded=False) for i in range(6)]
    grade = grade_customer("c1", history, CARD, AS_OF)
    assert grade.score < CARD.neutral_score
    neutral = CARD.by_grade(CARD.neutral_grade).guidance
    assert grade.guidance.verify_first
    assert grade.guidance.response_hours <= neutral.response_hours and grade.guidance.resolution_hours <= neutral.resolution_hours


def test_repeats_by_type_or_similar_text_within_the_window() -> None:
    evs = [
        _event(1, 50, complaint_type="网络质量"),
        _event(2, 40, complaint_type="网络质量"),  # 10 days later: a repeat
        _event(3, 1, complaint_type="网络质量"),  # 39 days later: not
        _event(4, 30, complaint_type=None, text="家里宽带每天晚上断网好几次"),
        _event(5, 20, complaint_type=None, text="家里宽带每天晚上断网好几次了"),
        _event(6, 10, complaint_type=None, text="营业员态度很差"),
    ]
    ordered = sorted(evs, key=lambda e: e.at)
    flags = dict(zip([e.record_id for e in ordered], repeat_flags(ordered, CARD), strict=True))
    assert flags == {"r0001": False, "r0002": True, "r0003": False, "r0004": False, "r0005": True, "r0006": False}


def test_grading_is_deterministic_and_follows_the_scorecard() -> None:
    history = [_event(i, 20 + i * 30, complaint_type=TYPES[i % 4], escalated=i == 0) for i in range(3)]
    assert grade_customer("c1", history, CARD, AS_OF) == grade_customer("c1", list(history), CARD, AS_OF)
    heavier = CARD.model_copy(
        update={"factors": {**CARD.factors, "escalations": CARD.factors["escalations"].model_copy(update={"weight": 12.0})}}
    )
    assert grade_customer("c1", history, heavier, AS_OF).score > grade_customer("c1", history, CARD, AS_OF).score
