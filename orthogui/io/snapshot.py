"""COCO snapshots: a de-identified, split, hashed export of a project, written atomically.

Layout: ``annotations/{train,val,test}.json``, ``images/<salted hash><ext>``, ``manifest.json``.
A snapshot is written into a temporary folder beside ``out_dir`` and renamed: complete or absent.
Only reviewed findings go in, and only image files inside the project folder (or added by hand).
Everything that leaves is de-identified: DICOM by profile, other images re-encoded without
metadata, identifiers from each image's header scrubbed from its attributes, reviewers named by
pseudonym, and text burned into the pixels masked or its image held out (``BurnedInText``;
both listed in the manifest).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from orthogui.core.annotation import ReviewState
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.core.radiograph import Radiograph, RadiographError
from orthogui.core.review import approved_unreviewed
from orthogui.io.burned_in import (
    BurnedInText as BurnedInText,  # part of this module's API (SnapshotOptions.burned_in_text)
)
from orthogui.io.burned_in import OcrFailed, detector_name, find_text, mask_boxes, to_mask
from orthogui.io.coco import gc_paused, to_coco
from orthogui.io.deid import (
    DEID_SUMMARY,
    Scrubber,
    new_salt,
    reviewer_pseudonym,
    salted_hash,
    scrub_attributes,
)
from orthogui.io.export_images import (
    Box,
    ImageHeader,
    MaskNotWritten,
    UnsupportedImageFile,
    image_suffix,
    inspect_image,
    require_image,
    write_image,
)
from orthogui.io.export_images import (
    ImageMode as ImageMode,  # part of this module's API (SnapshotOptions.image_mode)
)
from orthogui.io.fileops import atomic_write_bytes, file_sha256, fsync_dir, fsync_file

if TYPE_CHECKING:
    from orthogui.io.store import ProjectStore

SPLITS: tuple[str, ...] = ("train", "val", "test")
MANIFEST = "manifest.json"
REVIEWED: frozenset[ReviewState] = frozenset({ReviewState.ACCEPTED, ReviewState.CORRECTED})
"""Findings a snapshot holds as ground truth; proposed ones (model guesses) never go in."""
NAMED = 3  # images a refusal names before "and N more"
SALT_SETTING = "snapshot_salt"
"""The project setting holding the salt its snapshots share (never written into one)."""

Progress = Callable[[int, int], object]
"""``progress(done, total)``: images written of those exported (called from the exporter's
thread)."""


BURNED_IN = "BurnedInAnnotation is YES: the pixels may show identifying text"
"""Why an image is held out of a snapshot that carries pixels (``BurnedInText`` off or
hold-out)."""
TEXT_FOUND = "text found burned into the pixels ({n} region{s})"
"""Why an image is held out under ``BurnedInText.HOLD_OUT``."""
NOTHING_MASKED = "BurnedInAnnotation is YES and no text was found to mask"
"""Why an image is held out under ``BurnedInText.MASK``: its header says text and none was
found, so the search cannot be trusted on it."""
NOT_CHECKED = "the pixels could not be searched for burned-in text ({why})"
"""Why an image is held out when its pixels do not decode or OCR fails on them."""
NOT_MASKED = "the pixels could not be masked ({why})"
"""Why a DICOM image is held out whose masked pixels cannot be encoded (float, big endian)."""
TEXT_WORKERS = 2
"""Images searched for text (and written) at a time: OCR is slow, and the cores are shared."""


@dataclass(frozen=True)
class SnapshotOptions:
    """What goes into a snapshot and how it is split.

    ``salt`` links the studies inside one snapshot; empty means a fresh random salt, so two
    snapshots cannot be linked to each other. The salt itself is never written out.
    ``keep_reviewer_names`` writes reviewers' names instead of salted pseudonyms.
    ``burned_in_text``: text found in the pixels is masked (default), or its image held out,
    or nothing is searched; a lone laterality marker (L, R, LT, RT) is never masked.
    """

    approved_only: bool = True
    categories: tuple[str, ...] | None = None
    include_rejected: bool = False
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    image_mode: ImageMode = ImageMode.ORIGINAL
    window: tuple[float, float] | None = None  # (centre, width) for PNG8; None = file default
    salt: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    keep_reviewer_names: bool = False
    burned_in_text: BurnedInText = BurnedInText.MASK

    def __post_init__(self) -> None:
        object.__setattr__(self, "burned_in_text", BurnedInText(self.burned_in_text))
        if len(self.fractions) != 3 or any(f < 0 for f in self.fractions):
            raise ValueError(f"fractions must be three non-negative numbers, got {self.fractions}")
        if abs(sum(self.fractions) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {self.fractions}")


class SnapshotRefused(ValueError):
    """The project cannot be exported as it stands; ``str()`` is one line naming the images
    and what is wrong with each."""


class SnapshotCancelled(Exception):
    """The export was cancelled; nothing was written (the temporary folder is gone)."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"Export cancelled after {done} of {total} image(s): nothing written")
        self.done, self.total = done, total


