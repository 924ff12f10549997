"""Config of the scheduler (configs/schedules.yaml): which pipeline runs when, and on what condition.

The local scheduler (``poe schedule``) starts each entry's run on its cron expression; on a
ZenML stack whose orchestrator supports schedules, ``poe schedule --native`` registers the
same entries as native ZenML schedules instead.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from llm_engineering.configs import StrictModel

CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")


def cron_fields(expression: str) -> dict[str, str]:
    """Cron fields by name: five fields (``m h dom mon dow``), or six with seconds first.

    Raises:
        ValueError: not five or six fields.
    """
    parts = expression.split()
    if len(parts) == 5:
        return dict(zip(CRON_FIELDS, parts, strict=True))
    if len(parts) == 6:
        return {"second": parts[0], **dict(zip(CRON_FIELDS, parts[1:], strict=True))}
    raise ValueError(
        f"cron {expression!r}: expected 5 fields (minute hour day month weekday) or 6 (seconds first)"
    )


class ScheduleEntry(StrictModel):
    """One scheduled pipeline."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    """Unique name of the entry (used in logs and as the native schedule's name)."""
    pipeline: str
    """A pipeline name of ``python -m tools.run`` (``digital-data-etl``, ``training``, ...)."""
    config: str | None = None
    """Its YAML (default: the pipeline's own default config)."""
    overrides: list[str] = Field(default_factory=list)
    """``KEY=VALUE`` overrides, as ``--set`` takes them."""
    cron: str
    """When: ``minute hour day month weekday``, or six fields with seconds first (local scheduler only)."""
    condition: Literal["always", "datasets_changed"] = "always"
    """``datasets_changed``: start only when the newest instruction or preference dataset differs from
    the one the entry's last successful run used (retraining on unchanged data is skipped)."""
    enabled: bool = True
    """A disabled entry is validated but never started."""

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger(**cron_fields(value), timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"cron {value!r}: {exc}") from None
        return value


class SchedulesConfig(StrictModel):
    """The scheduled pipelines."""

    schedules: Annotated[list[ScheduleEntry], Field(min_length=1)]
    """Entries; runs of one pipeline never overlap, whichever entries start them."""
    poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 2.0
    """How often a started run is checked for completion."""

    @model_validator(mode="after")
    def _unique_names(self) -> SchedulesConfig:
        names = [entry.name for entry in self.schedules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"schedule names must be unique: {', '.join(duplicates)} repeated")
        return self
