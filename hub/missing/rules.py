"""The rules of the source documents about missing episodes, computed from what is recorded. They
are the one definition: the due times the menu and the lists count are stored beside each episode
(`hub.missing.deadlines`), but computed here, by `deadlines`, every time an episode or what the
rules read about it changes, so a corrected found time moves them in the same transaction.

- prevention (safe-and-well) check by the police within 4 hours of return (001);
- return home interview within 72 hours of return, for a child who meets the criteria (004);
- a missing management meeting to consider (002);
- a trigger plan on file within one week of a strategy discussion (002).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.models.missing import Classification, MissingEpisode

PREVENTION_CHECK_WITHIN = timedelta(hours=4)
RETURN_INTERVIEW_WITHIN = timedelta(hours=72)
TRIGGER_PLAN_WITHIN = timedelta(weeks=1)
LONG_EPISODE = timedelta(hours=24)
MEETING_LOOKBACK = timedelta(days=183)          # "the number of episodes in 6 months"
REPEATED_EPISODES = 3                            # this one and two earlier in six months

# The time-limited duties, by what the pages call them (`Due.what`).
PREVENTION_CHECK = "Prevention (safe and well) check"
RETURN_INTERVIEW = "Return home interview"
IRO_TOLD = "Independent Reviewing Officer told"
TRIGGER_PLAN = "Trigger plan on file"

# The risk factors of 002 ("Assessing risk"), by code: codes are stored, labels shown.
RISK_FACTORS: dict[str, str] = {
    "legal_status": "Legal status of the child (for example looked after, on a plan)",
    "age_10_or_under": "Aged 10 or under",
    "immature_or_vulnerable": "Immature or generally vulnerable for their age",
    "state_of_mind": "Concern about state of mind before going missing",
    "environment": "Weather, time of year or day, community events",
    "family_conflict": "Family or relationship problems, or recent conflict or abuse",
    "previous_absences": "Previous history of going missing",
    "unaware_of_risk": "Lacks awareness of the risks, including learning difficulties",
    "essential_medication": "Needs essential medication or treatment",
    "physical_ability": "May not be able to interact safely with others or in an unknown place",
    "mental_health": "Mental illness or psychological disorder increasing risk",
    "harmed_before": "Suffered or was exposed to harm while missing before",
    "self_harm": "History of suspected suicide attempts or self-harm",
    "substance_misuse": "Drug, alcohol or substance misuse",
    "missing_to_someone": "Thought to be missing to or from someone or a situation",
    "risky_associations": "Associates with adults or children who present a risk of harm",
    "bullying_or_exploitation": "Ongoing victim of bullying, harassment or exploitation",
    "abduction_trafficking": "Victim or potential victim of abduction, forced marriage, FGM or trafficking",
    "danger_to_others": "Risk of posing a danger to others or of offending",
    "violent_incident": "Involved in a violent or racial incident before going missing",
    "peer_influence": "Influence of peer groups, families or friends",
    "predatory_influence": "Others want to use the child for crime, sex or drugs",
    "locations_of_concern": "Locations of concern",
    "financial_problems": "Financial problems",
    "social_media": "Use of social networking sites",
    "school_problems": "School, college or employment problems",
    "crime_while_missing": "Engaged (or believed to have engaged) in crime while missing",
    "harmed_while_missing": "Hurt or harmed (or believed to have been) while missing",
    "sexual_exploitation_risk": "Identified risk of sexual exploitation",
    "contact_with_risky_people": "Contact with people posing a risk to children",
}

# Push and pull factors of 002 and 004.
PUSH_FACTORS: dict[str, str] = {
    "problems_at_home": "Problems at home: arguments to long-term abuse or maltreatment",
    "family_breakdown": "Family break-up or breakdown",
    "mental_health": "Mental health problems",
    "bullying": "Bullying, or other problems at school",
    "pregnancy": "Pregnancy, or fear of it",
    "personal_problems": "Other personal problems",
}
PULL_FACTORS: dict[str, str] = {
    "friends_or_family": "Wanting to be near friends or family",
    "peer_pressure": "Peer pressure",
    "grooming": "Grooming for sexual exploitation or trafficking",
    "exploitation_by_adults": "Adults seeking to exploit them (crime, drugs)",
}
FACTOR_LISTS = {"risk_factors": RISK_FACTORS, "push_factors": PUSH_FACTORS, "pull_factors": PULL_FACTORS}

# The return interview criteria of 004 that come from the risk assessment (the others come from
# the child's status and the episodes themselves).
_RHI_FACTORS = {
    "crime_while_missing": "engaged in crime while missing",
    "harmed_while_missing": "hurt or harmed while missing",
    "mental_health": "known mental health issues",
    "sexual_exploitation_risk": "identified risk of sexual exploitation",
    "contact_with_risky_people": "contact with people posing a risk to children",
    "risky_associations": "contact with people posing a risk to children",
}
_CONCERN_FACTORS = {"risky_associations", "locations_of_concern", "predatory_influence", "contact_with_risky_people"}


@dataclass(frozen=True)
class Due:
    """A duty with its due time; `done_at` when it was done, `overdue` against `now`."""

    what: str
    due_at: datetime
    done_at: datetime | None
    overdue: bool


@dataclass
class Assessment:
    """Everything computed about one episode, for its page and the missing team's lists."""

    duration: timedelta
    return_interview_reasons: list[str] = field(default_factory=list)
    meeting_reasons: list[str] = field(default_factory=list)
    duties: list[Due] = field(default_factory=list)

    @property
    def return_interview_needed(self) -> bool:
        return bool(self.return_interview_reasons)

    @property
    def overdue(self) -> list[Due]:
        return [d for d in self.duties if d.overdue]


