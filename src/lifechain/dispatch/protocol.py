"""The call-taking protocol as data: entry questions, one card per chief complaint, rules that give a determinant.

Pure (obeys the core purity rule): it reads only the protocol file it is given. The format is described in
docs/decisions/dispatch-protocol.md. Rules are evaluated in order, first match wins; the entry rules (arrest
recognition, unconscious) apply on every card, and the more severe of entry and card determinants is kept.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lifechain.errors import Invalid, describe
from lifechain.files import read_yaml

__all__ = [
    "DEFAULT_PATH",
    "PATHWAYS",
    "CardSpec",
    "Determinant",
    "Protocol",
    "ProtocolSpec",
    "QuestionSpec",
    "ResponsePlan",
    "default_protocol",
    "example_failures",
    "load_protocol",
    "matches",
    "next_questions",
    "triage",
]

DEFAULT_PATH = Path(__file__).resolve().parent / "protocols" / "default.yaml"
PATHWAYS = ("suspected_cardiac_arrest", "chest_pain_stemi", "stroke", "poisoning", "major_trauma", "choking",
            "mass_casualty")
Text = dict[str, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitNeed(_Model):
    """How many units of one type a response plan sends."""

    type: Literal["ALS", "BLS"]
    count: int = Field(ge=1, le=20)


class PlanSpec(_Model):
    """A response plan: units by type, whether to alert volunteer first responders and fetch an AED."""

    label: Text
    units: tuple[UnitNeed, ...]
    volunteers: bool = False
    aed: bool = False
    prenotify_hospital: bool = False


class AnswerSpec(_Model):
    """One allowed answer to a choice question."""

    id: str
    text: Text


class QuestionSpec(_Model):
    """A key question: a choice among answers, or a number within bounds; asked only when `ask_if` holds."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: Text
    kind: Literal["choice", "number"] = "choice"
    answers: tuple[AnswerSpec, ...] = ()
    min: float | None = None
    max: float | None = None
    unit: Text | None = None
    ask_if: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _shape(self) -> QuestionSpec:
        if self.kind == "choice" and len(self.answers) < 2:
            raise ValueError(f"choice question {self.id!r} needs at least two answers")
        if self.kind == "number" and self.answers:
            raise ValueError(f"number question {self.id!r} cannot list answers")
        return self


class RuleSpec(_Model):
    """An answer pattern and the determinant it gives."""

    when: dict[str, Any]
    code: str
    priority: int = Field(ge=1, le=4)
    pathways: tuple[str, ...] = ()
    plan: str
    reason: Text
    tcpr: bool = False


class DefaultSpec(_Model):
    """The determinant of a card when no rule matches."""

    code: str
    priority: int = Field(ge=1, le=4)
    pathways: tuple[str, ...] = ()
    plan: str
    reason: Text


class ExampleSpec(_Model):
    """A worked example shipped with the card: answers and the code they must give (the protocol's own tests)."""

    answers: dict[str, Any]
    code: str


