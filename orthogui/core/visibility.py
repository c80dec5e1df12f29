"""Which findings a score threshold hides from view: a view setting, never an edit.

Only the model's proposals still waiting for review are hidden below the threshold; accepted,
corrected, rejected and human-drawn findings are always shown. Nothing here changes a finding.
"""

from __future__ import annotations

from collections.abc import Iterable

from orthogui.core.annotation import Annotation, ReviewState

THRESHOLD_STEPS = 100  # the threshold moves in hundredths (a slider's integer positions)


def clamp_threshold(value: object) -> float:
    """A threshold from any stored value: a float in [0, 1] rounded to hundredths, else 0.

    Parameters
    ----------
    value
        What a settings file or a widget holds (float, int or text).

    Returns
    -------
    float
        The threshold; 0 (nothing hidden) for anything unreadable.
    """
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    if x != x:  # NaN
        return 0.0
    return round(min(max(x, 0.0), 1.0) * THRESHOLD_STEPS) / THRESHOLD_STEPS


def hidden_by_threshold(ann: Annotation, threshold: float) -> bool:
    """Whether ``ann`` is hidden at ``threshold``: a model proposal, still ``PROPOSED``,
    whose score is below it.

    Parameters
    ----------
    ann
        The finding.
    threshold
        The minimum score shown; 0 hides nothing.

    Returns
    -------
    bool
        True when the view hides the finding.
    """
    score = ann.score
    return (
        threshold > 0.0
        and score is not None
        and score < threshold
        and ann.provenance.is_model
        and ann.review.state == ReviewState.PROPOSED
    )


def hidden_ids(annotations: Iterable[Annotation], threshold: float) -> frozenset[str]:
    """The ids of the findings hidden at ``threshold`` (see ``hidden_by_threshold``).

    Parameters
    ----------
    annotations
        The findings of one image.
    threshold
        The minimum score shown.

    Returns
    -------
    frozenset[str]
        The hidden findings' ids.
    """
    return frozenset(a.id for a in annotations if hidden_by_threshold(a, threshold))


def hidden_note(count: int, threshold: float) -> str:
    """The line that tells the reviewer what the threshold hides ("" when nothing).

    Parameters
    ----------
    count
        How many findings are hidden.
    threshold
        The threshold hiding them.

    Returns
    -------
    str
        E.g. ``"3 findings below 0.50 hidden"``.
    """
    if count <= 0:
        return ""
    return f"{count} finding{'s' * (count != 1)} below {threshold:.2f} hidden"
