"""PACS throughput over DICOMweb against a real Orthanc on loopback: retrieve N radiographs into a
project, and send the results (SR + SEG) of N approved images back.

The bench starts a throw-away Orthanc (``tests/integration/orthanc_server.py``, the PACS tests'
own) and stops it at the end; it uploads N synthetic radiographs made with pydicom (random
16-bit pixels, CR, 0.2 mm pixel spacing, new UIDs; ``--per-study`` images a study), then times:

* **retrieve**: ours = ``orthogui.io.pacs.retrieve_study`` for every study (staged, fsynced,
  moved into place) into one folder, then adding the files to a new project (timed apart);
  reference = plain ``dicomweb-client`` in the same process: list each study's instances, then
  ``retrieve_instance`` and ``save_as`` one by one. Runs alternate, ``--repeat`` of each.
* **send**: every image gets a drawn locking screw and an accepted model fracture and is
  approved; ours = ``results_for_image`` (SR + SEG) for each image, then ``orthogui.io.pacs.
  store`` of all of them (one STOW-RS); reference = plain ``dicomweb-client.store_instances``
  of the same objects, built beforehand, with fresh SOP/series UIDs so that Orthanc stores
  them as new instances too.

Each repeat alternates which side goes first. Prints one JSON object. Usage:
``python bench/pacs_throughput.py [--n 100] [--size 512] [--per-study 4] [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

from orthogui.core.annotation import Annotation, Prediction  # noqa: E402
from orthogui.core.commands import AddAnnotations  # noqa: E402
from orthogui.core.geometry import Box, Polygon  # noqa: E402
from orthogui.core.review import ReviewState, approve  # noqa: E402
from orthogui.io.files import records_for  # noqa: E402
from orthogui.io.pacs import PacsServer, retrieve_study, store  # noqa: E402
from orthogui.io.pacs_results import results_for_image  # noqa: E402
from orthogui.io.store import ProjectStore  # noqa: E402
from tests.integration.orthanc_server import Orthanc, running_orthanc  # noqa: E402

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
AS_STORED = (("application/dicom", "*"),)
UPLOAD_BATCH = 25


# -- data -------------------------------------------------------------------------------------
def radiographs(n: int, size: int, per_study: int, seed: int) -> list[Dataset]:
    """``n`` CR images of random 16-bit pixels, ``per_study`` to a study (one series each)."""
    rng = np.random.default_rng(seed)
    out = []
    study = series = ""
    for i in range(n):
        if i % per_study == 0:
            study, series = generate_uid(), generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CR_STORAGE
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CR_STORAGE
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientName = f"Bench^Patient{i // per_study:03d}"
        ds.PatientID = f"BENCH{i // per_study:03d}"
        ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20240501", "101500", str(i // per_study)
        ds.AccessionNumber, ds.ReferringPhysicianName = f"ACC{i // per_study:05d}", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CR", 1, i % per_study + 1
        ds.BodyPartExamined = "HIP"
        ds.PatientOrientation = ["L", "F"]
        ds.Manufacturer = "OrthoGUI bench"
        ds.PixelSpacing = [0.2, 0.2]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.WindowCenter, ds.WindowWidth = 32768, 65536
        ds.PixelData = rng.integers(0, 65536, (size, size), dtype=np.uint16).tobytes()
        out.append(ds)
    return out


# -- retrieve ---------------------------------------------------------------------------------
def retrieve_ours(server: PacsServer, studies: list[str], dest: Path) -> tuple[float, list[Path]]:
    t0 = time.perf_counter()
    paths = [p for uid in studies for p in retrieve_study(server, uid, dest)]
    return time.perf_counter() - t0, paths


def reference_client(server: PacsServer) -> Any:
    """A plain dicomweb-client, as its documentation sets one up."""
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    session.auth = (server.user, server.password)
    return DICOMwebClient(server.url, session=session)


def retrieve_reference(server: PacsServer, studies: list[str], dest: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    client = reference_client(server)
    count = 0
    for study in studies:
        for item in client.search_for_instances(study):
            series = item["0020000E"]["Value"][0]
            sop = item["00080018"]["Value"][0]
            ds = client.retrieve_instance(study, series, sop, media_types=AS_STORED)
            folder = dest / study / series
            folder.mkdir(parents=True, exist_ok=True)
            ds.save_as(folder / f"{sop}.dcm", enforce_file_format=True)
            count += 1
    return time.perf_counter() - t0, count


# -- send -------------------------------------------------------------------------------------
def approved_project(path: Path, files: list[Path]) -> tuple[ProjectStore, list[str]]:
    """A project of ``files``, each with a drawn screw and an accepted model fracture, approved."""
    project = ProjectStore.create(path, user="dr.bench")
    added = project.add_images_reporting(records_for(files)).added
    for rec in added:
        h, w = rec.height, rec.width
        screw = Polygon(
            [(w * 0.2, h * 0.2), (w * 0.6, h * 0.25), (w * 0.6, h * 0.3), (w * 0.2, h * 0.25)]
        )
        pred = Prediction(
            "fracture", 0.8, Box(w * 0.5, h * 0.5, w * 0.7, h * 0.8), "bench-model", "1"
        )
        project.history.push(
            AddAnnotations(
                (
                    Annotation.human(image_id=rec.id, category="locking_screw", shape=screw),
                    Annotation.from_prediction(pred, image_id=rec.id),
                )
            )
        )
        command = approve(project.model, rec.id, user="dr.bench", resolve=ReviewState.ACCEPTED)
        assert command is not None
        project.history.push(command)
    return project, [rec.id for rec in added]


def with_new_uids(datasets: list[Dataset]) -> list[Dataset]:
    """Copies of ``datasets`` that a PACS stores as new instances (new SOP and series UIDs)."""
    series: dict[str, str] = {}
    out = []
    for ds in datasets:
        c = copy.deepcopy(ds)
        c.SOPInstanceUID = generate_uid()
        c.file_meta.MediaStorageSOPInstanceUID = c.SOPInstanceUID
        c.SeriesInstanceUID = series.setdefault(str(ds.SeriesInstanceUID), generate_uid())
        out.append(c)
    return out


# -- main -------------------------------------------------------------------------------------
def summary(values: list[float]) -> dict[str, Any]:
    return {
        "best_s": round(min(values), 3),
        "median_s": round(statistics.median(values), 3),
        "runs_s": [round(v, 3) for v in values],
    }


def run(args: argparse.Namespace, work: Path, orthanc: Orthanc) -> dict[str, Any]:
    server = orthanc.server(name="bench-orthanc", timeout_s=60.0)
    data = radiographs(args.n, args.size, args.per_study, args.seed)
    studies = list(dict.fromkeys(str(ds.StudyInstanceUID) for ds in data))
    t0 = time.perf_counter()
    uploaded = 0
    for i in range(0, len(data), UPLOAD_BATCH):
        uploaded += len(store(server, data[i : i + UPLOAD_BATCH]).stored)
    upload_s = time.perf_counter() - t0
    assert uploaded == args.n, uploaded

    ours: list[float] = []
    reference: list[float] = []
    files: list[Path] = []
    for r in range(args.repeat):  # alternate which side goes first
        ref_dest, our_dest = work / f"ref{r}", work / f"ours{r}"
        for side in ("reference", "ours") if r % 2 == 0 else ("ours", "reference"):
            if side == "reference":
                seconds, count = retrieve_reference(server, studies, ref_dest)
                assert count == args.n, count
                reference.append(seconds)
            else:
                seconds, files = retrieve_ours(server, studies, our_dest)
                assert len(files) == args.n, len(files)
                ours.append(seconds)
        if r < args.repeat - 1:
            shutil.rmtree(our_dest)
        shutil.rmtree(ref_dest)
    t0 = time.perf_counter()
    with ProjectStore.create(work / "retrieved.orthogui", user="dr.bench") as project:
        assert len(project.add_images_reporting(records_for(files)).added) == args.n
    project_add_s = time.perf_counter() - t0

    project_store, image_ids = approved_project(work / "review.orthogui", files)
    build: list[float] = []
    stow: list[float] = []
    ref_stow: list[float] = []
    objects = 0
    size = 0
    try:
        for r in range(args.repeat):  # alternate which side goes first
            fresh = with_new_uids(
                [ds for image_id in image_ids for ds in results_for_image(project_store, image_id)]
            )
            for side in ("reference", "ours") if r % 2 == 0 else ("ours", "reference"):
                if side == "reference":
                    client = reference_client(server)
                    t0 = time.perf_counter()
                    answer = client.store_instances(fresh)
                    ref_stow.append(time.perf_counter() - t0)
                    assert len(answer.ReferencedSOPSequence) == 2 * args.n
                    assert not answer.get("FailedSOPSequence")
                    continue
                t0 = time.perf_counter()
                results = [
                    ds
                    for image_id in image_ids
                    for ds in results_for_image(project_store, image_id)
                ]
                t1 = time.perf_counter()
                stored = store(server, results)
                t2 = time.perf_counter()
                assert len(stored.stored) == 2 * args.n
                build.append(t1 - t0)
                stow.append(t2 - t1)
                objects = len(results)
                size = sum(len(ds.PixelData) for ds in results if ds.Modality == "SEG")
    finally:
        project_store.close()
    return {
        "bench": "pacs_throughput",
        "n": args.n,
        "image": f"{args.size}x{args.size} CR, 16-bit random pixels, uncompressed",
        "per_study": args.per_study,
        "studies": len(studies),
        "repeat": args.repeat,
        "upload_s": round(upload_s, 3),
        "retrieve": {
            "ours_retrieve_study": summary(ours),
            "reference_dicomweb_client": summary(reference),
            "ours_then_add_to_project_s": round(project_add_s, 3),
        },
        "send": {
            "objects": objects,
            "seg_pixel_bytes": size,
            "ours_build_results_for_image": summary(build),
            "ours_store": summary(stow),
            "ours_total": summary([b + s for b, s in zip(build, stow, strict=True)]),
            "reference_store_instances": summary(ref_stow),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
            "python": platform.python_version(),
            "pydicom": pydicom.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="radiographs (default 100)")
    parser.add_argument("--size", type=int, default=512, help="rows = columns (default 512)")
    parser.add_argument("--per-study", type=int, default=4, help="images a study (default 4)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orthogui-pacs-bench-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        with running_orthanc(work / "orthanc") as orthanc:
            result = run(args, work / "data", orthanc)
            result["orthanc"] = json.loads(orthanc.get("/system")).get("Version", "")
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