@dataclass(frozen=True)
class SnapshotResult:
    """Where the snapshot went, its manifest, the images held out (id, reason) and those
    whose burned-in text was masked (id, regions masked)."""

    path: Path
    manifest: dict[str, Any]
    held_out: tuple[tuple[str, str], ...] = ()
    masked: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class _Written:
    """One image's way into a snapshot: held out (the reason), or written (its hash, boxes)."""

    held: str = ""
    sha256: str = ""
    boxes: tuple[Box, ...] = ()


def _search(
    src: Path, header: ImageHeader, policy: BurnedInText
) -> tuple[str, tuple[Box, ...], Radiograph | None]:
    """Burned-in text in one image under ``policy``: (why it is held out or "", the boxes to
    mask, the radiograph as read)."""
    from orthogui.io.readers import read_radiograph

    if policy is BurnedInText.OFF:
        return (BURNED_IN if header.burned_in else ""), (), None
    if policy is BurnedInText.HOLD_OUT and header.burned_in:
        return BURNED_IN, (), None
    try:
        rg = read_radiograph(src)
    except RadiographError:  # never the error's text: it names the file
        return NOT_CHECKED.format(why="they do not decode"), (), None
    try:
        regions = to_mask(find_text(rg))
    except OcrFailed as exc:
        return NOT_CHECKED.format(why=str(exc)), (), None
    if policy is BurnedInText.HOLD_OUT:
        n = len(regions)
        return (TEXT_FOUND.format(n=n, s="s" * (n != 1)) if n else ""), (), rg
    boxes = tuple(mask_boxes(regions, rg.shape))
    if header.burned_in and not boxes:
        return NOTHING_MASKED, (), rg
    return "", boxes, rg


def _write_one(
    src: Path,
    dst: Path,
    header: ImageHeader,
    *,
    options: SnapshotOptions,
    salt: str,
) -> _Written:
    """Search one image for burned-in text, then write it masked, or hold it out."""
    require_image(src)
    held, boxes, rg = _search(src, header, options.burned_in_text)
    if held:
        return _Written(held=held)
    try:
        write_image(
            src,
            dst,
            mode=options.image_mode,
            salt=salt,
            window=options.window,
            terms=header.terms,
            boxes=boxes,
            radiograph=rg,
        )
    except MaskNotWritten as exc:
        dst.unlink(missing_ok=True)
        return _Written(held=NOT_MASKED.format(why=exc.reason))
    fsync_file(dst)
    return _Written(sha256=file_sha256(dst), boxes=boxes)


def _write_all(
    jobs: Sequence[tuple[ImageRecord, Path, Path]],
    write: Callable[[Path, Path, ImageRecord], _Written],
    check: Callable[[int, int], None],
    progress: Progress | None,
) -> Iterator[tuple[ImageRecord, _Written]]:
    """``write(src, dst, record)`` for each job, ``TEXT_WORKERS`` at a time, yielding in the
    order they finish; ``check`` (cancel) is asked before each starts; an error stops all."""
    total = len(jobs)
    with ThreadPoolExecutor(max_workers=TEXT_WORKERS, thread_name_prefix="snapshot") as pool:
        running: dict[Future[_Written], ImageRecord] = {}
        queue = list(reversed(jobs))
        done = 0
        try:
            while queue or running:
                while queue and len(running) < TEXT_WORKERS:
                    check(done, total)
                    rec, src, dst = queue.pop()
                    running[pool.submit(write, src, dst, rec)] = rec
                finished = next(iter(_first_done(running)))
                rec = running.pop(finished)
                written = finished.result()
                done += 1
                if progress is not None:
                    progress(done, total)
                yield rec, written
        finally:
            for f in running:
                f.cancel()


def _first_done(running: Mapping[Future[_Written], ImageRecord]) -> set[Future[_Written]]:
    from concurrent.futures import FIRST_COMPLETED, wait

    return wait(running, return_when=FIRST_COMPLETED).done


