"""Which installed model the app pre-annotates with: the newest card whose weights are on disk,
the accurate architecture on a GPU and the light one on a CPU when both are installed.
"""

from __future__ import annotations

from pathlib import Path

from orthogui.ml.card import ModelCard, list_cards
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ml.weights import select_device

# Preference by device type: first match wins; any other installed card comes after.
PREFERRED_ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "cuda": ("maskrcnn_resnet50_fpn_v2", "maskrcnn_mobilenet_v3_large_fpn_lite"),
    "cpu": ("maskrcnn_mobilenet_v3_large_fpn_lite", "maskrcnn_resnet50_fpn_v2"),
}


def choose_card(cards: list[ModelCard], device_type: str) -> ModelCard | None:
    """The card to use on ``device_type`` among cards whose weights exist, or None.

    Parameters
    ----------
    cards
        Candidate cards (e.g. ``list_cards()``), in any order.
    device_type
        ``"cuda"`` or ``"cpu"``.
    """
    usable = [c for c in cards if c.weights_path.is_file()]
    if not usable:
        return None
    order = PREFERRED_ARCHITECTURES.get(device_type, ())

    def rank(card: ModelCard) -> int:
        return order.index(card.architecture) if card.architecture in order else len(order)

    best = min(rank(c) for c in usable)
    # list_cards sorts by name then version: the last of the best rank is the newest.
    return [c for c in usable if rank(c) == best][-1]


def default_predictor(
    *, models_dir: str | Path | None = None, device: str | None = None
) -> MaskRCNNPredictor | None:
    """Load the model the app should use, or None when no model is installed.

    Raises ``ModelLoadError`` when a chosen card's weights do not match it (checksum,
    architecture, class count): a broken install is reported, never silently skipped.
    """
    dev = select_device(device)
    card = choose_card(list_cards(models_dir), dev.type)
    if card is None:
        return None
    return MaskRCNNPredictor.from_card(card, device=dev)
