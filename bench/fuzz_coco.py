"""Fuzz the COCO import: mutants of a valid file, each imported into a fresh project; prints JSON.

Usage: ``python bench/fuzz_coco.py [--mutants 400] [--seed 0] [--timeout 20]``.

Each mutant (type swaps, NaN/inf, missing keys, wrong ids, huge numbers, traversal paths,
truncation, bad bytes, ...) goes through ``orthogui.cli.import_.import_into_project``, the
function ``python -m orthogui import coco FILE --project P`` runs, in a worker process so that
a hang is seen and ended. Outcomes: ``refused`` (an ``ImportValidationError``), ``imported``,
``raw_error`` (any other exception), ``partial`` (the project file changed although the import
was refused, or does not hold what a success reported), ``hang`` (no answer within the
timeout). The target is no ``raw_error``, ``partial`` or ``hang`` at all.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import random
import sqlite3
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

OUTCOMES = ("refused", "imported", "raw_error", "partial", "hang")
Json = Any


# -- the valid file ---------------------------------------------------------------------------
def _uncompressed_counts(mask: np.ndarray) -> list[int]:
    flat = mask.flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    return [0, *runs] if flat[0] else runs


def seed_coco(images_root: Path) -> dict[str, Any]:
    """Write three small PNGs under ``images_root``; return a valid COCO file naming them.

    It uses every part of the format the importer reads: polygons (one with two rings),
    boxes, compressed and uncompressed RLE, scores, our provenance, review and attribute
    keys, an original shape, image attributes and a rejected-annotations list.
    """
    from PIL import Image

    from orthogui.core.geometry import Polygon
    from orthogui.io.coco import REJECTED_KEY, SHAPE_KEY
    from orthogui.io.masks import mask_to_rle, polygons_to_mask

    (images_root / "sub").mkdir(parents=True, exist_ok=True)
    names = ["a.png", "b.png", "sub/c.png"]
    for k, name in enumerate(names):
        Image.new("L", (64, 48), color=40 * k).save(images_root / name)
    square = Polygon([(10, 10), (30, 10), (30, 40), (10, 40)])
    mask = polygons_to_mask([square], (48, 64))
    return {
        "info": {"description": "fuzz seed"},
        "images": [
            {"id": 1, "file_name": names[0], "width": 64, "height": 48},
            {
                "id": 2,
                "file_name": names[1],
                "width": 64,
                "height": 48,
                "status": "in_review",
                "study": "s1",
                "attributes": {"view": "ap", "tags": ["x", 1.5]},
            },
            {"id": 7, "file_name": names[2], "width": 64, "height": 48},
        ],
        "categories": [
            {"id": 1, "name": "cortical_screw", "supercategory": "screw"},
            {"id": 6, "name": "fracture"},
            {"id": 7, "name": "locking_screw"},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[10, 10, 40.5, 10, 40, 30.25, 12, 28]],
                "bbox": [10, 10, 30.5, 20.25],
                "area": 500.0,
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 6,
                "segmentation": [],
                "bbox": [2, 3, 10, 12],
                SHAPE_KEY: "box",
                "score": 0.8,
            },
            {"id": 3, "image_id": 2, "category_id": 7, "segmentation": mask_to_rle(mask)},
            {
                "id": 4,
                "image_id": 2,
                "category_id": 1,
                "segmentation": {"size": [48, 64], "counts": _uncompressed_counts(mask)},
            },
            {
                "id": 5,
                "image_id": 7,
                "category_id": 1,
                "segmentation": [[1, 1, 9, 1, 9, 9], [20, 20, 30, 20, 30, 30, 20, 30]],
                "bbox": [1, 1, 29, 29],
                "review_state": "corrected",
                "reviewed_by": "dr",
                "reviewed_at": "2024-01-01T00:00:00+00:00",
                "provenance": {
                    "source": "model",
                    "model_name": "m",
                    "model_version": "1",
                    "score": 0.9,
                },
                "attributes": {"level": "L1", "probabilities": {"a": 0.25}},
                "original_category": "locking_screw",
                "original_shape": {"type": "polygon", "points": [1, 1, 8, 1, 8, 8]},
            },
        ],
        REJECTED_KEY: [
            {
                "id": 6,
                "image_id": 7,
                "category_id": 6,
                "bbox": [40, 5, 10, 10],
                SHAPE_KEY: "box",
                "review_state": "rejected",
                "original_shape": {"type": "box", "xyxy": [40, 5, 50, 15]},
            }
        ],
    }


# -- mutations --------------------------------------------------------------------------------
Slot = tuple[Any, Any]  # (container, key or index)


def _slots(data: Json) -> dict[str, list[Slot]]:
    """Every value's slot, grouped by its path pattern (indices as ``[*]``)."""
    groups: dict[str, list[Slot]] = {}
    stack: list[tuple[Json, str]] = [(data, "$")]
    while stack:
        node, pattern = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            sub = f"{pattern}.{key}" if isinstance(node, dict) else f"{pattern}[*]"
            groups.setdefault(sub, []).append((node, key))
            if isinstance(value, dict | list):
                stack.append((value, sub))
    return groups