def assign_splits(
    records: Sequence[ImageRecord],
    categories_of: Mapping[str, Sequence[str]],
    *,
    fractions: tuple[float, float, float],
    seed: int,
) -> dict[str, str]:
    """Split images into train/val/test, grouped by ``study_key``, stratified by category.

    Parameters
    ----------
    records
        The images; those sharing a non-empty ``study_key`` always land in one split.
    categories_of
        Category names of the findings on each image id.
    fractions
        Target share of each split.
    seed
        Same records and seed give the same split.

    Returns
    -------
    dict
        Image id -> split name.
    """
    groups: dict[str, list[ImageRecord]] = defaultdict(list)
    for rec in records:
        groups[rec.study_key or f"\x00image:{rec.id}"].append(rec)
    names = sorted({c for cats in categories_of.values() for c in cats})
    col = {n: i for i, n in enumerate(names)}
    keys = sorted(groups)
    np.random.default_rng(seed).shuffle(keys)
    vectors: dict[str, NDArray[np.float64]] = {}
    for key in keys:
        v = np.zeros(len(names) + 1)
        v[-1] = len(groups[key])  # the last column counts images
        for rec in groups[key]:
            for c in categories_of.get(rec.id, ()):
                v[col[c]] += 1
        vectors[key] = v
    totals = np.sum(list(vectors.values()), axis=0) if vectors else np.zeros(1)
    n = len(totals) - 1

    def rarest(v: NDArray[np.float64]) -> int:
        present = np.flatnonzero(v[:-1] > 0)
        return int(present[np.argmin(totals[present])]) if present.size else n

    # Iterative stratification (Sechidis et al. 2011): groups holding the rarest categories go
    # first, each to the split that still wants most of its rarest category, then most images.
    keys.sort(key=lambda k: totals[rarest(vectors[k])] if rarest(vectors[k]) < n else np.inf)
    frac = np.asarray(fractions, dtype=np.float64)
    filled = np.zeros((3, len(totals)))
    out: dict[str, str] = {}
    for key in keys:
        v = vectors[key]
        k = rarest(v)
        want = frac * totals[k] - filled[:, k]
        want_images = frac * totals[n] - filled[:, n]
        order = sorted(
            (s for s in range(3) if frac[s] > 0), key=lambda s: (-want[s], -want_images[s], s)
        )
        s = order[0]
        filled[s] += v
        for rec in groups[key]:
            out[rec.id] = SPLITS[s]
    return out


def _refuse(problems: Sequence[str], advice: str) -> None:
    if problems:
        more = len(problems) - NAMED
        listed = "; ".join(problems[:NAMED]) + (f"; and {more} more" if more > 0 else "")
        raise SnapshotRefused(f"{listed}. {advice}")


def _image_name(rec: ImageRecord) -> str:
    return f"{Path(rec.path).name or rec.path} (id {rec.id})"


def check_reviewed(model: ProjectModel, records: Sequence[ImageRecord]) -> None:
    """Refuse approved images that still hold proposed findings.

    Approval means every finding was reviewed; such an image was approved before that rule (or
    edited behind the app's back), and its model guesses must not become training labels.

    Raises
    ------
    SnapshotRefused
        Naming each such image and how many findings on it are unreviewed.
    """
    wanted = {r.id for r in records}
    waiting = {i: a for i, a in approved_unreviewed(model).items() if i in wanted}
    problems = [
        f"approved image {_image_name(model.image(i))} still has {len(a)} proposed "
        f"finding{'s' * (len(a) != 1)}"
        for i, a in waiting.items()
    ]
    _refuse(problems, "Open each and accept or reject the rest before exporting")


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def unsafe_path(
    model: ProjectModel,
    record: ImageRecord,
    *,
    image_path_of: Callable[[ImageRecord], Path],
    roots: Sequence[Path],
) -> str | None:
    """Why an image's file must not be copied into a snapshot, or None when it may.

    A stored relative path that climbs out of the project folder (``..``) is never made by
    adding files by hand, so it is refused. An image that came from an import (a finding with
    ``import`` provenance) names its file in a foreign annotation file: that file must resolve,
    symbolic links followed, inside one of ``roots`` (the project folder, and folders the user
    vouches for). Files the reviewer added by hand may lie anywhere.
    """
    raw = Path(record.path)
    if not raw.is_absolute() and os.path.normpath(raw).split(os.sep)[0] == os.pardir:
        return "a relative path that climbs out of the project folder"
    if not any(a.provenance.source == "import" for a in model.annotations(record.id)):
        return None
    resolved = Path(os.path.realpath(image_path_of(record)))
    if any(_inside(resolved, Path(os.path.realpath(r))) for r in roots):
        return None
    where = "an absolute path" if raw.is_absolute() else "a path"
    return f"{where} from an import that resolves to {resolved}, outside the project folder"


