"""Snapshots hold reviewed findings only, and never read files an import points outside the
project folder to (path traversal), both through ``export_snapshot`` and ``orthogui export``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from orthogui.cli import main
from orthogui.core.annotation import Annotation, Prediction, Provenance, Review, ReviewState
from orthogui.core.commands import AddAnnotations
from orthogui.core.geometry import Box
from orthogui.core.project import ImageRecord, ImageStatus
from orthogui.core.review import set_state
from orthogui.io.snapshot import ImageMode, SnapshotOptions, SnapshotRefused, export_snapshot
from orthogui.io.store import ProjectStore


def _png(path: Path, value: int = 20000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((40, 60), value, np.uint16))
    return path


def _proposal(image_id: str, x: float = 5) -> Annotation:
    return Annotation.from_prediction(
        Prediction("fracture", 0.7, Box(x, 5, x + 10, 20), "m", "1"), image_id=image_id
    )


def _project(folder: Path, *, proposed_on_approved: bool) -> Path:
    """Two approved images with a reviewed finding each, one in review with a proposal; the
    second approved image also holds a proposal when ``proposed_on_approved``."""
    project = folder / "p.orthogui"
    store = ProjectStore.create(project)
    try:
        recs = [
            ImageRecord(f"im{i}", f"images/x{i}.png", width=60, height=40, study_key=f"s{i}")
            for i in range(3)
        ]
        for r in recs:
            _png(folder / r.path)
        store.add_images(recs)
        accepted = set_state(
            [_proposal("im0"), _proposal("im1")], ReviewState.ACCEPTED, user="dr"
        ).after
        anns = [*accepted, _proposal("im2", 30)]
        if proposed_on_approved:
            anns.append(_proposal("im1", 30))
        store.history.push(AddAnnotations(tuple(anns)))
        store.update_images(
            [
                store.model.image("im0").evolve(status=ImageStatus.APPROVED),
                store.model.image("im1").evolve(status=ImageStatus.APPROVED),
                store.model.image("im2").evolve(status=ImageStatus.IN_REVIEW),
            ]
        )
    finally:
        store.close()
    return project


def test_an_approved_image_with_proposals_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, proposed_on_approved=True)
    store = ProjectStore.open(project)
    try:
        with pytest.raises(SnapshotRefused, match=r"approved image x1\.png \(id im1\) still has 1"):
            export_snapshot(
                store.model,
                tmp_path / "snap",
                image_path_of=store.image_path,
                options=SnapshotOptions(),
                images_root=tmp_path,
            )
    finally:
        store.close()
    assert not (tmp_path / "snap").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".snap")]
    for extra in ([], ["--all-images"]):
        assert main(["export", str(project), str(tmp_path / "snap"), *extra]) == 1
        err = capsys.readouterr().err
        assert err.startswith("orthogui export: approved image x1.png (id im1) still has 1 ")
        assert "accept or reject the rest" in err
        assert not (tmp_path / "snap").exists()


def test_proposals_never_go_into_a_snapshot(tmp_path: Path) -> None:
    project = _project(tmp_path, proposed_on_approved=False)
    snap = tmp_path / "snap"
    argv = ["export", str(project), str(snap), "--all-images", "--split", "1,0,0"]
    assert main(argv) == 0
    train = json.loads((snap / "annotations" / "train.json").read_text())
    assert len(train["images"]) == 3  # the image in review too...
    assert {a["review_state"] for a in train["annotations"]} == {"accepted"}  # ...not its guess
    assert len(train["annotations"]) == 2
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["counts"]["train"]["proposed_omitted"] == 1


def _import(tmp_path: Path, file_name: str, *extra: str) -> Path:
    """A project holding one image imported from a COCO file naming ``file_name``, with an
    accepted finding, approved (as a hand-made COCO file may claim)."""
    project = tmp_path / "proj" / "p.orthogui"
    project.parent.mkdir(parents=True, exist_ok=True)
    ProjectStore.create(project).close()
    coco = {
        "images": [
            {"id": 1, "file_name": file_name, "width": 60, "height": 40, "status": "approved"}
        ],
        "categories": [{"id": 1, "name": "fracture"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10]}],
    }
    source = tmp_path / "coco.json"
    source.write_text(json.dumps(coco))
    assert main(["import", "coco", str(source), "--project", str(project), *extra]) == 0
    store = ProjectStore.open(project)
    try:  # approve it here too, whatever the importer made of the status
        store.update_images([r.evolve(status=ImageStatus.APPROVED) for r in store.model.images()])
        assert {a.provenance.source for a in store.model.annotations()} == {"import"}
    finally:
        store.close()
    return project


def _refused(capsys: pytest.CaptureFixture[str], project: Path, snap: Path, *names: str) -> None:
    for mode in ("original", "png16"):
        assert main(["export", str(project), str(snap), "--images", mode]) == 1
        err = capsys.readouterr().err
        assert err.startswith("orthogui export: image "), err
        for name in names:
            assert name in err, err
        assert "never copied into a snapshot" in err
        assert not snap.exists()


def _left_by_an_import(tmp_path: Path, stored_path: str) -> Path:
    """A project as an import that did not check its file names (an older version, a project
    file edited by hand) left it: one approved image at ``stored_path`` with an accepted
    imported finding. Today's importer refuses such names; the snapshot must refuse them too."""
    project = tmp_path / "proj" / "p.orthogui"
    project.parent.mkdir(parents=True, exist_ok=True)
    store = ProjectStore.create(project)
    try:
        store.add_images([ImageRecord("im1", stored_path, status=ImageStatus.APPROVED)])
        assert store.model.image("im1").path == stored_path
        found = Annotation(
            id="a1",
            image_id="im1",
            category="fracture",
            shape=Box(5, 5, 15, 15),
            provenance=Provenance("import"),
            review=Review(ReviewState.ACCEPTED),
        )
        store.history.push(AddAnnotations((found,)))
    finally:
        store.close()
    return project


