"""Typed models, split by subject. Importing this package registers every table on Base."""
from .comments import CommentReview
from .counts import AnswerCount, CountWatermark, ResponseSignature
from .jobs import Job
from .entry import DrawEntryOption, PaperKeying, PaperRecheck, StaffEntry
from .published import PublishedReport
from .questionnaire import QuestionnaireVersion
from .registry import Counter, Field, Procedure, Unit, UnitCredential, counter_fields
from .sampling import FrameDossier, FrameImport, FrameSource, SampleDesign, SampleDraw, SampleMember
from .response import Answer, IdempotencyKey, Response, ResponseFlag
from .staff import AuditEvent, RoleGrant, StaffUser
from .targets import PlanTarget
from .tokens import DossierToken, RateCounter

__all__ = [
    "Answer", "AuditEvent", "CommentReview", "FrameDossier", "FrameImport", "FrameSource", "SampleDesign", "SampleDraw", "SampleMember", "RoleGrant", "StaffUser", "AnswerCount", "CountWatermark", "Counter", "DossierToken", "DrawEntryOption", "PaperKeying", "PaperRecheck", "StaffEntry", "Field", "IdempotencyKey", "Procedure", "QuestionnaireVersion", "Job",
    "PlanTarget", "PublishedReport", "RateCounter", "Response", "ResponseFlag", "ResponseSignature", "Unit", "UnitCredential", "counter_fields",
]
