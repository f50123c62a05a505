"""The call-taking protocol as data: loading, validation, triage, arrest recognition and question order."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lifechain.dispatch import protocol as protocol_module
from lifechain.dispatch.protocol import (
    DEFAULT_PATH,
    PATHWAYS,
    default_protocol,
    example_failures,
    load_protocol,
    next_questions,
    triage,
)
from lifechain.errors import Invalid

REQUIRED_CARDS = {
    "cardiac_arrest", "choking", "breathing_problems", "chest_pain", "stroke", "seizures", "poisoning",
    "allergic_reaction", "bleeding", "burns", "falls", "traffic_accident", "trauma", "pregnancy_childbirth",
    "diabetic", "psychiatric", "heat_cold", "drowning", "electrocution", "sick_person", "interfacility_transfer"}
ARREST = {"awake": "no", "breathing": "no"}


def raw() -> dict[str, Any]:
    """The default protocol file as plain data, to break on purpose."""
    data: dict[str, Any] = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def test_default_protocol_loads_versioned_and_cached() -> None:
    """The shipped protocol validates, carries a version, and is loaded once."""
    p = default_protocol()
    assert p.version == "2026.1"
    assert default_protocol() is p


def test_default_protocol_covers_every_required_complaint_and_pathway() -> None:
    """One card per chief complaint of DOMAIN.md §3a, and every pathway flag is defined."""
    p = default_protocol()
    assert set(p.cards) >= REQUIRED_CARDS
    assert set(PATHWAYS) <= set(p.spec.pathways)


def test_every_rule_of_every_card_is_reached_by_its_examples() -> None:
    """Each card's worked examples give their expected codes and reach every rule and the default."""
    assert example_failures(default_protocol()) == []


@pytest.mark.parametrize("complaint", sorted(REQUIRED_CARDS))
def test_arrest_recognised_on_every_card(complaint: str) -> None:
    """Unresponsive and not breathing => suspected arrest, priority 1, arrest plan with AED and volunteers, T-CPR."""
    d = triage(default_protocol(), complaint, ARREST)
    assert d.suspected_arrest and "suspected_cardiac_arrest" in d.pathways
    assert d.priority == 1 and d.response_plan.aed and d.response_plan.volunteers
    assert ("ALS", 1) in d.response_plan.units
    assert len(d.tcpr_prompts) >= 3 and all(t["en"] and t["zh-CN"] for t in d.tcpr_prompts)


@pytest.mark.parametrize("breathing", ["no", "agonal"])
def test_agonal_breathing_counts_as_not_breathing(breathing: str) -> None:
    """Gasping (agonal) breathing is recognised as arrest just like absent breathing."""
    d = triage(default_protocol(), "seizures", {"awake": "no", "breathing": breathing})
    assert d.code == "E-1-01" and d.suspected_arrest


def test_unresponsive_breathing_normally_is_not_arrest() -> None:
    """Unconscious but breathing normally is critical, without the arrest pathway or CPR prompts."""
    d = triage(default_protocol(), "diabetic", {"awake": "no", "breathing": "yes"})
    assert d.priority == 1 and not d.suspected_arrest and d.tcpr_prompts == ()
    assert d.code == "E-1-03"


def test_awake_patient_is_not_arrest() -> None:
    """A patient who is awake is never a suspected arrest, whatever the breathing answer."""
    d = triage(default_protocol(), "chest_pain", {"awake": "yes", "breathing": "agonal"})
    assert not d.suspected_arrest


def test_arrest_keeps_the_card_pathways() -> None:
    """An arrest on the poisoning card still flags poisoning (the hospital choice needs it)."""
    d = triage(default_protocol(), "poisoning", {**ARREST, "substance": "pesticide"})
    assert d.pathways == {"suspected_cardiac_arrest", "poisoning"}
    assert len(d.reasons) == 2


def test_stemi_chest_pain() -> None:
    """Ongoing chest pain with sweating is priority 1 on the STEMI pathway with hospital pre-notification."""
    d = triage(default_protocol(), "chest_pain", {"awake": "yes", "breathing": "yes", "pain_now": "yes",
                                                  "sweating_or_breathless": "yes"})
    assert (d.priority, d.pathways, d.response_plan.prenotify_hospital) == (1, {"chest_pain_stemi"}, True)


def test_stroke_uses_time_last_seen_well() -> None:
    """FAST positive is priority 1 within 4.5 h of last seen well and priority 2 after."""
    p = default_protocol()
    assert triage(p, "stroke", {"face_droop": "yes", "minutes_since_last_well": 270}).priority == 1
    assert triage(p, "stroke", {"face_droop": "yes", "minutes_since_last_well": 271}).priority == 2


def test_many_patients_flag_mass_casualty() -> None:
    """Five or more patients in a traffic accident give the mass-casualty flag and plan."""
    d = triage(default_protocol(), "traffic_accident", {"patients": 5})
    assert "mass_casualty" in d.pathways and d.response_plan.id == "mci"
    assert triage(default_protocol(), "traffic_accident", {"patients": 4}).response_plan.id == "multi_patient"


def test_determinant_records_version_answers_and_unanswered() -> None:
    """The determinant keeps the protocol version, the answers used and what was not asked yet."""
    d = triage(default_protocol(), "choking", {"awake": "yes", "breathing": None})
    assert d.protocol_version == "2026.1" and d.answers == (("awake", "yes"),)
    assert d.unanswered == ("breathing", "can_cough_speak")
    as_json = d.to_dict()
    assert as_json["protocol_version"] == "2026.1" and as_json["pathways"] == ["choking"]


