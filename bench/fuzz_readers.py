"""Fuzz the radiograph readers: mutants of real files, each read in a fenced worker; prints JSON.

Usage: ``python bench/fuzz_readers.py [--mutants 3000] [--seed 0] [--timeout 30]``.

Seeds are real files from ``tests/data`` (DICOM native, RLE, JPEG lossless, JPEG-LS, JPEG 2000,
12-bit JPEG extended; FracAtlas JPEGs), the smaller lossy WG04 variants from
``../shared/data/dicom`` when present, and a 16-bit PNG and TIFF cut from a WG04 film. Each
mutant (bit flips, file truncation, a compressed frame cut short inside a well-formed file,
DICOM/PNG/TIFF/JPEG header fields made huge or zero, fragment and codestream damage, splices) is written to disk and read by ``read_radiograph`` in a
worker process limited to ``RLIMIT_AS`` = 3 GB. Outcomes:

- ``refused``: a ``RadiographError``;
- ``success``: a ``Radiograph``;
- ``raw_error``: any other exception;
- ``crash``: the worker died (signal, abort) or a ``BaseException`` such as a Rust panic
  escaped the reader;
- ``hang``: no answer within the timeout;
- ``big_allocation``: peak RSS above 2 GB (or a ``MemoryError``) from a file under 1 MB;
- ``silent_damage``: a truncated copy of a seed (file or compressed frame cut short) opened
  with pixels unlike the seed's and no ``damaged`` warning (a film read as if intact).

The target is zero of every outcome but ``refused`` and ``success``. Mutant ``i`` depends only
on ``(seed, i)``, so a shorter run is a prefix of a longer one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import select
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_DICOM = REPO.parent / "shared" / "data" / "dicom"
OUTCOMES = (
    "refused",
    "success",
    "raw_error",
    "crash",
    "hang",
    "big_allocation",
    "silent_damage",
)
MEMORY_LIMIT = 3 * 1000**3
BIG_RSS = 2 * 1000**3
SMALL_FILE = 1000**2


# -- seeds ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seed:
    """One intact file: its name, bytes, suffix and the hash of its decoded pixels."""

    name: str
    data: bytes
    suffix: str
    pixel_sha256: str


def _derived_png_tiff(work: Path) -> list[Path]:
    """A 16-bit PNG and a 16-bit TIFF cut from the uncompressed WG04 hip film."""
    import cv2
    import numpy as np
    import tifffile

    from orthogui.io.readers import read_radiograph

    rg = read_radiograph(REPO / "tests" / "data" / "dicom" / "RG2_UNC.dcm")
    crop = np.ascontiguousarray(rg.stored[600:856, 500:820].astype(np.uint16) * 40)
    png, tif = work / "seed_rg2_crop16.png", work / "seed_rg2_crop16.tif"
    cv2.imwrite(str(png), crop)
    tifffile.imwrite(tif, crop, compression="zlib")
    return [png, tif]


def seed_paths(work: Path) -> list[Path]:
    """The ten seed files (two derived ones written under ``work``)."""
    data = REPO / "tests" / "data"
    dicom = data / "dicom"
    paths = [
        dicom / "77654033_CR1_6154.dcm",
        dicom / "RG2_RLE.dcm",
        dicom / "RG2_JPLL.dcm",
        dicom / "RG2_JPLY_fixed.dcm",
        data / "images" / "IMG0002588.jpg",
        data / "images" / "IMG0001268.jpg",
    ]
    # the shared copies are smaller (near-lossless / lossy); the lossless ones are the fallback
    for shared, local in (("RG2_JLSN.dcm", "RG2_JLSL.dcm"), ("RG2_J2KI.dcm", "RG2_J2KR.dcm")):
        paths.append(SHARED_DICOM / shared if (SHARED_DICOM / shared).is_file() else dicom / local)
    return paths + _derived_png_tiff(work)


def load_seeds(work: Path) -> list[Seed]:
    """Read every seed once (they must all decode) and remember its pixel hash."""
    from orthogui.io.readers import pixel_sha256, read_radiograph

    seeds = []
    for path in seed_paths(work):
        rg = read_radiograph(path)
        seeds.append(Seed(path.name, path.read_bytes(), path.suffix, pixel_sha256(rg.stored)))
    return seeds


# -- mutators ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    """One damaged copy of a seed."""

    index: int
    seed: str
    kind: str
    content: bytes
    truncation_of: str = ""  # pixel hash of the seed when the mutant is a truncation of it


def _bitflip(rng: random.Random, data: bytes, _: Seed) -> bytes:
    out = bytearray(data)
    for _i in range(rng.choice((1, 1, 2, 4, 16))):
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(rng: random.Random, data: bytes, _: Seed) -> bytes:
    if rng.random() < 0.5:  # near the end: the cases decoders quietly pad
        return data[: len(data) - rng.randint(1, max(1, len(data) // 20))]
    return data[: rng.randrange(1, len(data))]


_HUGE_US = (0, 1, 3, 0x7FFF, 0x8000, 0xFFFF, 65000, 40000)
# (group, element) of US fields in the image pixel module
_DICOM_US = {
    "Rows": (0x0028, 0x0010),
    "Columns": (0x0028, 0x0011),
    "SamplesPerPixel": (0x0028, 0x0002),
    "BitsAllocated": (0x0028, 0x0100),
    "BitsStored": (0x0028, 0x0101),
    "HighBit": (0x0028, 0x0102),
    "PixelRepresentation": (0x0028, 0x0103),
}


def _dicom_header(rng: random.Random, data: bytes) -> bytes:
    if rng.random() < 0.25:
        import pydicom

        ds = pydicom.dcmread(io.BytesIO(data))
        ds.NumberOfFrames = str(rng.choice((0, 2, 100000, 2**31 - 1)))
        if rng.random() < 0.5:
            ds.Rows, ds.Columns = 65535, 65535
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=False)
        return buf.getvalue()
    out = bytearray(data)
    names = rng.sample(sorted(_DICOM_US), k=rng.choice((1, 1, 2)))
    for name in names:
        group, element = _DICOM_US[name]
        tag = struct.pack("<HH", group, element)
        pos = out.find(tag, 132)
        if pos < 0:
            continue
        value_at = pos + 8  # explicit VR: tag, "US", 2-byte length; implicit: tag, 4-byte length
        out[value_at : value_at + 2] = struct.pack("<H", rng.choice(_HUGE_US))
    return bytes(out)


def _png_header(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    field = rng.choice(((16, 4), (20, 4), (24, 1), (25, 1)))  # width, height, depth, colour
    at, size = field
    value = rng.choice((0, 1, 7, 0xFFFF, 0x7FFFFFFF, 100000)) % (256**size)
    out[at : at + size] = value.to_bytes(size, "big")
    if rng.random() < 0.8:  # keep the CRC valid so that the damage reaches the decoder
        out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])))
    return bytes(out)


def _tiff_header(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    endian = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(endian + "I", data[4:8])
    (count,) = struct.unpack(endian + "H", data[ifd : ifd + 2])
    tags = {}
    for k in range(count):
        at = ifd + 2 + 12 * k
        tag, typ = struct.unpack(endian + "HH", data[at : at + 4])
        tags[tag] = (at, typ)
    # ImageWidth, ImageLength, BitsPerSample, Compression, SamplesPerPixel, RowsPerStrip,
    # StripOffsets, StripByteCounts
    choices = [t for t in (256, 257, 258, 259, 277, 278, 273, 279) if t in tags]
    at, typ = tags[rng.choice(choices)]
    value = rng.choice((0, 1, 3, 0xFFFF, 100000, 0x7FFFFFFF))
    if typ == 3:
        out[at + 8 : at + 10] = struct.pack(endian + "H", value & 0xFFFF)
    else:
        out[at + 8 : at + 12] = struct.pack(endian + "I", value)
    return bytes(out)


def _jpeg_sof(rng: random.Random, data: bytes, start: int = 0) -> bytes:
    out = bytearray(data)
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2", b"\xff\xc3", b"\xff\xf7"):
        pos = out.find(marker, start)
        if pos >= 0:
            at = pos + rng.choice((4, 5, 7, 9))  # precision, height, width, components
            size = 1 if at in (pos + 4, pos + 9) else 2
            value = rng.choice((0, 1, 255, 0xFFFF, 16, 3)) % (256**size)
            out[at : at + size] = value.to_bytes(size, "big")
            return bytes(out)
    return _bitflip(rng, data, Seed("", b"", "", ""))


def _header(rng: random.Random, data: bytes, seed: Seed) -> bytes:
    if seed.suffix == ".dcm":
        return _dicom_header(rng, data)
    if seed.suffix == ".png":
        return _png_header(rng, data)
    if seed.suffix in (".tif", ".tiff"):
        return _tiff_header(rng, data)
    return _jpeg_sof(rng, data)


def _pixel_data_start(data: bytes) -> int:
    pos = data.rfind(b"\xe0\x7f\x10\x00")
    return pos if pos >= 0 else -1


def _fragments(rng: random.Random, data: bytes, seed: Seed) -> bytes:
    """Damage the encapsulated pixel data: item lengths, offset table, codestream headers."""
    start = _pixel_data_start(data)
    if seed.suffix != ".dcm" or start < 0 or data[start + 8 : start + 12] != b"\xff\xff\xff\xff":
        return _header(rng, data, seed)  # native pixels / plain images: damage the header
    out = bytearray(data)
    items = _items(data, start)
    choice = rng.randrange(5)
    if choice == 0 and items:  # an item length off by a little or by a lot
        at = rng.choice(items) + 4
        (length,) = struct.unpack("<I", out[at : at + 4])
        new = max(0, length + rng.choice((-7, -2, 2, 6, 1 << 20, 1 << 31)))
        out[at : at + 4] = struct.pack("<I", new % (1 << 32))
    elif choice == 1 and items:  # basic offset table claims offsets
        first = items[0]
        out[first + 4 : first + 8] = struct.pack("<I", 4)
        out[first + 8 : first + 8] = struct.pack("<I", rng.choice((0, 8, 1 << 30)))
    elif choice == 2:  # sequence delimiter lost
        end = out.rfind(b"\xfe\xff\xdd\xe0")
        if end > start:
            del out[end:]
    elif len(items) > 1:  # the codestream's own header: SOF / SIZ / SOT / RLE offsets
        frame = items[1] + 8
        head = bytes(out[frame : frame + 64])
        if head.startswith(b"\xff\xd8"):
            out[frame:] = _jpeg_sof(rng, bytes(out[frame:]))
        elif head.startswith(b"\xff\x4f"):
            field = rng.choice((8, 12, 24, 28, 40))  # Xsiz, Ysiz, XTsiz, YTsiz, Csiz
            size = 2 if field == 40 else 4
            value = rng.choice((0, 1, 7, 0xFFFF, 0x7FFFFFFF)) % (256**size)
            out[frame + field : frame + field + size] = value.to_bytes(size, "big")
            sot = out.find(b"\xff\x90", frame)
            if sot > 0 and rng.random() < 0.5:  # Psot
                out[sot + 6 : sot + 10] = struct.pack(">I", rng.choice((0, 14, 1 << 30)))
        else:  # RLE: segment count and offsets
            field = rng.randrange(4)
            value = rng.choice((0, 1, 15, 64, 1 << 20, 1 << 31))
            out[frame + 4 * field : frame + 4 * field + 4] = struct.pack("<I", value % (1 << 32))
    else:
        return _bitflip(rng, data, seed)
    return bytes(out)


def _frame_cut(rng: random.Random, data: bytes, seed: Seed) -> bytes:
    """Cut the tail of the last fragment and fix its item length: a frame lost in transfer.

    The file stays well-formed DICOM; only the codestream is short. Plain images and native
    pixel data are truncated as files instead.
    """
    start = _pixel_data_start(data)
    items = _items(data, start) if seed.suffix == ".dcm" and start >= 0 else []
    if len(items) < 2:
        return _truncate(rng, data, seed)
    last = items[-1]
    (length,) = struct.unpack("<I", data[last + 4 : last + 8])
    if rng.random() < 0.5:
        cut = rng.randint(1, max(1, min(length - 2, 4096)))
    else:
        cut = rng.randint(1, max(1, length - 2))
    new = max(2, (length - cut) & ~1)
    body = data[last + 8 : last + 8 + new]
    return data[: last + 4] + struct.pack("<I", new) + body + data[last + 8 + length :]


def _items(data: bytes, start: int) -> list[int]:
    """Offsets of the encapsulated items (offset table first) after the PixelData tag."""
    items = []
    pos = data.find(b"\xfe\xff\x00\xe0", start)
    while pos >= 0:
        items.append(pos)
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        nxt = pos + 8 + length
        pos = nxt if data[nxt : nxt + 4] == b"\xfe\xff\x00\xe0" else -1
    return items


def _splice(rng: random.Random, data: bytes, _: Seed) -> bytes:
    n = len(data)
    a, b = rng.randrange(n), rng.randrange(n)
    size = rng.randint(1, max(1, min(4096, n // 4)))
    out = bytearray(data)
    if rng.random() < 0.5:
        out[b : b + size] = data[a : a + size]  # overwrite with bytes from elsewhere
    else:
        out[b:b] = data[a : a + size]  # insert a copy
    return bytes(out)


MUTATORS: dict[str, Callable[[random.Random, bytes, Seed], bytes]] = {
    "bitflip": _bitflip,
    "truncate": _truncate,
    "header": _header,
    "fragments": _fragments,
    "frame_cut": _frame_cut,
    "splice": _splice,
}
TRUNCATIONS = frozenset(("truncate", "frame_cut"))  # pixels must match the seed or be flagged


def mutant(seeds: list[Seed], index: int, seed: int) -> Mutant:
    """Mutant ``index`` of the run with RNG ``seed`` (independent of every other index)."""
    rng = random.Random(f"fuzz_readers:{seed}:{index}")
    base = seeds[index % len(seeds)]
    kind = rng.choice(sorted(MUTATORS))
    content = MUTATORS[kind](rng, base.data, base)
    if content == base.data:
        content = _bitflip(rng, base.data, base)
    truncated = kind in TRUNCATIONS and len(content) < len(base.data)
    return Mutant(index, base.name, kind, content, base.pixel_sha256 if truncated else "")


# -- the worker -------------------------------------------------------------------------------
def worker_main() -> None:
    """Read paths from stdin, one per line; answer one JSON line each. Run as ``--worker``."""
    import resource
    import warnings

    warnings.simplefilter("ignore")
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    from orthogui.core.radiograph import RadiographError
    from orthogui.io.readers import pixel_sha256, read_radiograph

    for line in sys.stdin:
        path = line.strip()
        answer: dict[str, Any]
        try:
            rg = read_radiograph(path)
            answer = {
                "outcome": "success",
                "sha": pixel_sha256(rg.stored),
                "warnings": list(getattr(rg, "warnings", ())),  # older readers: none
            }
        except RadiographError as exc:
            answer = {"outcome": "refused", "detail": str(exc)[-300:]}
        except MemoryError as exc:
            answer = {"outcome": "memory_error", "detail": f"MemoryError: {exc}"[:300]}
        except Exception as exc:
            answer = {"outcome": "raw_error", "detail": _where(exc)}
        except BaseException as exc:  # a Rust panic escaping the reader
            if isinstance(exc, KeyboardInterrupt):
                raise
            answer = {"outcome": "crash", "detail": _where(exc)}
        answer["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def _where(exc: BaseException) -> str:
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    site = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {site}: {' '.join(str(exc).split())}"[:300]


class Worker:
    """One worker process; restarted after a crash, a hang or a big peak RSS.

    ``src`` is the folder whose ``orthogui`` package the worker imports (default: this
    checkout), so that an older copy of the readers can be measured with the same mutants.
    """

    def __init__(self, src: Path = REPO) -> None:
        self.src = src
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=str(self.src))
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=REPO,
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def read(self, path: Path, timeout_s: float) -> dict[str, Any]:
        """Send one path; ``{"outcome": ...}`` including ``crash`` and ``hang``."""
        if self.proc is None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(f"{path}\n")
            proc.stdin.flush()
        except BrokenPipeError:
            self.stop()
            return {"outcome": "crash", "detail": "worker gone before the read"}
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        if not ready:
            self.stop()
            return {"outcome": "hang", "detail": f"no answer in {timeout_s:g} s"}
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            self.proc = None
            return {"outcome": "crash", "detail": f"worker exited with {code}"}
        answer: dict[str, Any] = json.loads(line)
        if answer["outcome"] == "crash" or answer.get("maxrss", 0) > BIG_RSS:
            self.stop()  # a panic may leave state behind; the peak RSS never goes down
        return answer


def classify(answer: dict[str, Any], mutant_: Mutant) -> str:
    """Final outcome of one mutant from the worker's answer."""
    small = len(mutant_.content) < SMALL_FILE
    outcome = str(answer["outcome"])
    if small and (answer.get("maxrss", 0) > BIG_RSS or outcome == "memory_error"):
        return "big_allocation"
    if outcome == "memory_error":
        return "raw_error"
    damaged = answer.get("sha") != mutant_.truncation_of and not answer.get("warnings")
    if outcome == "success" and mutant_.truncation_of and damaged:
        return "silent_damage"
    return outcome


