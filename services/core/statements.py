"""Reason statements: the sentence an adverse-action notice prints for a feature.

A feature that pushed a score toward default is explained by one statement, picked by
the direction of its value: a numeric value ``high`` (at or above the training median)
or ``low``, a categorical value's own ``levels`` entry (else ``level``, a template with
``{level}``), a missing value ``missing``, an unknown level ``unseen``. The dataset config
may write any of them (``reason:`` per feature); what it leaves out is generated from
the feature name. The trainer writes the completed statements into the model contract,
so the text a notice shows is fixed per model version, and the contract gate can refuse
a candidate that would change or drop one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DIRECTIONS = ("high", "low", "missing", "unseen")


class ReasonStatements(BaseModel):
    """Statements of one feature, per direction (``None``: generated from the name)."""

    model_config = ConfigDict(extra="forbid")

    high: str | None = Field(None, description="numeric value at or above the median")
    low: str | None = Field(None, description="numeric value below the median")
    missing: str | None = Field(None, description="no value given")
    unseen: str | None = Field(None, description="a level the model does not know")
    level: str | None = Field(None, description="template for levels, with {level}")
    levels: dict[str, str] = Field(default_factory=dict, description="level -> statement")


def complete(
    name: str, configured: ReasonStatements | None, levels: list[str] | None
) -> ReasonStatements:
    """Every statement a feature can need, the configured ones kept, the rest generated.

    ``levels`` is ``None`` for a numeric feature (``high``/``low``), the level list for a
    categorical one (one entry per level, ``level`` template applied)."""
    given = configured or ReasonStatements()
    out: dict[str, object] = {
        "missing": given.missing or f"{name} is missing",
        "high": None,
        "low": None,
        "unseen": None,
        "level": None,  # applied below: a completed set names every level
        "levels": {},
    }
    if levels is None:
        out["high"] = given.high or f"{name} is high"
        out["low"] = given.low or f"{name} is low"
    else:
        template = given.level or f"{name} is {{level}}"
        out["unseen"] = given.unseen or f"{name} has an unrecognised value"
        out["levels"] = {
            lvl: given.levels.get(lvl) or template.replace("{level}", lvl) for lvl in levels
        }
    return ReasonStatements.model_validate(out)


def keyed(statements: ReasonStatements) -> dict[str, str]:
    """Completed statements as ``{"high": …, "level:Yes": …}`` (for comparisons)."""
    out = {d: text for d in DIRECTIONS if (text := getattr(statements, d))}
    out.update({f"level:{lvl}": text for lvl, text in statements.levels.items()})
    return out


def check(name: str, statements: ReasonStatements, levels: list[str] | None) -> None:
    """Refuse statements that do not fit the feature (raises ``ValueError``)."""
    if levels is None:
        if statements.levels or statements.level or statements.unseen:
            raise ValueError(f"numeric feature {name!r}: reason levels/level/unseen not allowed")
        return
    if statements.high or statements.low:
        raise ValueError(f"categorical feature {name!r}: reason high/low not allowed")
    unknown = sorted(set(statements.levels) - set(levels))
    if unknown:
        raise ValueError(f"feature {name!r}: reason for unknown levels {unknown}")
    if statements.level is not None and "{level}" not in statements.level:
        raise ValueError(f"feature {name!r}: reason level template needs '{{level}}'")
