"""The review queue says why a scored image is first (a column and a tooltip), orders scored
images by the default strategy (unscored last), and the uncertainty controller stores the reason
and features of a ``ScoredImage`` result and drops them for a plain number."""

from __future__ import annotations

import pytest

from orthogui.core.project import ImageRecord
from orthogui.ml.diversity import FEATURES, MASS, WHY, ScoredImage
from orthogui.ml.scoring import DEFAULT_STRATEGY, DIVERSE, QUEUE_STRATEGIES, SUMMED, order_records
from orthogui.ml.service import SCORED_BY, with_uncertainty
from orthogui.ui.panels.queue import WHY_COLUMN, ReviewQueuePanel

REASON = "type unsure: locking_screw vs cortical_screw (0.48/0.41)"


def records() -> list[ImageRecord]:
    a = [1.0] + [0.0] * 31
    return [
        ImageRecord(
            "1", "/x/b.png", uncertainty=0.9, attributes={WHY: REASON, FEATURES: a, MASS: 1.5}
        ),
        ImageRecord("2", "/x/a.png", uncertainty=0.8, attributes={WHY: "twin", FEATURES: a}),
        ImageRecord(
            "3", "/x/c.png", uncertainty=0.8, attributes={WHY: "mirror disagreement", MASS: 4.0}
        ),
        ImageRecord("4", "/x/d.png"),  # not scored yet
        ImageRecord(
            "5", "/x/e.png", uncertainty=0.1, attributes={FEATURES: [0.0] * 31 + [1.0], MASS: 6.0}
        ),
    ]


def show_sorted(qtbot) -> ReviewQueuePanel:  # type: ignore[no-untyped-def]
    panel = ReviewQueuePanel()
    qtbot.addWidget(panel)
    panel.set_records(records(), {})
    panel.sort_combo.setCurrentIndex(panel.sort_combo.findData("uncertainty"))
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_queue_shows_why_a_scored_image_is_first(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = show_sorted(qtbot)
    panel.set_strategy("uncertainty")  # b.png first: its finding is the most doubtful
    tree = panel.tree
    header = tree.headerItem()
    assert header is not None and header.text(WHY_COLUMN) == "Why first"
    rows = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    items = {it.text(0): it for it in rows if it is not None}
    top = rows[0]
    assert top is not None and top.text(0) == "b.png" and top.text(WHY_COLUMN) == REASON
    assert top.toolTip(3) == f"Why first: {REASON}" == top.toolTip(WHY_COLUMN)
    unscored = items["d.png"]
    assert unscored.text(WHY_COLUMN) == "" and unscored.toolTip(3) == ""
    # A new score with another reason updates the row in place.
    panel.update_record(records()[0].evolve(attributes={WHY: "mirror disagreement"}))
    assert top.text(WHY_COLUMN) == "mirror disagreement"


def test_queue_orders_by_the_default_strategy(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = show_sorted(qtbot)
    assert panel.strategy == DEFAULT_STRATEGY == SUMMED
    # Highest summed doubt first; a.png, scored before the summed doubt was stored, after
    # them by its value; unscored last.
    assert panel.ordered_ids() == ["5", "3", "1", "2", "4"]
    panel.set_strategy("uncertainty")
    # Highest first, equal values by file name, unscored last.
    assert panel.ordered_ids() == ["1", "2", "3", "5", "4"]
    panel.set_strategy(DIVERSE)
    # a.png has b.png's features: the image that lies elsewhere comes before it.
    assert panel.ordered_ids()[:2] == ["1", "3"] and panel.ordered_ids()[-1] == "4"


def test_queue_orders_by_summed_doubt(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = show_sorted(qtbot)
    items = panel._items
    panel.set_strategy("uncertainty")
    assert items["5"].text(3) == "0.10"  # the stored value, what this order sorts on
    panel.set_strategy(SUMMED)
    # By the summed doubt; a.png was scored before it was stored: after them, by its value.
    assert panel.ordered_ids() == ["5", "3", "1", "2", "4"]
    assert [items[i].text(3) for i in panel.ordered_ids()] == ["6.00", "4.00", "1.50", "0.80", ""]
    panel.update_record(records()[4].evolve(attributes={MASS: 36.24}))
    panel.update_record(records()[2].evolve(attributes={MASS: 124.6}))
    assert (items["5"].text(3), items["3"].text(3)) == ("36.2", "125")  # as wide as 0.42
    with pytest.raises(KeyError, match="cannot order the queue"):
        panel.set_strategy("random")  # needs fresh scores, not stored ones
    assert panel.strategy == SUMMED


def test_queue_order_is_the_scoring_order(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = show_sorted(qtbot)
    by_name = sorted(records(), key=lambda r: (r.path.rsplit("/", 1)[-1], r.id))
    for strategy in QUEUE_STRATEGIES:
        panel.set_strategy(strategy)
        assert panel.ordered_ids() == order_records(by_name, strategy=strategy)


class _Model:
    model_name = "m"
    model_version = "2"


def test_stored_score_keeps_reason_features_and_mass() -> None:
    rec = ImageRecord("1", "a.png", uncertainty=0.3, attributes={"x": 1})
    m = _Model()
    scored = with_uncertainty(rec, ScoredImage(0.4, "mirror disagreement", (0.5, 0.25)), m)
    assert scored.uncertainty == 0.4
    assert scored.attributes == {
        "x": 1, SCORED_BY: "m 2", WHY: "mirror disagreement", FEATURES: [0.5, 0.25]
    }  # fmt: skip
    summed = with_uncertainty(rec, ScoredImage(0.3, "", None, 2.5), m)
    assert summed.attributes == {"x": 1, SCORED_BY: "m 2", MASS: 2.5}
    # Another model's plain number: no reason, features or mass of the earlier score.
    assert with_uncertainty(summed, 0.7, m).attributes == {"x": 1, SCORED_BY: "m 2"}
    assert with_uncertainty(scored, 0.7, m).attributes == {"x": 1, SCORED_BY: "m 2"}
