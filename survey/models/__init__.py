"""Typed models, split by subject. Importing this package registers every table on Base."""
from .registry import Counter, Field, Procedure, Unit, UnitCredential, counter_fields
from .questionnaire import QuestionnaireVersion
from .response import Answer, IdempotencyKey, Response, ResponseFlag
from .tokens import DossierToken, RateCounter
from .counts import AnswerCount, CountWatermark, ResponseSignature
from .targets import PlanTarget

__all__ = [
    "Answer", "AnswerCount", "CountWatermark", "Counter", "DossierToken", "Field", "IdempotencyKey", "Procedure", "QuestionnaireVersion",
    "PlanTarget", "RateCounter", "Response", "ResponseFlag", "ResponseSignature", "Unit", "UnitCredential", "counter_fields",
]