def _pick(rng: random.Random, data: Json, want: Callable[[Any], bool] = lambda v: True) -> Slot:
    groups = {p: [s for s in slots if want(s[0][s[1]])] for p, slots in _slots(data).items()}
    patterns = sorted(p for p, slots in groups.items() if slots)
    if not patterns:
        return data, "info"
    return rng.choice(groups[rng.choice(patterns)])


_SWAPS: tuple[Any, ...] = (None, True, False, 0, -1, 2.5, "x", "", [], {}, [1, 2], {"a": 1})


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def type_swap(rng: random.Random, data: Json) -> str | None:
    node, key = _pick(rng, data)
    node[key] = copy.deepcopy(rng.choice([v for v in _SWAPS if type(v) is not type(node[key])]))
    return None


def nan_inf(rng: random.Random, data: Json) -> str | None:
    node, key = _pick(rng, data, _is_number)
    node[key] = rng.choice([float("nan"), float("inf"), float("-inf")])
    return None


def missing_key(rng: random.Random, data: Json) -> str | None:
    dicts = [d for d in _containers(data) if isinstance(d, dict) and d]
    d = rng.choice(dicts)
    del d[rng.choice(sorted(d))]
    return None


def wrong_id(rng: random.Random, data: Json) -> str | None:
    anns = data.get("annotations") or [{}]
    choice = rng.randrange(6)
    if choice == 0:
        rng.choice(anns)["image_id"] = rng.choice([99, -1, 0, 2**70, "1", 1.5])
    elif choice == 1:
        rng.choice(anns)["category_id"] = rng.choice([99, -3, "6", 6.5, None])
    elif choice == 2:
        data["images"][1]["id"] = data["images"][0]["id"]  # duplicate image id
    elif choice == 3:
        data["categories"][1]["id"] = data["categories"][0]["id"]  # duplicate category id
    elif choice == 4:
        data["images"][2]["file_name"] = data["images"][0]["file_name"]  # one file twice
    else:
        anns.append(copy.deepcopy(rng.choice(anns)))  # duplicate annotation
    return None


_HUGE: tuple[Any, ...] = (1e308, -1e308, 10**30, -(10**20), 2**63, 2**64 + 1, 1e15, 123456789)


def huge_number(rng: random.Random, data: Json) -> str | None:
    if rng.random() < 0.15:  # numbers JSON can hold but floats cannot: a text edit
        text = json.dumps(data)
        return text.replace("48", rng.choice(["1e400", "9" * 5000, "-1e999"]), 1)
    node, key = _pick(rng, data, _is_number)
    node[key] = rng.choice(_HUGE)
    return None


_PATHS = (
    "../x.png",
    "../../etc/passwd",
    "/etc/passwd",
    "sub/../../a.png",
    "C:\\Windows\\x.png",
    "..\\..\\x.png",
    "\\\\server\\share\\x.png",
    "",
    ".",
    "sub/..",
    "a\x00.png",
    "~/x.png",
    "sub/./../a.png",
)


def traversal(rng: random.Random, data: Json) -> str | None:
    rng.choice(data["images"])["file_name"] = rng.choice(_PATHS)
    return None


def truncation(rng: random.Random, data: Json) -> str | None:
    text = json.dumps(data)
    return text[: rng.randrange(len(text))]


def rle_damage(rng: random.Random, data: Json) -> str | None:
    ann = data["annotations"][rng.choice([2, 3])]
    seg = ann["segmentation"]
    choice = rng.randrange(5)
    if choice == 0 and isinstance(seg["counts"], str):
        seg["counts"] = rng.choice(["", "~~~~~~", "0" * 7 + "o", seg["counts"] + "ZZZ", "é"])
    elif choice == 0:
        seg["counts"][rng.randrange(len(seg["counts"]))] += rng.choice([1, -1000, 10**12])
    elif choice == 1:
        seg["size"] = rng.choice([[480, 640], [48], [0, 0], [10**6, 10**6], [-48, -64]])
    elif choice == 2:
        seg["counts"] = rng.choice([[3072], [0, 3072], [1] * 5000, ["a"], 7])
    elif choice == 3:
        del seg[rng.choice(["size", "counts"])]
    else:
        ann["segmentation"] = {"size": [48, 64], "counts": "PPYo0"}  # ends mid-number
    return None