class CardSpec(_Model):
    """One chief complaint: its key questions, its rules in order, and its default."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    number: int
    label: Text
    questions: tuple[QuestionSpec, ...] = ()
    rules: tuple[RuleSpec, ...] = ()
    default: DefaultSpec
    examples: tuple[ExampleSpec, ...] = ()


class ProtocolSpec(_Model):
    """A whole protocol file."""

    version: str = Field(min_length=1)
    name: Text
    languages: tuple[str, ...]
    priorities: dict[int, Text]
    pathways: dict[str, Text]
    plans: dict[str, PlanSpec]
    entry_questions: tuple[QuestionSpec, ...]
    entry_rules: tuple[RuleSpec, ...]
    tcpr_prompts: tuple[Text, ...]
    cards: tuple[CardSpec, ...]

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("at least one language is required")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ProtocolSpec:
        problems = _check(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


# ----------------------------------------------------------------------------------------------------------------
# Cross-checks made on load (each message names where the problem is)

def _texts(spec: ProtocolSpec) -> list[tuple[str, Text]]:
    """Every translatable text in the protocol with a path naming it."""
    out: list[tuple[str, Text]] = [("name", spec.name)]
    out += [(f"priorities.{k}", t) for k, t in spec.priorities.items()]
    out += [(f"pathways.{k}", t) for k, t in spec.pathways.items()]
    out += [(f"plans.{k}.label", p.label) for k, p in spec.plans.items()]
    out += [(f"tcpr_prompts[{i}]", t) for i, t in enumerate(spec.tcpr_prompts)]
    out += _question_texts("entry_questions", spec.entry_questions)
    out += [(f"entry_rules.{r.code}.reason", r.reason) for r in spec.entry_rules]
    for c in spec.cards:
        out.append((f"cards.{c.id}.label", c.label))
        out += _question_texts(f"cards.{c.id}", c.questions)
        out += [(f"cards.{c.id}.rules.{r.code}.reason", r.reason) for r in c.rules]
        out.append((f"cards.{c.id}.default.reason", c.default.reason))
    return out


def _question_texts(where: str, questions: tuple[QuestionSpec, ...]) -> list[tuple[str, Text]]:
    out: list[tuple[str, Text]] = []
    for q in questions:
        out.append((f"{where}.{q.id}.text", q.text))
        out += [(f"{where}.{q.id}.answers.{a.id}", a.text) for a in q.answers]
        if q.unit is not None:
            out.append((f"{where}.{q.id}.unit", q.unit))
    return out


def _check(spec: ProtocolSpec) -> list[str]:
    problems = []
    for where, text in _texts(spec):
        missing = [lang for lang in spec.languages if not str(text.get(lang, "")).strip()]
        if missing:
            problems.append(f"{where}: missing text in {', '.join(missing)}")
    if set(spec.priorities) != {1, 2, 3, 4}:
        problems.append("priorities must define exactly 1, 2, 3 and 4")
    entry_ids = {q.id for q in spec.entry_questions}
    codes: set[str] = set()
    numbers: set[int] = set()
    for rule in spec.entry_rules:
        problems += _check_rule(spec, "entry_rules", rule.code, rule.pathways, rule.plan, rule.when,
                                {q.id: q for q in spec.entry_questions}, codes)
    for card in spec.cards:
        qs = {q.id: q for q in spec.entry_questions}
        for q in card.questions:
            if q.id in qs:
                problems.append(f"cards.{card.id}: question {q.id!r} is defined twice")
            qs[q.id] = q
        if card.number in numbers:
            problems.append(f"cards.{card.id}: card number {card.number} is used twice")
        numbers.add(card.number)
        for q in card.questions:
            if q.ask_if is not None:
                problems += _check_condition(f"cards.{card.id}.{q.id}.ask_if", q.ask_if, qs)
        for rule in card.rules:
            problems += _check_rule(spec, f"cards.{card.id}", rule.code, rule.pathways, rule.plan, rule.when, qs,
                                    codes)
        d = card.default
        problems += _check_rule(spec, f"cards.{card.id}.default", d.code, d.pathways, d.plan, {}, qs, codes)
        problems += [f"cards.{card.id}.examples: unknown question {k!r}" for e in card.examples
                     for k in e.answers if k not in qs]
    ids = [c.id for c in spec.cards]
    problems += [f"cards: id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    problems += [f"entry question {q!r} collides with a card" for q in entry_ids if q in ids]
    return problems


def _check_rule(spec: ProtocolSpec, where: str, code: str, pathways: tuple[str, ...], plan: str,
                when: Mapping[str, Any], qs: Mapping[str, QuestionSpec], codes: set[str]) -> list[str]:
    problems = []
    if code in codes:
        problems.append(f"{where}: code {code!r} is used twice")
    codes.add(code)
    problems += [f"{where}.{code}: unknown pathway {p!r}" for p in pathways if p not in spec.pathways]
    if plan not in spec.plans:
        problems.append(f"{where}.{code}: unknown plan {plan!r}")
    problems += _check_condition(f"{where}.{code}.when", when, qs)
    return problems


OPERATORS = ("gte", "gt", "lte", "lt")


def _check_condition(where: str, cond: Mapping[str, Any], qs: Mapping[str, QuestionSpec]) -> list[str]:
    """Problems in a condition: unknown questions, answers or operators."""
    problems: list[str] = []
    for key, want in cond.items():
        if key in ("all", "any"):
            if not isinstance(want, list):
                problems.append(f"{where}.{key}: must be a list of conditions")
                continue
            for i, sub in enumerate(want):
                problems += _check_condition(f"{where}.{key}[{i}]", sub, qs)
            continue
        q = qs.get(key)
        if q is None:
            problems.append(f"{where}: unknown question {key!r}")
        elif q.kind == "choice":
            values = want if isinstance(want, list) else [want]
            ids = {a.id for a in q.answers}
            problems += [f"{where}: question {key!r} has no answer {v!r}" for v in values if v not in ids]
        elif not (isinstance(want, dict) and want and set(want) <= set(OPERATORS)):
            problems.append(f"{where}: number question {key!r} needs a comparison among {', '.join(OPERATORS)}")
    return problems


# ----------------------------------------------------------------------------------------------------------------
# The loaded protocol and its answers

@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """What to send: units by type, volunteer first responders, an AED, hospital pre-notification."""

    id: str
    label: Text
    units: tuple[tuple[str, int], ...]
    volunteers: bool
    aed: bool
    prenotify_hospital: bool


@dataclass(frozen=True, slots=True)
class Determinant:
    """The outcome of triage: priority 1-4, pathways, response plan, code and the reasons, with the protocol version."""

    protocol_version: str
    complaint: str
    code: str
    priority: int
    priority_label: Text
    pathways: frozenset[str]
    response_plan: ResponsePlan
    reasons: tuple[Text, ...]
    suspected_arrest: bool
    tcpr_prompts: tuple[Text, ...]
    answers: tuple[tuple[str, Any], ...]
    unanswered: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for storing with the incident."""
        plan = self.response_plan
        return {
            "protocol_version": self.protocol_version, "complaint": self.complaint, "code": self.code,
            "priority": self.priority, "priority_label": dict(self.priority_label),
            "pathways": sorted(self.pathways), "suspected_arrest": self.suspected_arrest,
            "response_plan": {"id": plan.id, "label": dict(plan.label),
                              "units": [{"type": t, "count": n} for t, n in plan.units],
                              "volunteers": plan.volunteers, "aed": plan.aed,
                              "prenotify_hospital": plan.prenotify_hospital},
            "reasons": [dict(r) for r in self.reasons], "tcpr_prompts": [dict(p) for p in self.tcpr_prompts],
            "answers": dict(self.answers), "unanswered": list(self.unanswered),
        }