def check_paths(
    model: ProjectModel,
    records: Sequence[ImageRecord],
    *,
    image_path_of: Callable[[ImageRecord], Path],
    roots: Sequence[Path],
) -> None:
    """Refuse images whose files lie where a snapshot must not read (see ``unsafe_path``).

    Raises
    ------
    SnapshotRefused
        Naming each such image, its stored path and why.
    """
    problems = []
    for rec in records:
        why = unsafe_path(model, rec, image_path_of=image_path_of, roots=roots)
        if why is not None:
            problems.append(f"image {rec.id} has path {rec.path!r}: {why}")
    _refuse(
        problems,
        "Such files are never copied into a snapshot: move the images into the project folder "
        "and import again, or name a folder of yours as trusted",
    )


def _scrub_findings(
    coco: dict[str, Any],
    subset: Sequence[ImageRecord],
    scrubbers: Mapping[str, Scrubber],
    *,
    salt: str,
    keep_names: bool,
) -> None:
    """Identifiers out of the findings' attributes; reviewers as pseudonyms unless kept."""
    by_index = {i: scrubbers[r.id] for i, r in enumerate(subset, start=1)}
    for ann in (*coco["annotations"], *coco["rejected_annotations"]):
        ann["attributes"] = scrub_attributes(ann["attributes"], by_index[ann["image_id"]])
        if not keep_names:
            ann["reviewed_by"] = reviewer_pseudonym(ann["reviewed_by"], salt=salt)


