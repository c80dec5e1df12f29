"""Loading and saving model weights (safetensors) against their card, and importing
torchvision's COCO-pretrained Mask R-CNN checkpoints with heads resized to our categories.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torchvision.models.detection import MaskRCNN

from orthogui.io.fileops import atomic_copy, atomic_write_bytes, file_sha256
from orthogui.ml.architectures import Architecture, BuildOptions, build_model, get_architecture
from orthogui.ml.card import ModelCard, ModelLoadError, find_card, save_card


def build_options(card: ModelCard) -> BuildOptions:
    pre = card.preprocessing
    return BuildOptions(
        num_classes=card.num_classes,
        min_size=pre.min_size,
        max_size=pre.max_size,
        image_mean=pre.mean,
        image_std=pre.std,
    )


def configure(
    model: MaskRCNN,
    card: ModelCard,
    *,
    score_threshold: float | None = None,
    nms_iou: float | None = None,
    max_detections: int | None = None,
) -> MaskRCNN:
    """Set the detection thresholds from the card, or from the overrides given."""
    post = card.postprocessing
    model.roi_heads.score_thresh = (
        post.score_threshold if score_threshold is None else score_threshold
    )
    model.roi_heads.nms_thresh = post.nms_iou if nms_iou is None else nms_iou
    model.roi_heads.detections_per_img = (
        post.max_detections if max_detections is None else max_detections
    )
    return model


def _architecture_for(card: ModelCard) -> Architecture:
    try:
        arch = get_architecture(card.architecture)
    except KeyError as exc:
        raise ModelLoadError(card.source or card.name, str(exc.args[0])) from None
    if arch.norm_layer != card.norm_layer:
        raise ModelLoadError(
            card.source or card.name,
            f"card says norm_layer {card.norm_layer!r}, architecture {arch.name} has {arch.norm_layer!r}",
        )
    return arch


def _class_count(state: dict[str, torch.Tensor]) -> int | None:
    w = state.get("roi_heads.box_predictor.cls_score.weight")
    return int(w.shape[0]) if w is not None else None


def check_state_dict(
    model: MaskRCNN, state: dict[str, torch.Tensor], *, card: ModelCard, path: Path
) -> None:
    """Refuse weights whose keys or shapes do not fit the card's network.

    Raises
    ------
    ModelLoadError
        Naming ``path`` and whether the architecture or the class count differs.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelLoadError(
            path,
            f"architecture differs from the card's {card.architecture!r}: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})",
        )
    n = _class_count(state)
    if n is not None and n != card.num_classes:
        raise ModelLoadError(
            path, f"class count differs: weights have {n} classes, the card says {card.num_classes}"
        )
    wrong = [k for k, v in expected.items() if tuple(v.shape) != tuple(state[k].shape)]
    if wrong:
        k = wrong[0]
        raise ModelLoadError(
            path,
            f"architecture differs from the card's {card.architecture!r}: {len(wrong)} tensors "
            f"have other shapes (e.g. {k}: {tuple(state[k].shape)} vs {tuple(expected[k].shape)})",
        )