@dataclass(frozen=True)
class Protocol:
    """A validated call-taking protocol, ready to triage with."""

    spec: ProtocolSpec

    @property
    def version(self) -> str:
        """The protocol version stored with every determinant."""
        return self.spec.version

    @functools.cached_property
    def cards(self) -> dict[str, CardSpec]:
        """Cards by complaint id."""
        return {c.id: c for c in self.spec.cards}

    def card(self, complaint: str) -> CardSpec:
        """The card for `complaint`; raises `Invalid` naming it when unknown."""
        try:
            return self.cards[complaint]
        except KeyError:
            raise Invalid(f"unknown complaint {complaint!r}: expected one of {', '.join(self.cards)}",
                          field="complaint") from None

    def questions(self, complaint: str) -> dict[str, QuestionSpec]:
        """Entry and card questions by id, in asking order."""
        qs = {q.id: q for q in self.spec.entry_questions}
        qs.update({q.id: q for q in self.card(complaint).questions})
        return qs


def load_protocol(source: str | Path | Mapping[str, Any]) -> Protocol:
    """Load and validate a protocol from a YAML/JSON file path or an already-parsed mapping; raises `Invalid`."""
    data: Any = source
    if isinstance(source, str | Path):
        data = read_yaml(Path(source), what="protocol file")
    if not isinstance(data, Mapping):
        raise Invalid("a protocol must be a mapping with version, languages, entry_questions, cards, ...")
    # Top-level keys starting with "x_" hold YAML anchors (shared answer lists) and are not part of the protocol.
    body = {k: v for k, v in data.items() if not str(k).startswith("x_")}
    try:
        return Protocol(ProtocolSpec.model_validate(body))
    except ValidationError as exc:
        raise Invalid("invalid protocol: " + describe(exc), errors=exc.errors(include_url=False)) from None


@functools.cache
def default_protocol() -> Protocol:
    """The protocol shipped with Lifechain (loaded once)."""
    return load_protocol(DEFAULT_PATH)


def _validate_answers(protocol: Protocol, complaint: str, answers: Mapping[str, Any]) -> dict[str, QuestionSpec]:
    qs = protocol.questions(complaint)
    for key, value in answers.items():
        q = qs.get(key)
        if q is None:
            raise Invalid(f"unknown question {key!r} for complaint {complaint!r}", field=key)
        if value is None:
            continue
        if q.kind == "choice":
            ids = [a.id for a in q.answers]
            if not isinstance(value, str) or value not in ids:
                raise Invalid(f"question {key!r}: answer {value!r} is not one of {', '.join(ids)}", field=key)
        else:
            _check_number(q, value)
    return qs