def test_a_relative_file_name_climbing_out_is_never_copied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _png(tmp_path / "secret" / "passwd.png", 123)  # a real image, readable: still refused
    project = _left_by_an_import(tmp_path, "../secret/passwd.png")
    _refused(capsys, project, tmp_path / "snap", "'../secret/passwd.png'", "climbs out")


def test_an_absolute_path_from_an_import_is_refused_unless_trusted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = _png(tmp_path / "secret" / "passwd.png", 123)
    # COCO file_name "../../secret/passwd.png" joined to an images root, then normalised.
    project = _left_by_an_import(tmp_path, str(secret))
    _refused(capsys, project, tmp_path / "snap", str(secret), "outside the project folder")
    trusted = ["--trusted-images", str(tmp_path / "dataset")]  # another folder: no help
    assert main(["export", str(project), str(tmp_path / "snap"), *trusted]) == 1
    assert str(secret) in capsys.readouterr().err
    # A folder the user names as theirs is read.
    ok = ["--trusted-images", str(tmp_path / "secret")]
    assert main(["export", str(project), str(tmp_path / "snap"), *ok]) == 0
    assert len(list((tmp_path / "snap" / "images").iterdir())) == 1


def test_a_symbolic_link_out_of_the_project_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = _png(tmp_path / "secret" / "passwd.png", 123)
    (tmp_path / "proj").mkdir()
    os.symlink(tmp_path / "secret", tmp_path / "proj" / "link")
    project = _import(tmp_path, "link/passwd.png")
    _refused(capsys, project, tmp_path / "snap", "'link/passwd.png'", str(secret))


def test_files_added_by_hand_may_lie_anywhere_but_must_be_radiographs(tmp_path: Path) -> None:
    outside = _png(tmp_path / "elsewhere" / "scan.png")
    notes = tmp_path / "elsewhere" / "notes.png"
    notes.write_text("root:x:0:0:root:/root:/bin/bash\n")
    project = tmp_path / "proj" / "p.orthogui"
    project.parent.mkdir()
    store = ProjectStore.create(project)
    try:
        store.add_images(
            [
                ImageRecord("a", str(outside), status=ImageStatus.APPROVED),
                ImageRecord("b", str(notes), status=ImageStatus.APPROVED),
            ]
        )
        assert Path(store.model.image("a").path).is_absolute()

        def export(out: str, ids: set[str]) -> None:
            model = store.model
            only = type(model)(model.categories)
            only.load([r for r in model.images() if r.id in ids], [])
            export_snapshot(
                only,
                tmp_path / out,
                image_path_of=store.image_path,
                options=SnapshotOptions(image_mode=ImageMode.ORIGINAL),
                images_root=project.parent,
            )

        export("snap_a", {"a"})
        assert len(list((tmp_path / "snap_a" / "images").iterdir())) == 1
        with pytest.raises(SnapshotRefused, match=r"notes\.png: not a PNG, JPEG, TIFF or DICOM"):
            export("snap_b", {"b"})
        assert not (tmp_path / "snap_b").exists()
    finally:
        store.close()