# -- the run ----------------------------------------------------------------------------------
def fuzz(
    n: int = 3000,
    seed: int = 0,
    timeout_s: float = 30.0,
    save: Path | None = None,
    src: Path = REPO,
) -> dict[str, Any]:
    """Read ``n`` mutants; return the outcome counts, per kind and seed, and examples.

    Parameters
    ----------
    n
        Number of mutants.
    seed
        RNG seed; mutant ``i`` depends only on ``(seed, i)``.
    timeout_s
        Seconds a single read may take before it counts as a hang.
    save
        A folder to copy every mutant that is not ``refused`` or ``success`` into.
    src
        Folder holding the ``orthogui`` package the worker reads with.
    """
    started = time.perf_counter()
    counts: Counter[str] = Counter({k: 0 for k in OUTCOMES})
    by_kind: dict[str, Counter[str]] = {}
    by_seed: dict[str, Counter[str]] = {}
    examples: dict[str, list[str]] = {}
    worker = Worker(src)
    with tempfile.TemporaryDirectory(prefix="fuzz_readers_") as tmp:
        work = Path(tmp)
        seeds = load_seeds(work)
        try:
            for i in range(n):
                m = mutant(seeds, i, seed)
                path = work / f"mutant{Path(m.seed).suffix}"
                path.write_bytes(m.content)
                answer = worker.read(path, timeout_s)
                outcome = classify(answer, m)
                counts[outcome] += 1
                by_kind.setdefault(m.kind, Counter())[outcome] += 1
                by_seed.setdefault(m.seed, Counter())[outcome] += 1
                if outcome not in ("refused", "success"):
                    shown = examples.setdefault(outcome, [])
                    if len(shown) < 5:
                        shown.append(f"#{i} {m.seed} {m.kind}: {answer.get('detail', '')}")
                    if save is not None:
                        save.mkdir(parents=True, exist_ok=True)
                        (save / f"{i:05d}_{outcome}_{m.seed}").write_bytes(m.content)
        finally:
            worker.stop()
    return {
        "mutants": n,
        "seed": seed,
        "seeds": [s.name for s in seeds],
        "outcomes": dict(counts),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "by_seed": {k: dict(v) for k, v in sorted(by_seed.items())},
        "examples": examples,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    """Parse arguments and print the report as JSON (the counts first)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--save", type=Path, default=None, help="keep failing mutants here")
    parser.add_argument("--src", type=Path, default=REPO, help="read with orthogui from here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main()
        return
    report = fuzz(args.mutants, args.seed, args.timeout, args.save, args.src)
    print(json.dumps(report["outcomes"]))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