def structure(rng: random.Random, data: Json) -> str | None:
    choice = rng.randrange(5)
    if choice == 0:
        key = rng.choice(["images", "categories", "annotations", "rejected_annotations"])
        data[key] = rng.choice([{}, "x", 3, None, {"0": data.get(key)}])
    elif choice == 1:  # deeper than json.dumps goes: spliced into the text
        depth = rng.choice([40, 3000])
        rng.choice(data["annotations"])["attributes"] = {"deep": "@DEEP@"}
        return json.dumps(data).replace('"@DEEP@"', "[" * depth + "1" + "]" * depth)
    elif choice == 2:
        rng.choice(data["annotations"])["segmentation"] = rng.choice(
            [[[1, 2, 3]], [[]], [[1, 1, 5, 1, 5, 5, 1]], [[[1, 1], [5, 1], [5, 5]]], "poly"]
        )
    elif choice == 3:
        ann = data["annotations"][4]
        ann["original_shape"] = rng.choice(
            [{"type": "circle"}, {"type": "box", "xyxy": [1, 2]}, {"points": []}, [], "box"]
        )
    else:
        return rng.choice(["[]", "null", "1", '"coco"', "{}", ""])
    return None


def bad_bytes(rng: random.Random, data: Json) -> bytes | None:
    text = json.dumps(data, ensure_ascii=False).encode("utf-8")
    at = rng.randrange(len(text))
    return text[:at] + rng.choice([b"\xff", b"\xc3", b"\x00", b"\xe9t\xe9"]) + text[at:]


Mutator = Callable[[random.Random, Json], "str | bytes | None"]
MUTATORS: dict[str, Mutator] = {
    "type_swap": type_swap,
    "nan_inf": nan_inf,
    "missing_key": missing_key,
    "wrong_id": wrong_id,
    "huge_number": huge_number,
    "traversal": traversal,
    "truncation": truncation,
    "rle_damage": rle_damage,
    "structure": structure,
    "bad_bytes": bad_bytes,
}


def _containers(data: Json) -> list[Any]:
    out, stack = [], [data]
    while stack:
        node = stack.pop()
        out.append(node)
        values = node.values() if isinstance(node, dict) else node
        stack.extend(v for v in values if isinstance(v, dict | list))
    return out


@dataclass(frozen=True)
class Mutant:
    """One mutated file: how it was made, and its bytes."""

    index: int
    kinds: tuple[str, ...]
    content: bytes


def mutants(seed_data: dict[str, Any], *, n: int, seed: int) -> list[Mutant]:
    """``n`` mutants of ``seed_data``, the same for the same ``seed``.

    Each applies one mutator, or (one in four) two to three in a row; a mutator that returns
    text or bytes ends the chain (that is the file).
    """
    rng = random.Random(seed)
    names = sorted(MUTATORS)
    out = []
    for i in range(n):
        data = copy.deepcopy(seed_data)
        kinds: list[str] = []
        content: bytes | None = None
        for _ in range(1 if rng.random() < 0.75 else rng.randint(2, 3)):
            kind = rng.choice(names)
            kinds.append(kind)
            try:
                made = MUTATORS[kind](rng, data)
            except (TypeError, KeyError, IndexError, AttributeError, ValueError):
                continue  # an earlier mutation removed what this one changes
            if made is not None:
                content = made.encode("utf-8") if isinstance(made, str) else made
                break
        if content is None:
            content = json.dumps(data).encode("utf-8")
        out.append(Mutant(i, tuple(kinds), content))
    return out


# -- running one ------------------------------------------------------------------------------
def project_state(project: Path) -> tuple[Any, ...]:
    """Everything an import can change in a project file, read without the store."""
    conn = sqlite3.connect(f"{project.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return tuple(
            tuple(conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall())
            for table in ("images", "annotations", "journal", "categories", "settings")
        )
    finally:
        conn.close()


def _site(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "orthogui" in f.filename] or frames
    f = ours[-1] if ours else None
    where = f"{Path(f.filename).name}:{f.lineno} {f.name}" if f else "?"
    return f"{type(exc).__name__} at {where}"