def _check_number(q: QuestionSpec, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"question {q.id!r}: answer {value!r} must be a number", field=q.id)
    if (q.min is not None and value < q.min) or (q.max is not None and value > q.max):
        raise Invalid(f"question {q.id!r}: answer {value} is outside [{q.min}, {q.max}]", field=q.id)


def matches(cond: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """True when `answers` satisfy `cond`; an unanswered question never satisfies a condition on it."""
    for key, want in cond.items():
        if key == "all":
            ok = all(matches(c, answers) for c in want)
        elif key == "any":
            ok = any(matches(c, answers) for c in want)
        else:
            ok = _matches_one(answers.get(key), want)
        if not ok:
            return False
    return True


def _matches_one(value: Any, want: Any) -> bool:
    if value is None:
        return False
    if isinstance(want, dict):
        checks = {"gte": value >= want.get("gte", value), "gt": "gt" not in want or value > want["gt"],
                  "lte": value <= want.get("lte", value), "lt": "lt" not in want or value < want["lt"]}
        return all(checks.values())
    return bool(value in want) if isinstance(want, list) else bool(value == want)


def _plan(protocol: Protocol, plan_id: str) -> ResponsePlan:
    p = protocol.spec.plans[plan_id]
    return ResponsePlan(plan_id, p.label, tuple((u.type, u.count) for u in p.units), p.volunteers, p.aed,
                        p.prenotify_hospital)


def _first_match(rules: tuple[RuleSpec, ...], answers: Mapping[str, Any]) -> RuleSpec | None:
    return next((r for r in rules if matches(r.when, answers)), None)


def triage(protocol: Protocol, complaint: str, answers: Mapping[str, Any]) -> Determinant:
    """The determinant for `complaint` given the answers so far; raises `Invalid` naming an unknown complaint,
    question or answer. The entry rules (arrest recognition) apply on every card; the more severe result wins."""
    card = protocol.card(complaint)
    qs = _validate_answers(protocol, complaint, answers)
    given = {k: v for k, v in answers.items() if v is not None}
    entry = _first_match(protocol.spec.entry_rules, given)
    card_rule: RuleSpec | DefaultSpec = _first_match(card.rules, given) or card.default
    chosen: RuleSpec | DefaultSpec = card_rule
    if entry is not None and entry.priority <= card_rule.priority:
        chosen = entry
    reasons = tuple(r.reason for r in (entry, card_rule) if r is not None)
    pathways = set(card_rule.pathways) | set(entry.pathways if entry else ())
    arrest = "suspected_cardiac_arrest" in pathways
    tcpr = any(isinstance(r, RuleSpec) and r.tcpr for r in (entry, card_rule))
    return Determinant(
        protocol_version=protocol.version, complaint=complaint, code=chosen.code, priority=chosen.priority,
        priority_label=protocol.spec.priorities[chosen.priority], pathways=frozenset(pathways),
        response_plan=_plan(protocol, chosen.plan), reasons=reasons, suspected_arrest=arrest,
        tcpr_prompts=protocol.spec.tcpr_prompts if (arrest or tcpr) else (),
        answers=tuple(sorted(given.items())),
        unanswered=tuple(q for q in qs if q not in given and _asked(qs[q], given)),
    )


def _asked(q: QuestionSpec, answers: Mapping[str, Any]) -> bool:
    return q.ask_if is None or matches(q.ask_if, answers)


def next_questions(protocol: Protocol, complaint: str, answers: Mapping[str, Any]) -> tuple[QuestionSpec, ...]:
    """The questions still to ask, in order (entry questions first); none once an arrest is recognised, since the
    call-taker then moves straight to dispatch and telephone CPR."""
    qs = _validate_answers(protocol, complaint, answers)
    given = {k: v for k, v in answers.items() if v is not None}
    entry = _first_match(protocol.spec.entry_rules, given)
    if entry is not None and "suspected_cardiac_arrest" in entry.pathways:
        return ()
    return tuple(q for q in qs.values() if q.id not in given and _asked(q, given))


def example_failures(protocol: Protocol) -> list[str]:
    """The protocol's own worked examples that give another code, and rule codes no example reaches (empty = good)."""
    problems = []
    for card in protocol.spec.cards:
        reached = set()
        for ex in card.examples:
            got = triage(protocol, card.id, ex.answers).code
            reached.add(got)
            if got != ex.code:
                problems.append(f"cards.{card.id}: example {ex.answers} gives {got}, expected {ex.code}")
        codes = [r.code for r in card.rules] + [card.default.code]
        problems += [f"cards.{card.id}: no example reaches {c}" for c in codes if c not in reached]
    return problems