def read_verified(path: Path, sha256: str) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file whose sha256 is the card's.

    Raises
    ------
    ModelLoadError
        The file is missing, its checksum differs, or it is not a safetensors file.
    """
    if not path.is_file():
        raise ModelLoadError(path, "weights file not found")
    digest = file_sha256(path)
    if digest != sha256:
        raise ModelLoadError(
            path, f"sha256 differs from the card: file {digest[:12]}…, card {sha256[:12]}…"
        )
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(path, f"not a readable safetensors file ({exc})") from exc


def load_model(
    card_or_name: ModelCard | str | Path,
    *,
    device: str | torch.device | None = None,
    models_dir: str | Path | None = None,
) -> tuple[MaskRCNN, ModelCard]:
    """Build the card's network, load and verify its weights, move it to ``device``.

    Parameters
    ----------
    card_or_name
        A card, a card file path, or a model name looked up in ``models_dir``.
    device
        Target device; ``None`` picks CUDA when available, else CPU.

    Returns
    -------
    (model, card)
        The network in eval mode with the card's thresholds, and the card it came from.

    Raises
    ------
    ModelLoadError
        Checksum, architecture or class count differ from the card, or the file is unreadable.
    """
    card = (
        card_or_name
        if isinstance(card_or_name, ModelCard)
        else find_card(card_or_name, models_dir=models_dir)
    )
    arch = _architecture_for(card)
    path = card.weights_path
    state = read_verified(path, card.weights_sha256)
    model = build_model(arch.name, build_options(card))
    check_state_dict(model, state, card=card, path=path)
    model.load_state_dict(state, strict=True)
    configure(model, card)
    model.to(select_device(device)).eval()
    return model, card


def load_type_stage(card: ModelCard, device: torch.device) -> torch.nn.Module | None:
    """The card's screw-type classifier, verified against its sha256; ``None`` without one.

    Raises
    ------
    ModelLoadError
        The file is missing, differs from the card's checksum, or is not that classifier.
    """
    from orthogui.ml.screw_type import build_type_classifier

    stage, path = card.type_stage, card.type_weights_path
    if stage is None or path is None:
        return None
    state = read_verified(path, stage.weights_sha256)
    model = build_type_classifier(len(stage.categories), variant=stage.variant)
    expected = model.state_dict()
    wrong = sorted(set(expected) ^ set(state)) or [
        k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)
    ]
    if wrong:
        raise ModelLoadError(
            path,
            f"not an EfficientNet-{stage.variant} type classifier of {len(stage.categories)} "
            f"types (e.g. {wrong[0]})",
        )
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.to(device).eval()


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def save_weights(
    model: MaskRCNN, card: ModelCard, folder: str | Path, *, half: bool = False
) -> ModelCard:
    """Write ``model`` as ``<name>-<version>.safetensors`` plus its card into ``folder``.

    ``half`` stores floating-point tensors as float16 (half the size; ``load_model`` copies
    them into the float32 network). Returns the card with the weights file name, sha256 and
    ``source`` filled in.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{card.name}-{card.version}")
    weights = out / f"{stem}.safetensors"
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    atomic_write_bytes(weights, save(state, metadata={"name": card.name, "version": card.version}))
    final = carry_type_stage(card, out, stem).with_weights(weights.name, file_sha256(weights))
    return save_card(final, out / f"{stem}.json")


def carry_type_stage(card: ModelCard, folder: Path, stem: str) -> ModelCard:
    """The card with its type stage's weights copied into ``folder`` as ``<stem>.types...``.

    Fine-tuning trains the detector only; the new version keeps the type classifier of the
    card it started from, and a card must find its files in its own folder. The copy is
    checked against the stage's sha256, so a damaged source is refused, not carried on.

    Raises
    ------
    ModelLoadError
        The type stage's weights are missing or do not match their checksum.
    """
    stage = card.type_stage
    src = card.type_weights_path
    if stage is None or src is None:
        return card
    dst = folder / f"{stem}.types.safetensors"
    if src.resolve() == dst.resolve():
        return card
    if not src.is_file():
        raise ModelLoadError(src, "the type stage's weights file is missing")
    if file_sha256(src) != stage.weights_sha256:
        raise ModelLoadError(src, "the type stage's weights do not match the card's sha256")
    atomic_copy(src, dst)
    return replace(card, type_stage=replace(stage, weights_file=dst.name))


def import_torchvision_checkpoint(path: str | Path, card: ModelCard) -> MaskRCNN:
    """A network of ``card``'s architecture initialised from a torchvision COCO checkpoint.

    Everything but the class-dependent heads comes from the checkpoint; the box and mask
    predictors are freshly initialised for ``card.num_classes``. FrozenBatchNorm checkpoints
    (torchvision's pretrained files) get the ``num_batches_tracked`` counters they lack.

    Raises
    ------
    ModelLoadError
        The file is not a state dict of that architecture.
    """
    p = Path(path)
    arch = _architecture_for(card)
    try:
        raw = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a foreign file
        raise ModelLoadError(
            p, f"not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    if isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        raw = raw["model"]  # torchvision reference-script checkpoint
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise ModelLoadError(p, "not a state dict of tensors")
    model = build_model(arch.name, build_options(card))
    expected = model.state_dict()
    heads = arch.class_dependent_prefixes
    state = {k: v for k, v in raw.items() if not k.startswith(heads)}
    for k in expected:
        if k.endswith("num_batches_tracked") and k not in state:
            state[k] = torch.zeros((), dtype=torch.long)
    body = {k for k in expected if not k.startswith(heads)}
    missing = sorted(body - set(state))
    unexpected = sorted(set(state) - body)
    wrong = [k for k in body & set(state) if tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        raise ModelLoadError(
            p,
            f"not a {arch.name} checkpoint: {len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(wrong)} other shapes",
        )
    model.load_state_dict(state, strict=False)
    configure(model, card)
    return model.eval()


def imported_card(card: ModelCard, checkpoint: str | Path) -> ModelCard:
    """``card`` annotated with the checkpoint it started from (for the card's training data)."""
    return replace(
        card, training_data={**card.training_data, "initialised_from": Path(checkpoint).name}
    )
