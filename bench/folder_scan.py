"""Folder scan over 10,000 files: ours (``scan_folder``: walk, magic bytes, DICOM header only
for DICOM) against a reference (``os.walk`` + ``pydicom.dcmread(stop_before_pixels=True)`` on
every file), in the same process, on the same tree.

python bench/folder_scan.py [--files 10000] [--dicoms 1000] [--repeat 3] [--records]

The tree is built in a temporary folder: ``--dicoms`` tiny DICOMs (one fixture's bytes with new
UIDs, suffix-less ``IM`` files in ``PA/ST/SE`` folders) and small non-images (text, random
bytes, JSON) for the rest. Prints one JSON object: files/s (best and median of ``--repeat``),
images found, and peak RSS (the process's, read after each measurement: it only grows, so the
reference runs first) plus the Python-heap peak of each run (tracemalloc). ``--records`` also
times ``scan_records`` (the scan plus hashing and header facts of every image: what "Open
folder" runs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIXTURE = ROOT / "tests" / "data" / "dicom" / "77654033_CR1_6154.dcm"


def build_tree(root: Path, *, files: int, dicoms: int) -> None:
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(FIXTURE)
    rng = __import__("random").Random(0)
    for i in range(dicoms):
        folder = root / "DICOM" / f"PA{i // 250}" / f"ST{i // 50 % 5}" / f"SE{i // 10 % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.PatientID = f"P{i // 250:03d}"
        ds.save_as(folder / f"IM{i % 10 + 1:06d}", enforce_file_format=True)
    for i in range(files - dicoms):
        folder = root / "other" / f"d{i // 200:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = i % 3
        if kind == 0:
            (folder / f"note{i}.txt").write_text("report line\n" * rng.randint(1, 40))
        elif kind == 1:
            (folder / f"blob{i}").write_bytes(rng.randbytes(rng.randint(64, 4096)))
        else:
            (folder / f"meta{i}.json").write_text(json.dumps({"i": i, "x": [i] * 20}))


def reference(root: Path) -> int:
    """Every file through pydicom's header parser; those that parse as DICOM count."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    found = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            try:
                ds = pydicom.dcmread(os.path.join(folder, name), stop_before_pixels=True)
            except (InvalidDicomError, OSError, ValueError, EOFError):
                continue
            found += "SOPInstanceUID" in ds
    return found


def ours(root: Path) -> int:
    from orthogui.io.folder_scan import scan_folder

    return len(scan_folder(root, progress=lambda _p: None, cancelled=lambda: False).files)


def ours_records(root: Path) -> int:
    from orthogui.io.files import scan_records

    return len(scan_records([root]).records)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(fn: Callable[[Path], int], root: Path, files: int, repeat: int) -> dict[str, object]:
    fn(root)  # warm: imports and the file-system cache, for both sides alike
    times, found = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        found = fn(root)
        times.append(time.perf_counter() - t)
    tracemalloc.start()  # a separate, untimed run: tracing slows Python code several-fold
    fn(root)
    heap = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "images_found": found,
        "seconds_best": round(min(times), 3),
        "files_per_s_best": round(files / min(times)),
        "files_per_s_median": round(files / statistics.median(times)),
        "python_heap_peak_mib": round(heap / 2**20, 1),
        "process_peak_rss_mib": round(peak_rss_mib(), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--dicoms", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--records", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="orthogui-scan-bench-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        build_tree(root, files=args.files, dicoms=args.dicoms)
        built = time.perf_counter() - t
        out: dict[str, object] = {
            "files": args.files,
            "dicoms": args.dicoms,
            "build_s": round(built, 1),
            "repeat": args.repeat,
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        }
        out["reference_walk_dcmread"] = measure(reference, root, args.files, args.repeat)
        out["ours_scan_folder"] = measure(ours, root, args.files, args.repeat)
        if args.records:
            out["ours_scan_records"] = measure(ours_records, root, args.files, args.repeat)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
