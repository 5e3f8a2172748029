"""What each agency service means for the hub: tier, level of need, role, sensitivity.

Source formats name a service (an EpisodeOfCare type, a council case type); the hub needs
its tier and default level of need, and whether it is shielded. Unknown services are
quarantined rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hub.vocab import Role, Sensitivity, Tier


@dataclass(frozen=True)
class Service:
    name: str
    tier: Tier
    level: int
    role: Role
    sensitivity: Sensitivity | None = None


SERVICES: Final[dict[str, Service]] = {
    "health-visiting": Service("Health visiting", Tier.UNIVERSAL, 1, Role.HEALTH_VISITOR),
    "school-nursing": Service("School nursing", Tier.UNIVERSAL, 1, Role.SCHOOL_NURSE),
    "gp": Service("General practice", Tier.UNIVERSAL, 1, Role.GP),
    "midwifery": Service("Midwifery", Tier.UNIVERSAL, 1, Role.HEALTH_VISITOR),
    "speech-and-language": Service(
        "Speech and language therapy", Tier.TARGETED, 2, Role.HEALTH_VISITOR
    ),
    "camhs": Service(
        "Child and adolescent mental health",
        Tier.SPECIALIST,
        4,
        Role.MENTAL_HEALTH_PRACTITIONER,
        Sensitivity.MENTAL_HEALTH,
    ),
    "sexual-health": Service(
        "Sexual health service", Tier.TARGETED, 2, Role.SCHOOL_NURSE, Sensitivity.SEXUAL_HEALTH
    ),
    "substance-misuse": Service(
        "Young people's substance misuse service",
        Tier.TARGETED,
        3,
        Role.MENTAL_HEALTH_PRACTITIONER,
        Sensitivity.SUBSTANCE_MISUSE,
    ),
    "school": Service("School", Tier.UNIVERSAL, 1, Role.DESIGNATED_SAFEGUARDING_LEAD),
    "senco": Service("Special educational needs", Tier.TARGETED, 2, Role.SENCO),
    "attendance": Service("Attendance support", Tier.TARGETED, 2, Role.TEACHER),
    "operation-encompass": Service(
        "Operation Encompass notification",
        Tier.TARGETED,
        3,
        Role.POLICE_SAFEGUARDING,
        Sensitivity.DOMESTIC_ABUSE,
    ),
    "early-help": Service("Early help family support", Tier.TARGETED, 3, Role.EARLY_HELP_WORKER),
    "child-in-need": Service("Child in need", Tier.SPECIALIST, 4, Role.SOCIAL_WORKER),
    "child-protection": Service("Child protection", Tier.SPECIALIST, 4, Role.SOCIAL_WORKER),
    "looked-after": Service("Looked after child", Tier.SPECIALIST, 4, Role.SOCIAL_WORKER),
}