@pytest.mark.parametrize(("complaint", "answers", "named"), [
    ("toothache", {}, "toothache"),
    ("stroke", {"colour": "blue"}, "colour"),
    ("stroke", {"face_droop": "maybe"}, "maybe"),
    ("stroke", {"face_droop": True}, "face_droop"),
    ("stroke", {"minutes_since_last_well": "soon"}, "must be a number"),
    ("stroke", {"minutes_since_last_well": -5}, "outside"),
])
def test_triage_refuses_unknown_complaint_question_or_answer(complaint: str, answers: dict[str, Any],
                                                             named: str) -> None:
    """An unknown complaint, question or answer is refused with a message naming it."""
    with pytest.raises(Invalid, match=named):
        triage(default_protocol(), complaint, answers)


def test_next_questions_in_order_and_conditional() -> None:
    """Entry questions come first; a conditional question appears only when its condition holds."""
    p = default_protocol()
    assert [q.id for q in next_questions(p, "seizures", {})] == ["awake", "breathing", "still_seizing",
                                                                 "known_epilepsy"]
    after = next_questions(p, "seizures", {"awake": "yes", "breathing": "yes", "still_seizing": "yes"})
    assert [q.id for q in after] == ["seizure_minutes", "known_epilepsy"]


def test_no_more_questions_once_arrest_recognised() -> None:
    """After arrest recognition the call-taker goes straight to dispatch and T-CPR."""
    assert next_questions(default_protocol(), "falls", ARREST) == ()


def test_every_text_in_both_languages() -> None:
    """The shipped protocol declares both languages, and the loader checks every text has each."""
    assert default_protocol().spec.languages == ("en", "zh-CN")
    data = raw()
    del data["cards"][3]["questions"][0]["text"]["zh-CN"]
    with pytest.raises(Invalid, match=r"cards\.chest_pain\.pain_now\.text: missing text in zh-CN"):
        load_protocol(data)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.pop("version"), "version"),
    (lambda d: d["cards"][0]["rules"][0].update(plan="helicopter"), "unknown plan 'helicopter'"),
    (lambda d: d["cards"][0]["rules"][0].update(pathways=["fever"]), "unknown pathway 'fever'"),
    (lambda d: d["cards"][0]["rules"][0].update(when={"nonsense": "yes"}), "unknown question 'nonsense'"),
    (lambda d: d["cards"][0]["rules"][0].update(when={"awake": "perhaps"}), "has no answer 'perhaps'"),
    (lambda d: d["cards"][0]["rules"][0].update(priority=5), "priority"),
    (lambda d: d["cards"][1].update(id="cardiac_arrest"), "used twice"),
    (lambda d: d["cards"][1]["rules"][0].update(code="01-1-01"), "code '01-1-01' is used twice"),
    (lambda d: d["cards"][3]["rules"][1].update(when={"age": 30}), "needs a comparison"),
    (lambda d: d["cards"][0].update(colour="red"), "colour"),
])
def test_bad_protocol_gives_a_clear_error(mutate: Any, message: str) -> None:
    """A broken protocol is refused on load with a message naming what and where."""
    data = raw()
    mutate(data)
    with pytest.raises(Invalid, match=message):
        load_protocol(data)


def test_bad_files(tmp_path: Path) -> None:
    """A missing file, bad YAML, or a non-mapping document is refused clearly."""
    with pytest.raises(Invalid, match="cannot read protocol file"):
        load_protocol(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [unclosed\n")
    with pytest.raises(Invalid, match="not valid YAML"):
        load_protocol(broken)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(Invalid, match="must be a mapping"):
        load_protocol(listy)


def test_loads_from_a_path_string_equal_to_the_default() -> None:
    """Loading the shipped file by path gives the same protocol as the cached default."""
    assert load_protocol(str(DEFAULT_PATH)).spec == default_protocol().spec


def test_protocol_module_is_pure() -> None:
    """The protocol module obeys the core purity rule (no I/O layer, no wall clock)."""
    source = Path(protocol_module.__file__).read_text()
    for forbidden in ("sqlalchemy", "fastapi", "starlette", "httpx", "lifechain.db", "datetime.now", "time.time"):
        assert forbidden not in source


def _answer_strategy(complaint: str) -> st.SearchStrategy[dict[str, Any]]:
    """Random valid (possibly partial) answers to a card's questions."""
    parts = {}
    for q in default_protocol().questions(complaint).values():
        if q.kind == "choice":
            parts[q.id] = st.sampled_from([a.id for a in q.answers])
        else:
            parts[q.id] = st.floats(min_value=q.min or 0, max_value=q.max or 1e6, allow_nan=False)
    return st.fixed_dictionaries({}, optional=parts)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), complaint=st.sampled_from(sorted(REQUIRED_CARDS)))
def test_any_answers_give_a_valid_determinant_and_arrest_always_wins(data: st.DataObject, complaint: str) -> None:
    """Whatever valid answers a card gets, triage gives a determinant; with arrest answers it is always an arrest."""
    answers = data.draw(_answer_strategy(complaint))
    d = triage(default_protocol(), complaint, answers)
    assert 1 <= d.priority <= 4 and d.response_plan.units
    assert set(d.pathways) <= set(PATHWAYS)
    arrest = triage(default_protocol(), complaint, {**answers, **ARREST})
    assert arrest.suspected_arrest and arrest.priority == 1 and arrest.tcpr_prompts
