"""``orthogui pacs query|retrieve|send``: find studies on a PACS, fetch one into a folder (and a
project), send the reviewed findings of approved images back as DICOM SR and SEG - over
DICOMweb or DIMSE.

The server is ``--url`` (or ``$ORTHOGUI_PACS_URL``) for DICOMweb, whose credentials come from
the environment only (``$ORTHOGUI_PACS_USER`` / ``$ORTHOGUI_PACS_PASSWORD``, or
``$ORTHOGUI_PACS_TOKEN``), so they never show in the process list; or ``--dimse HOST:PORT
--aet CALLED [--our-aet CALLING]`` for a PACS that speaks DIMSE only (C-FIND, C-GET, C-STORE).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from orthogui.io.dimse import DimseServer
    from orthogui.io.pacs import PacsServer, SeriesRow, StoreResult, StudyRow
    from orthogui.io.store import ProjectStore

    Server = PacsServer | DimseServer

COMMAND = "pacs"
HELP = (
    "PACS over DICOMweb or DIMSE: query, retrieve a study, send reviewed findings (DICOM SR + SEG)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the actions ``query``, ``retrieve`` and ``send`` and the server options."""
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument(
        "--url",
        default=None,
        help="DICOMweb root, e.g. http://pacs:8042/dicom-web (default $ORTHOGUI_PACS_URL)",
    )
    server.add_argument(
        "--dimse",
        default=None,
        metavar="HOST:PORT",
        help="a PACS's DICOM (DIMSE) port instead of --url, e.g. pacs:104; needs --aet",
    )
    server.add_argument("--aet", default="", help="with --dimse: the PACS's AE title (called)")
    server.add_argument(
        "--our-aet", default="ORTHOGUI", help="with --dimse: our AE title (calling; ORTHOGUI)"
    )
    server.add_argument("--name", default="", help="the server's name in messages")
    server.add_argument(
        "--user",
        default=os.environ.get("ORTHOGUI_PACS_USER", ""),
        help="user name (default $ORTHOGUI_PACS_USER; password in $ORTHOGUI_PACS_PASSWORD)",
    )
    server.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    q = actions.add_parser("query", parents=[server], help="find studies (QIDO-RS / C-FIND)")
    q.add_argument("--patient-id", default=None)
    q.add_argument("--patient-name", default=None, help="wildcards * and ? allowed")
    q.add_argument("--accession", default=None)
    q.add_argument("--date", default=None, help="YYYYMMDD, YYYYMMDD-YYYYMMDD, open ends allowed")
    q.add_argument("--modality", default=None, help="e.g. CR, DX")
    q.add_argument("--series", action="store_true", help="list each study's series too")
    q.add_argument("--limit", type=int, default=None)
    q.add_argument("--json", action="store_true", help="print one JSON list")

    r = actions.add_parser("retrieve", parents=[server], help="fetch a study (WADO-RS / C-GET)")
    r.add_argument("study_uid", metavar="STUDY_UID")
    r.add_argument("--dest", required=True, type=Path, help="folder for the files")
    r.add_argument("--project", type=Path, default=None, help="add the images to this project")

    s = actions.add_parser(
        "send",
        parents=[server],
        help="send approved images' findings as DICOM SR and SEG (STOW-RS / C-STORE)",
    )
    s.add_argument("--project", type=Path, required=True)
    s.add_argument(
        "--image",
        action="append",
        default=[],
        help="image id or file name (repeatable); default: every approved DICOM image",
    )
    s.add_argument("--reviewer", default=None, help="person observer (default: the reviewer)")
    s.add_argument(
        "--save", type=Path, default=None, help="also write each SR and SEG into this folder"
    )
    s.add_argument("--dry-run", action="store_true", help="build (and --save) but do not send")


def server_from(args: argparse.Namespace) -> Server:
    """The ``PacsServer`` (DICOMweb) or ``DimseServer`` the options and the environment
    describe.

    Raises
    ------
    ValueError
        Neither ``--url`` (nor ``$ORTHOGUI_PACS_URL``) nor ``--dimse``, both ``--url`` and
        ``--dimse``, ``--dimse`` without ``--aet`` or not ``HOST:PORT``.
    """
    from orthogui.io.pacs import PacsServer

    if args.dimse:
        if args.url:
            raise ValueError("give --url (DICOMweb) or --dimse (DIMSE), not both")
        return _dimse_server(args)
    url = args.url or os.environ.get("ORTHOGUI_PACS_URL", "")
    if not url:
        raise ValueError("no PACS given: pass --url or set ORTHOGUI_PACS_URL")
    return PacsServer(
        name=args.name or url,
        url=url,
        user=args.user,
        password=os.environ.get("ORTHOGUI_PACS_PASSWORD", ""),
        token=os.environ.get("ORTHOGUI_PACS_TOKEN", ""),
        timeout_s=args.timeout,
    )


