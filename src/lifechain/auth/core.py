"""Who may do what: the roles of Lifechain's users, in the users' own terms."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role; every endpoint declares the roles it allows."""

    DISPATCHER = "dispatcher"
    CREW = "crew"  # bound to a unit
    HOSPITAL_STAFF = "hospital_staff"  # bound to a hospital
    VOLUNTEER = "volunteer"  # bound to a volunteer record
    TRAINER = "trainer"
    ANALYST = "analyst"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, dict[str, str]] = {
    Role.DISPATCHER: {"en": "Dispatcher", "zh-CN": "调度员"},
    Role.CREW: {"en": "Ambulance crew", "zh-CN": "急救车组"},
    Role.HOSPITAL_STAFF: {"en": "Hospital staff", "zh-CN": "医院人员"},
    Role.VOLUNTEER: {"en": "Volunteer first responder", "zh-CN": "急救志愿者"},
    Role.TRAINER: {"en": "Trainer", "zh-CN": "培训师"},
    Role.ANALYST: {"en": "Analyst", "zh-CN": "分析员"},
    Role.ADMIN: {"en": "Administrator", "zh-CN": "管理员"},
}
