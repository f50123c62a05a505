"""Who may do what: the roles of Lifechain's users, in the users' own terms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from lifechain.errors import Invalid


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


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user acting on a request: who they are, their roles and what they are bound to."""

    id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    unit_id: int | None = None
    hospital_id: int | None = None
    volunteer_id: int | None = None

    @property
    def actor(self) -> str:
        """How this user is named on the timeline."""
        return f"user:{self.username}"

    def acts_for_unit(self, unit_id: int) -> bool:
        """Whether the user may report for this unit: dispatchers and admins for any, crew for their own."""
        return self.has_any((Role.DISPATCHER,)) or (Role.CREW in self.roles and self.unit_id == unit_id)

    def acts_for_hospital(self, hospital_id: int) -> bool:
        """Whether the user may act for this hospital: dispatchers and admins for any, staff for their own."""
        return self.has_any((Role.DISPATCHER,)) or (Role.HOSPITAL_STAFF in self.roles
                                                    and self.hospital_id == hospital_id)

    def has_any(self, roles: Iterable[Role]) -> bool:
        """Whether the user holds at least one of `roles` (an administrator holds them all)."""
        return Role.ADMIN in self.roles or bool(self.roles.intersection(roles))


def check_bindings(roles: Iterable[Role], *, unit_id: int | None, hospital_id: int | None,
                   volunteer_id: int | None) -> None:
    """Crew is bound to a unit, hospital staff to a hospital, a volunteer to a volunteer record; raises `Invalid`."""
    roles = set(roles)
    if Role.CREW in roles and unit_id is None:
        raise Invalid("a crew user must be bound to a unit (unit_id)", field="unit_id")
    if Role.HOSPITAL_STAFF in roles and hospital_id is None:
        raise Invalid("a hospital staff user must be bound to a hospital (hospital_id)", field="hospital_id")
    if Role.VOLUNTEER in roles and volunteer_id is None:
        raise Invalid("a volunteer user must be bound to a volunteer record (volunteer_id)", field="volunteer_id")