def _dimse_server(args: argparse.Namespace) -> DimseServer:
    from orthogui.io.dimse import DimseServer

    host, _, port = str(args.dimse).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--dimse {args.dimse!r}: give HOST:PORT, e.g. pacs:104")
    if not args.aet:
        raise ValueError("--dimse needs --aet, the PACS's AE title")
    return DimseServer(
        name=args.name or f"{args.aet}@{args.dimse}",
        host=host.strip("[]"),
        port=int(port),
        called_aet=args.aet,
        calling_aet=args.our_aet,
        timeout_s=args.timeout,
    )


# The same four operations over either protocol.
def _studies(server: Server, args: argparse.Namespace) -> list[StudyRow]:
    from orthogui.io import dimse, pacs

    date_range: str | None = args.date
    keys: dict[str, str | None] = {
        "patient_name": args.patient_name,
        "patient_id": args.patient_id,
        "accession": args.accession,
        "modality": args.modality,
    }
    if isinstance(server, pacs.PacsServer):
        return pacs.query_studies(server, date_range=date_range, limit=args.limit, **keys)
    return dimse.query_studies(server, date_range=date_range, limit=args.limit, **keys)


def _series(server: Server, study_uid: str) -> list[SeriesRow]:
    from orthogui.io import dimse, pacs

    if isinstance(server, pacs.PacsServer):
        return pacs.query_series(server, study_uid)
    return dimse.query_series(server, study_uid)


def _fetch(server: Server, study_uid: str, dest: Path) -> list[Path]:
    from orthogui.io import dimse, pacs

    if isinstance(server, pacs.PacsServer):
        return pacs.retrieve_study(server, study_uid, dest)
    return dimse.retrieve_study(server, study_uid, dest)


def _store(server: Server, datasets: list[Dataset]) -> StoreResult:
    from orthogui.io import dimse, pacs

    if isinstance(server, pacs.PacsServer):
        return pacs.store(server, datasets)
    return dimse.store(server, datasets)


def _query(args: argparse.Namespace, server: Server) -> int:
    rows = _studies(server, args)
    found = []
    for row in rows:
        item = asdict(row)
        if args.series:
            item["series"] = [asdict(s) for s in _series(server, row.study_uid)]
        found.append(item)
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    for item in found:
        mods = "/".join(item["modalities"]) or "-"
        print(
            f"{item['study_uid']}  {item['study_date'] or '-'}  {mods}  "
            f"{item['patient_id'] or '-'}  {item['patient_name'] or '-'}  "
            f"acc {item['accession'] or '-'}  {item['instance_count'] or 0} image(s)  "
            f"{item['description']}".rstrip()
        )
        for s in item.get("series", []):
            print(f"    {s['series_uid']}  {s['modality'] or '-'}  {s['description']}".rstrip())
    print(f"{len(found)} stud{'y' if len(found) == 1 else 'ies'}", file=sys.stderr)
    return 0


def _retrieve(args: argparse.Namespace, server: Server) -> int:
    paths = _fetch(server, args.study_uid, args.dest)
    print(f"retrieved {len(paths)} file(s) into {args.dest}")
    if args.project is not None:
        from orthogui.io.files import records_for
        from orthogui.io.store import ProjectStore

        with ProjectStore.open(args.project, require_write=True) as store:
            report = store.add_images_reporting(records_for(paths))
        print(f"{args.project}: {report.summary()}")
    return 0


def _chosen_images(store: ProjectStore, wanted: list[str]) -> list[str]:
    from orthogui.core.project import ImageStatus

    images = store.model.images()
    if not wanted:
        return [r.id for r in images if r.status is ImageStatus.APPROVED]
    chosen = []
    for key in wanted:
        hits = [r.id for r in images if key in (r.id, Path(r.path).name, r.path)]
        if not hits:
            raise ValueError(f"{store.path}: no image {key!r} (give an image id or file name)")
        chosen.extend(hits)
    return chosen


def _send(args: argparse.Namespace, server: Server | None) -> int:
    from orthogui.io.dicom_sr import SrRefused
    from orthogui.io.pacs_results import results_for_image
    from orthogui.io.store import ProjectStore

    results = []
    with ProjectStore.open(args.project, read_only=True) as project:
        for image_id in _chosen_images(project, args.image):
            try:
                results.extend(results_for_image(project, image_id, reviewer=args.reviewer))
            except SrRefused as exc:  # a SEG refusal is one too
                if args.image:  # asked for by name: a refusal is an error
                    raise
                print(f"skipped: {exc}", file=sys.stderr)
    if not results:
        raise ValueError(f"{args.project}: no approved DICOM image with reviewed findings")
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        for ds in results:
            ds.save_as(args.save / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
    count = Counter(str(ds.Modality) for ds in results)
    what = " and ".join(f"{n} {modality}" for modality, n in count.items())
    if server is None:
        print(f"built {what}; not sent (--dry-run)")
        return 0
    result = _store(server, results)
    print(f"sent {what} ({len(result.stored)} object(s)) to {server.label}")
    for ds in results:
        print(f"  study {ds.StudyInstanceUID}  {ds.Modality} {ds.SOPInstanceUID}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; PACS errors propagate as one line naming the server."""
    if args.action == "send" and args.dry_run:
        return _send(args, None)
    server = server_from(args)
    if args.action == "query":
        return _query(args, server)
    if args.action == "retrieve":
        return _retrieve(args, server)
    return _send(args, server)
