"""The hub's controlled vocabularies: every code that is stored, logged or matched by a rule.

Kept as StrEnums so that a typo is a type error, not a silently unmatched rule.
"""

from __future__ import annotations

from enum import StrEnum


class AgencyKind(StrEnum):
    HEALTH = "health"
    SCHOOL = "school"
    POLICE = "police"
    COUNCIL = "council"
    OTHER = "other"


class PersonKind(StrEnum):
    CHILD = "child"
    ADULT = "adult"


class Tier(StrEnum):
    """Service tiers from the local procedures (seeds 000 and 004)."""

    UNIVERSAL = "universal"
    TARGETED = "targeted"
    SPECIALIST = "specialist"


class Role(StrEnum):
    """What the practitioner on whose behalf a system asks does; sharing rules key on it."""

    LEAD_PROFESSIONAL = "lead-professional"
    FRONT_DOOR = "front-door"
    SOCIAL_WORKER = "social-worker"
    EARLY_HELP_WORKER = "early-help-worker"
    HEALTH_VISITOR = "health-visitor"
    SCHOOL_NURSE = "school-nurse"
    GP = "gp"
    MENTAL_HEALTH_PRACTITIONER = "mental-health-practitioner"
    DESIGNATED_SAFEGUARDING_LEAD = "designated-safeguarding-lead"
    TEACHER = "teacher"
    SENCO = "senco"
    POLICE_OFFICER = "police-officer"
    POLICE_SAFEGUARDING = "police-safeguarding"
    IG_OFFICER = "ig-officer"


class Purpose(StrEnum):
    """Why information is asked for; consents and sharing rules both name purposes."""

    LEAD_PROFESSIONAL_CHECK = "lead-professional-check"
    EARLY_HELP_ASSESSMENT = "early-help-assessment"
    TEAM_AROUND_THE_FAMILY = "team-around-the-family"
    REFERRAL = "referral"
    STEP_UP = "step-up"
    STEP_DOWN = "step-down"
    FRONT_DOOR_TRIAGE = "front-door-triage"
    SAFEGUARDING_ENQUIRY = "safeguarding-enquiry"


class RelationshipKind(StrEnum):
    PARENT_WITH_PR = "parent-with-parental-responsibility"
    PARENT_WITHOUT_PR = "parent-without-parental-responsibility"
    CARER_WITH_PR = "carer-with-parental-responsibility"
    CARER_WITHOUT_PR = "carer-without-parental-responsibility"
    SIBLING = "sibling"
    HOUSEHOLD_MEMBER = "household-member"


CARER_KINDS = frozenset(
    {
        RelationshipKind.PARENT_WITH_PR,
        RelationshipKind.PARENT_WITHOUT_PR,
        RelationshipKind.CARER_WITH_PR,
        RelationshipKind.CARER_WITHOUT_PR,
    }
)
"""The ties that make an adult a child's parent or carer (not a sibling or a household)."""


class Sensitivity(StrEnum):
    """Sensitive services, shielded by default (DOMAIN.md §9); v3-ActCode codes where they exist."""

    SEXUAL_HEALTH = "SEX"
    MENTAL_HEALTH = "PSY"
    SUBSTANCE_MISUSE = "ETH"
    DOMESTIC_ABUSE = "SDV"
    POLICE_INTELLIGENCE = "POLINT"


class ConsentStatus(StrEnum):
    """Stored states; "expired" is never stored, it is an active consent past its period."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    EXPIRED = "expired"
    ENTERED_IN_ERROR = "entered-in-error"


class OverrideReason(StrEnum):
    """Why consent is not the basis: DPA 2018 Schedule 1 paragraph 18(c)."""

    CANNOT_BE_GIVEN = "consent-cannot-be-given"
    CANNOT_REASONABLY_BE_OBTAINED = "consent-cannot-reasonably-be-obtained"
    WOULD_PREJUDICE_PROTECTION = "seeking-consent-would-prejudice-protection"


class Obligation(StrEnum):
    """What a sharing rule requires of the hub when it is used."""

    SHIELD = "shield"
    NOTIFY_LEAD_PROFESSIONAL = "notify-lead-professional"
    IG_REVIEW = "ig-review"


class ConsentGiver(StrEnum):
    CHILD = "child"
    PARENT = "parent"
    CARER = "carer"


class ConsentMethod(StrEnum):
    WRITTEN = "written"
    VERBAL = "verbal"
    ELECTRONIC = "electronic"


class LinkMethod(StrEnum):
    NEW = "new"
    DETERMINISTIC = "deterministic"
    PROBABILISTIC = "probabilistic"
    THROUGH_CHILD = "through-child"  # an adult known by name alone, among their child's carers
    REVIEWED = "reviewed"


class LinkOutcome(StrEnum):
    """What linkage decides about one candidate pair of records."""

    LINK = "link"
    REVIEW = "review"
    APART = "apart"


class ReviewStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Outcome(StrEnum):
    PERMIT = "permit"
    PARTIAL = "partial"
    DENY = "deny"


class LegalBasis(StrEnum):
    CONSENT = "consent"
    PUBLIC_TASK_S17 = "public-task-ca1989-s17"
    PUBLIC_TASK_S47 = "public-task-ca1989-s47"
    LEGAL_OBLIGATION = "legal-obligation"
    VITAL_INTERESTS = "vital-interests"
    SAFEGUARDING_DPA_SCH1_PARA18 = "safeguarding-dpa2018-sch1-para18"


class LogEvent(StrEnum):
    """What a disclosure-log entry records, as ``source:subject:action``."""

    DISCLOSURE_DECIDED = "hub:disclosure:decided"
    NOTIFICATION_DECIDED = "hub:notification:decided"
    CONSENT_RECORDED = "hub:consent:recorded"
    CONSENT_WITHDRAWN = "hub:consent:withdrawn"
    CONSENT_AMENDED = "hub:consent:amended"
    POLICY_RELOADED = "hub:policy:reloaded"
    POLICY_REFUSED = "hub:policy:refused"
    LINK_MADE = "hub:link:made"
    LINK_REVIEW_DECIDED = "hub:link:review-decided"
    LINK_SPLIT = "hub:link:split"
    PEOPLE_MERGED = "hub:link:merged"
    CLIENT_REGISTERED = "hub:client:registered"
    REVIEW_RECORDED = "hub:review:recorded"
    AUDIT_SEARCHED = "hub:audit:searched"
    SUBJECT_ACCESS_REPORTED = "hub:subject-access:reported"