def duration(episode: MissingEpisode, now: datetime) -> timedelta:
    return (episode.found_at or now) - episode.reported_start


def return_interview_reasons(episode: MissingEpisode, looked_after: bool, episodes_ever: int,
                             now: datetime) -> list[str]:
    """The criteria of 004 the child meets (any one is enough); empty when none."""
    reasons = []
    if looked_after:
        reasons.append("looked after")
    if duration(episode, now) > LONG_EPISODE:
        reasons.append("missing for over 24 hours")
    if episodes_ever >= 2:
        reasons.append("missing on two or more occasions")
    for code in sorted(episode.codes("risk_factors") & _RHI_FACTORS.keys()):
        if _RHI_FACTORS[code] not in reasons:
            reasons.append(_RHI_FACTORS[code])
    return reasons


def meeting_reasons(episode: MissingEpisode, episodes_in_six_months: int, now: datetime) -> list[str]:
    """Why a missing management meeting should be considered (002); empty when nothing says so."""
    reasons = []
    if episodes_in_six_months >= REPEATED_EPISODES:
        reasons.append(f"{episodes_in_six_months} episodes in the last 6 months")
    if duration(episode, now) >= LONG_EPISODE and episode.classification == Classification.missing:
        reasons.append("a single episode of 24 hours or more")
    if episode.police_requested_meeting:
        reasons.append("requested by the police")
    if episode.codes("risk_factors") & _CONCERN_FACTORS:
        reasons.append("associations or locations of concern")
    return reasons


def duties(episode: MissingEpisode, rhi_needed: bool, looked_after: bool, now: datetime) -> list[Due]:
    """The time-limited duties that apply to this episode so far."""
    found: list[Due] = []

    def due(what: str, due_at: datetime, done_at: datetime | None) -> None:
        found.append(Due(what, due_at, done_at, done_at is None and now > due_at))

    if episode.found_at is not None:
        due(PREVENTION_CHECK, episode.found_at + PREVENTION_CHECK_WITHIN,
            episode.prevention_check_at)
        if rhi_needed:
            # Declined counts as dealt with: the child may decline (001).
            done = episode.return_interview_at or (episode.return_interview_offered_at
                                                   if episode.return_interview_declined else None)
            due(RETURN_INTERVIEW, episode.found_at + RETURN_INTERVIEW_WITHIN, done)
    if looked_after:
        # The IRO is told of every episode; "due" at once, overdue after a day.
        due(IRO_TOLD, episode.reported_start + LONG_EPISODE, episode.iro_informed_at)
    if episode.strategy_discussion_at is not None:
        due(TRIGGER_PLAN, episode.strategy_discussion_at + TRIGGER_PLAN_WITHIN, episode.trigger_plan_at)
    return found


def assess(episode: MissingEpisode, looked_after: bool, starts: list[datetime], now: datetime) -> Assessment:
    """`starts`: the reported starts of all the child's episodes, this one included."""
    episodes_ever = len(starts)
    recent = sum(1 for s in starts if episode.reported_start - MEETING_LOOKBACK <= s <= episode.reported_start)
    rhi = return_interview_reasons(episode, looked_after, episodes_ever, now)
    return Assessment(
        duration=duration(episode, now),
        return_interview_reasons=rhi,
        meeting_reasons=meeting_reasons(episode, recent, now),
        duties=duties(episode, bool(rhi), looked_after, now),
    )


def deadlines(episode: MissingEpisode, looked_after: bool, episodes_ever: int) -> dict[str, datetime]:
    """What is due and when: each duty of `duties` not yet done, by what it is, with its due time.

    No `now`: whether a duty is overdue depends on the time of asking, but which duties apply and
    when they fall due do not. The return interview is a duty only once the child is found, and
    then the episode's duration (the one criterion that reads the clock) is fixed. So these can be
    stored and compared with the clock in SQL."""
    asked = episode.found_at or episode.reported_start  # any time gives the same answer (above)
    rhi = return_interview_reasons(episode, looked_after, episodes_ever, asked)
    return {d.what: d.due_at for d in duties(episode, bool(rhi), looked_after, asked) if d.done_at is None}