def export_snapshot(
    model: ProjectModel,
    out_dir: str | Path,
    *,
    image_path_of: Callable[[ImageRecord], Path],
    options: SnapshotOptions,
    images_root: str | Path | None = None,
    trusted_roots: Sequence[str | Path] = (),
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SnapshotResult:
    """Write a COCO snapshot of the project to ``out_dir`` (which must not exist).

    Parameters
    ----------
    model
        The project model.
    out_dir
        Destination folder; created by an atomic rename, so it is complete or absent.
    image_path_of
        Resolves an image record to its file (e.g. ``ProjectStore.image_path``).
    options
        What to export, the split, the image mode and the salt.
    images_root
        The folder stored relative image paths are relative to (the project folder).
    trusted_roots
        Further folders the user vouches for: an imported image's file is read only inside
        ``images_root`` or one of these (see ``unsafe_path``).
    progress
        Called with (images written, images to write) at the start and after each image.
    cancelled
        Asked before each image and before the final rename; True stops the export.

    Returns
    -------
    SnapshotResult
        The folder and the manifest (counts per split and category, sha256 of the content).
        Findings still proposed are never exported (``proposed_omitted`` counts them per
        split, only ever non-zero for images not approved).
        When pixels are exported, each image is searched for burned-in text
        (``orthogui.io.burned_in``, two at a time) unless ``burned_in_text`` is off: its
        regions are masked (``masked``; the manifest's ``burned_in_text`` lists each file
        with its boxes) or the image is held out (``held_out``, and hashed in the manifest
        with the reason). Images whose header says ``BurnedInAnnotation`` YES are held out,
        except when masking found text to mask on them. An image whose pixels do not decode,
        or where OCR fails, is held out too.

    Raises
    ------
    SnapshotRefused
        An approved image still holds proposed findings, or an image file lies outside the
        project folder where it must not (path traversal), or a file is not an image by its
        content; nothing is written.
    SnapshotCancelled
        ``cancelled()`` said so; nothing is written.
    """
    out = Path(out_dir)
    if out.exists():
        raise FileExistsError(f"{out}: a snapshot folder exists already")
    out.parent.mkdir(parents=True, exist_ok=True)
    salt = options.salt or new_salt()
    records = [
        r for r in model.images() if not options.approved_only or r.status is ImageStatus.APPROVED
    ]
    check_reviewed(model, records)
    if options.image_mode is not ImageMode.NONE:
        roots = [Path(r) for r in (images_root, *trusted_roots) if r is not None]
        check_paths(model, records, image_path_of=image_path_of, roots=roots)
    mode = options.image_mode

    def check(done: int, total: int) -> None:
        if cancelled is not None and cancelled():
            raise SnapshotCancelled(done, total)

    headers: dict[str, ImageHeader] = {}
    paths: dict[str, Path] = {}
    for r in records:  # a header read per file: a long project can be cancelled here too
        check(0, len(records))
        paths[r.id] = Path(image_path_of(r))
        headers[r.id] = inspect_image(paths[r.id])
    policy = options.burned_in_text
    held_out: list[tuple[str, str]] = []
    masked: dict[str, tuple[Box, ...]] = {}
    names = {
        r.id: salted_hash(r.id, salt=salt) + image_suffix(Path(r.path), mode, headers[r.id].format)
        for r in records
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        files: dict[str, str] = {}
        if progress is not None:
            progress(0, len(records))
        if mode is not ImageMode.NONE:
            (tmp / "images").mkdir()

            def write(src: Path, dst: Path, rec: ImageRecord) -> _Written:
                return _write_one(src, dst, headers[rec.id], options=options, salt=salt)

            jobs = [(r, paths[r.id], tmp / "images" / names[r.id]) for r in records]
            outcome: dict[str, _Written] = {}
            try:
                for rec, written in _write_all(jobs, write, check, progress):
                    outcome[rec.id] = written
            except UnsupportedImageFile as exc:
                raise SnapshotRefused(str(exc)) from exc
            for rec in records:  # in the project's order, whatever order they finished in
                written = outcome[rec.id]
                if written.held:
                    held_out.append((rec.id, written.held))
                    continue
                files[f"images/{names[rec.id]}"] = written.sha256
                if written.boxes:
                    masked[rec.id] = written.boxes
            fsync_dir(tmp / "images")
        gone = {i for i, _ in held_out}
        records = [r for r in records if r.id not in gone]
        scrubbers = {r.id: Scrubber(headers[r.id].terms) for r in records}
        wanted = set(options.categories or model.categories.names())
        include = set(REVIEWED) | ({ReviewState.REJECTED} if options.include_rejected else set())
        cats_of = {
            r.id: [
                a.category
                for a in model.annotations(r.id)
                if a.category in wanted and a.review.state in REVIEWED
            ]
            for r in records
        }
        split_of = assign_splits(records, cats_of, fractions=options.fractions, seed=options.seed)

        def image_fields(rec: ImageRecord) -> dict[str, Any]:
            return {
                "split": split_of[rec.id],
                "study": salted_hash(rec.study_key or rec.id, salt=salt),
                "status": rec.status.value,
                "attributes": scrub_attributes(rec.attributes, scrubbers[rec.id]),
            }

        (tmp / "annotations").mkdir()
        counts: dict[str, Any] = {}
        for split in SPLITS:
            subset = [r for r in records if split_of[r.id] == split]
            coco = to_coco(
                model,
                images=subset,
                categories=sorted(wanted),
                include=include,
                file_name_of=lambda r: f"images/{names[r.id]}",
                image_fields_of=image_fields,
                info={"split": split, **options.info},
            )
            _scrub_findings(
                coco, subset, scrubbers, salt=salt, keep_names=options.keep_reviewer_names
            )
            rel = f"annotations/{split}.json"
            with gc_paused():  # freshly built plain data: no cycles to look for either
                data = json.dumps(coco, separators=(",", ":"), check_circular=False).encode()
            atomic_write_bytes(tmp / rel, data)
            files[rel] = hashlib.sha256(data).hexdigest()
            by_id = Counter(a["category_id"] for a in coco["annotations"])
            by_cat = {model.categories.by_id(i).name: n for i, n in by_id.items()}
            counts[split] = {
                "images": len(subset),
                "annotations": len(coco["annotations"]),
                "rejected_annotations": len(coco["rejected_annotations"]),
                "proposed_omitted": sum(
                    a.review.state is ReviewState.PROPOSED and a.category in wanted
                    for r in subset
                    for a in model.annotations(r.id)
                ),
                "categories": {c: by_cat.get(c, 0) for c in sorted(wanted)},
            }
        content = hashlib.sha256(
            "".join(f"{k}\x00{files[k]}\n" for k in sorted(files)).encode()
        ).hexdigest()
        opts = asdict(options)
        opts.pop("salt")
        opts["image_mode"] = options.image_mode.value
        opts["burned_in_text"] = policy.value
        manifest = {
            "format": "orthogui-coco-snapshot",
            "version": 1,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "options": opts,
            "counts": counts,
            "deidentification": {
                "dicom": DEID_SUMMARY,
                "other_images": "re-encoded from their pixels, without metadata",
                "attributes": "identifiers found in each image's header removed",
                "reviewers": "names" if options.keep_reviewer_names else "salted pseudonyms",
                "pixels": _pixels_summary(policy, mode),
            },
            "held_out": [
                {"image": salted_hash(i, salt=salt), "reason": why} for i, why in held_out
            ],
            "burned_in_text": _burned_in_section(policy, mode, masked, names),
            "files": files,
            "sha256": content,
        }
        text = json.dumps(manifest, indent=2)
        manifest = json.loads(text)  # the caller sees exactly what the file holds
        atomic_write_bytes(tmp / MANIFEST, text.encode())
        fsync_dir(tmp / "annotations")
        fsync_dir(tmp)
        check(len(records), len(records))
        os.rename(tmp, out)  # the folder is the unit: complete or absent
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress is not None and mode is ImageMode.NONE:
        progress(len(records), len(records))
    regions = tuple((i, len(b)) for i, b in masked.items())
    return SnapshotResult(out, manifest, tuple(held_out), regions)


def _pixels_summary(policy: BurnedInText, mode: ImageMode) -> str:
    """How burned-in text was dealt with, in words, for the manifest."""
    if mode is ImageMode.NONE:
        return "no pixels exported"
    return {
        BurnedInText.MASK: "burned-in text found by "
        + detector_name()
        + " masked black; lone laterality markers (L, R, LT, RT) kept",
        BurnedInText.HOLD_OUT: "images with burned-in text found by "
        + detector_name()
        + " held out; lone laterality markers (L, R, LT, RT) do not count",
        BurnedInText.OFF: "not searched for burned-in text; BurnedInAnnotation YES held out",
    }[policy]


def _burned_in_section(
    policy: BurnedInText,
    mode: ImageMode,
    masked: Mapping[str, Sequence[Box]],
    names: Mapping[str, str],
) -> dict[str, Any]:
    """The manifest's account of burned-in text: the policy, the detector, every image masked
    with its boxes (``[x, y, width, height]`` in the exported pixels); never what was read."""
    searched = mode is not ImageMode.NONE and policy is not BurnedInText.OFF
    return {
        "mode": policy.value,
        "detector": detector_name() if searched else "",
        "images_masked": len(masked),
        "regions_masked": sum(len(b) for b in masked.values()),
        "masked": [
            {
                "file": f"images/{names[i]}",
                "regions": len(boxes),
                "boxes": [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in boxes],
            }
            for i, boxes in masked.items()
        ],
    }


def project_salt(store: ProjectStore, *, new: bool = False) -> str:
    """The salt a snapshot of ``store``'s project uses: the project's own (made and kept on
    first use, so snapshots of one project can be combined), or ``""`` for a fresh random
    one (``new``: unlinkable to any other snapshot).

    Raises
    ------
    StoreWriteError
        The project's first salt could not be saved.
    """
    if new:
        return ""
    salt = str(store.get_setting(SALT_SETTING, "") or "")
    if not salt:
        salt = new_salt()
        store.set_setting(SALT_SETTING, salt)
    return salt


def counts_text(manifest: Mapping[str, Any]) -> str:
    """The images and findings of each split, as one line: ``train: 8 images / 20 findings, …``."""
    return ", ".join(
        f"{s}: {c['images']} images / {c['annotations']} findings"
        for s, c in manifest["counts"].items()
    )


def held_out_lines(result: SnapshotResult, names: Mapping[str, str]) -> list[str]:
    """``held out <name>: <reason>`` for each image held out, named by ``names[image id]``
    (local paths: for the user, never for the snapshot)."""
    return [f"held out {names.get(i, i)}: {why}" for i, why in result.held_out]


def masked_lines(result: SnapshotResult, names: Mapping[str, str]) -> list[str]:
    """``masked <name>: N burned-in text region(s)`` for each image whose pixels were masked,
    named by ``names[image id]`` (local paths: for the user, never for the snapshot)."""
    return [
        f"masked {names.get(i, i)}: {n} burned-in text region{'s' * (n != 1)}"
        for i, n in result.masked
    ]