def run_one(mutant: Mutant, work: Path, images_root: Path) -> tuple[str, str]:
    """Import one mutant into a fresh project; returns (outcome, detail).

    A ``raw_error`` or ``partial`` detail starts with the code site (``Error at file:line
    function``), then `` | `` and the message.
    """
    from orthogui.cli.import_ import import_into_project
    from orthogui.io.importers import ImportValidationError
    from orthogui.io.store import ProjectStore

    coco = work / f"mutant{mutant.index}.json"
    coco.write_bytes(mutant.content)
    project = work / f"p{mutant.index}.orthogui"
    for old in (project, *(project.with_name(project.name + s) for s in ("-wal", "-shm"))):
        old.unlink(missing_ok=True)  # a fresh project every time
    ProjectStore.create(project).close()
    before = project_state(project)
    result = None
    try:
        result = import_into_project(project, "coco", coco, images_root=images_root)
    except ImportValidationError as exc:
        outcome, detail = "refused", str(exc)
        if str(coco) not in detail:
            outcome, detail = "raw_error", f"refusal without the file name | {detail}"
    except Exception as exc:  # what the harness is looking for
        outcome, detail = "raw_error", f"{_site(exc)} | {exc}"
    else:
        outcome, detail = "imported", ""
    try:
        after = project_state(project)
        store = ProjectStore.open(project, read_only=True)
        held = (len(store.model.images()), len(store.model.annotations()))
        store.close()
    except Exception as exc:
        return "partial", f"{_site(exc)} | project unreadable after the import: {exc}"[:300]
    if result is None and after != before:
        return "partial", f"{detail.split(' | ')[0]} | project changed: {detail}"[:300]
    if result is not None and held != (len(result.images), len(result.annotations)):
        n = (len(result.images), len(result.annotations))
        return "partial", f"import reported {n} | project holds {held}"
    return outcome, detail[:300]


def _worker(conn: Connection, work: str, images_root: str) -> None:
    while True:
        mutant = conn.recv()
        if mutant is None:
            return
        conn.send(run_one(mutant, Path(work), Path(images_root)))


class _Runner:
    """Runs mutants in a forked worker process; one that does not answer is killed."""

    def __init__(self, work: Path, images_root: Path, timeout_s: float) -> None:
        self.args = (str(work), str(images_root))
        self.timeout_s = timeout_s
        self.ctx = multiprocessing.get_context("fork")
        self.proc: Any = None
        self.conn: Connection | None = None

    def _start(self) -> Connection:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        return parent

    def run(self, mutant: Mutant) -> tuple[str, str]:
        conn = self.conn or self._start()
        conn.send(mutant)
        if conn.poll(self.timeout_s):
            try:
                outcome, detail = conn.recv()
                return str(outcome), str(detail)
            except EOFError:
                detail = "worker died"
        else:
            detail = f"no answer in {self.timeout_s:g} s"
        self.stop(kill=True)
        return "hang", detail

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None or self.conn is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.conn.send(None)
        self.proc.join(5)
        self.conn.close()
        self.proc, self.conn = None, None


def fuzz(*, n: int, seed: int, timeout_s: float = 20.0) -> dict[str, Any]:
    """Make ``n`` mutants with ``seed``, import each into a fresh project, count outcomes."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fuzz-coco-") as tmp:
        root = Path(tmp) / "images"
        work = Path(tmp) / "work"
        work.mkdir()
        base = seed_coco(root)
        runner = _Runner(work, root, timeout_s)
        counts: Counter[str] = Counter()
        by_kind: dict[str, Counter[str]] = {k: Counter() for k in MUTATORS}
        sites: Counter[str] = Counter()
        examples: list[dict[str, Any]] = []
        try:
            for mutant in mutants(base, n=n, seed=seed):
                outcome, detail = runner.run(mutant)
                counts[outcome] += 1
                by_kind[mutant.kinds[0]][outcome] += 1
                if outcome in ("raw_error", "partial", "hang"):
                    sites[f"{outcome}: {detail.split(' | ')[0]}"] += 1
                    if len(examples) < 10:
                        examples.append(
                            {
                                "mutant": mutant.index,
                                "kinds": mutant.kinds,
                                "outcome": outcome,
                                "detail": detail,
                            }
                        )
        finally:
            runner.stop()
    return {
        "benchmark": "fuzz_coco",
        "seed": seed,
        "mutants": n,
        "outcomes": {k: counts[k] for k in OUTCOMES},
        "by_first_mutator": {k: {o: c[o] for o in OUTCOMES if c[o]} for k, c in by_kind.items()},
        "failure_sites": dict(sites.most_common()),
        "examples": examples,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per mutant")
    args = parser.parse_args()
    print(json.dumps(fuzz(n=args.mutants, seed=args.seed, timeout_s=args.timeout), indent=2))


if __name__ == "__main__":
    main()
