"""``orthogui export PROJECT OUT``: a de-identified COCO snapshot of a project, written atomically."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = "export"
HELP = "Export a COCO snapshot (split, de-identified, hashed) of a project."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the project, the destination and the snapshot options."""
    from orthogui.io.snapshot import ImageMode

    parser.add_argument("project", type=Path, help="project file")
    parser.add_argument("out", type=Path, help="snapshot folder to create (must not exist)")
    parser.add_argument(
        "--all-images",
        action="store_true",
        help="not only approved images (findings still proposed are left out)",
    )
    parser.add_argument("--categories", nargs="+", metavar="NAME")
    parser.add_argument("--include-rejected", action="store_true")
    parser.add_argument(
        "--split", default="0.8,0.1,0.1", help="train,val,test fractions (default 0.8,0.1,0.1)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--images", choices=[m.value for m in ImageMode], default=ImageMode.ORIGINAL.value
    )
    parser.add_argument(
        "--trusted-images",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of yours that imported images may come from besides the project folder "
        "(repeatable); other imported files outside the project folder are refused",
    )
    parser.add_argument(
        "--keep-reviewer-names",
        action="store_true",
        help="write reviewers' names (default: stable pseudonyms, a salted hash of each name)",
    )
    parser.add_argument(
        "--burned-in-text",
        choices=["mask", "hold-out", "off"],
        default="mask",
        help="text burned into the pixels (found by OCR when tesseract is installed, and by "
        "its shapes): mask it black (default), hold its images out, or do not search "
        "(images whose header says BurnedInAnnotation YES are held out then); "
        "a lone side marker (L, R, LT, RT) is never masked",
    )
    parser.add_argument(
        "--new-salt",
        action="store_true",
        help="unlinkable to earlier snapshots (default: the project's own salt)",
    )


def run(args: argparse.Namespace) -> int:
    """Export and print where the snapshot went with its counts, each image held out and
    each whose burned-in text was masked.

    A refused export (an approved image with unreviewed findings, an image file outside the
    project folder) raises ``SnapshotRefused``, printed as one line naming the images.
    """
    from orthogui.io.snapshot import (
        BurnedInText,
        ImageMode,
        SnapshotOptions,
        counts_text,
        export_snapshot,
        held_out_lines,
        masked_lines,
        project_salt,
    )
    from orthogui.io.store import ProjectStore

    parts = [float(v) for v in args.split.split(",")]
    if len(parts) != 3:
        raise ValueError(f"--split {args.split!r}: expected three fractions")
    store = ProjectStore.open(args.project)
    try:
        options = SnapshotOptions(
            approved_only=not args.all_images,
            categories=tuple(args.categories) if args.categories else None,
            include_rejected=args.include_rejected,
            fractions=(parts[0], parts[1], parts[2]),
            seed=args.seed,
            image_mode=ImageMode(args.images),
            salt=project_salt(store, new=args.new_salt),
            keep_reviewer_names=args.keep_reviewer_names,
            burned_in_text=BurnedInText(args.burned_in_text.replace("-", "_")),
        )
        result = export_snapshot(
            store.model,
            args.out,
            image_path_of=store.image_path,
            options=options,
            images_root=store.path.parent,
            trusted_roots=args.trusted_images,
        )
        paths = {r.id: r.path for r in store.model.images()}
    finally:
        store.close()
    counts = counts_text(result.manifest)
    print(f"snapshot {result.path} ({counts}); sha256 {result.manifest['sha256']}")
    # local paths: printed here, never in the snapshot
    for line in [*held_out_lines(result, paths), *masked_lines(result, paths)]:
        print(line)
    return 0
