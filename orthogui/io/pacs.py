"""DICOMweb client for a PACS: find studies (QIDO-RS), fetch them into a folder (WADO-RS) and
send DICOM objects back (STOW-RS), on top of ``dicomweb-client``.

Every failure - connection refused, timeout, 401/403, 404, an unexpected answer - is one
``PacsError`` naming the server and the reason; a retrieve that fails leaves nothing in the
destination folder. No Qt here: the dialog (when there is one) runs these on a worker.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orthogui.io.fileops import fsync_dir, fsync_file

if TYPE_CHECKING:
    from dicomweb_client.api import DICOMwebClient
    from pydicom.dataset import Dataset

ProgressFn = Callable[[int, int], None]  # (instances done, instances in all)
CancelFn = Callable[[], bool]

# Ask for the instances as they are stored: no transcoding, so pixels arrive bit for bit.
_AS_STORED = (("application/dicom", "*"),)
_STUDY_FIELDS = (
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
_SERIES_FIELDS = ("SeriesDescription", "NumberOfSeriesRelatedInstances")
_HTTP_REASONS = {
    400: "400 Bad Request: the server refused the query",
    401: "401 Unauthorized: wrong user name, password or token",
    403: "403 Forbidden: this account may not do that",
    404: "404 Not Found",
    413: "413 Payload Too Large: the server refused the upload's size",
    415: "415 Unsupported Media Type",
}
# What requests/urllib3 say when the server went away in the middle of a request.
_DROPPED = ("RemoteDisconnected", "Connection aborted", "ConnectionResetError", "reset by peer")


@dataclass(frozen=True)
class PacsServer:
    """Where a PACS answers DICOMweb and how to sign in.

    ``url`` is the DICOMweb root (e.g. ``http://pacs:8042/dicom-web``); give ``user`` and
    ``password`` for HTTP basic authentication, or ``token`` for a bearer token.
    """

    name: str
    url: str
    user: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    timeout_s: float = 20.0

    @property
    def label(self) -> str:
        """``name (url)`` for messages."""
        return f"{self.name} ({self.url})" if self.name else self.url


class PacsEndpoint(Protocol):
    """What a ``PacsError`` needs of a server: its name and a label for messages
    (``PacsServer`` over DICOMweb, ``orthogui.io.dimse.DimseServer`` over DIMSE)."""

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...


class PacsError(Exception):
    """A PACS request failed; ``str()`` is ``"PACS <label>: <reason>"``, the label being
    ``<name> (<url>)`` for DICOMweb."""

    def __init__(self, server: PacsEndpoint, reason: str) -> None:
        self.server = server
        self.reason = reason
        super().__init__(f"PACS {server.label}: {reason}")


class PacsCancelled(PacsError):
    """``cancelled()`` said so; nothing was left in the destination."""


@dataclass(frozen=True)
class StudyRow:
    """One study a query found (values as the server gave them, "" when absent)."""

    study_uid: str
    patient_name: str = ""
    patient_id: str = ""
    accession: str = ""
    study_date: str = ""  # YYYYMMDD
    description: str = ""
    modalities: tuple[str, ...] = ()
    series_count: int | None = None
    instance_count: int | None = None


@dataclass(frozen=True)
class SeriesRow:
    """One series of a study."""

    series_uid: str
    modality: str = ""
    series_number: int | None = None
    description: str = ""
    instance_count: int | None = None


@dataclass(frozen=True)
class StoreResult:
    """What a STOW-RS accepted: the SOP Instance UIDs stored."""

    stored: tuple[str, ...]


# -- the connection ---------------------------------------------------------------------------
def _client(server: PacsServer) -> DICOMwebClient:
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    if server.user:
        session.auth = (server.user, server.password)
    headers = {"Authorization": f"Bearer {server.token}"} if server.token else None
    client = DICOMwebClient(
        server.url.rstrip("/"), session=session, headers=headers, timeout=server.timeout_s
    )
    # dicomweb-client retries every failure (a refused connection, a timeout) with back-off:
    # one attempt, so a failure is reported within ``timeout_s`` and the caller decides.
    client.set_http_retry_params(retry=False)
    return client


def _reason(exc: BaseException) -> str:
    """The one-line reason for a failed request."""
    import requests

    if isinstance(exc, requests.Timeout):
        return "timeout: no answer in time"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection lost during the transfer: the server closed it before the end"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused (is the server running, is the port right?)"
        if any(k in text for k in _DROPPED):
            return (
                "connection lost: the server closed it without an answer "
                "(did it stop, is the port its HTTP port?)"
            )
        if "Name or service not known" in text or "getaddrinfo" in text:
            return "cannot connect: unknown host name"
        return f"cannot connect: {_short(text)}"
    if isinstance(exc, requests.HTTPError):
        response = exc.response
        code = response.status_code if response is not None else 0
        known = _HTTP_REASONS.get(code)
        if known:
            return known
        why = getattr(response, "reason", "") or "error"
        return f"{code} {why}" if code else f"HTTP error: {_short(str(exc))}"
    if isinstance(exc, requests.RequestException):
        return f"request failed: {_short(str(exc))}"
    return f"unexpected answer: {_short(str(exc)) or type(exc).__name__}"


def _short(text: str) -> str:
    return " ".join(text.split())[:300]


@contextmanager
def _request(server: PacsServer, what: str) -> Iterator[None]:
    """Turn every failure of the body into ``PacsError(server, "<what>: <reason>")``."""
    import requests
    from pydicom.errors import InvalidDicomError

    try:
        yield
    except PacsError:
        raise
    except InvalidDicomError as exc:  # an instance that is not a DICOM file (PS3.10)
        raise PacsError(server, f"{what}: not a DICOM file: {_short(str(exc))}") from exc
    except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PacsError(server, f"{what}: {_reason(exc)}") from exc


# -- QIDO-RS ----------------------------------------------------------------------------------
def _date_value(date_range: str | tuple[str | date | None, str | date | None] | None) -> str:
    """``"YYYYMMDD-YYYYMMDD"`` (either end may be open) from a string or a pair."""
    if date_range is None:
        return ""
    if isinstance(date_range, str):
        return date_range.replace("-", "") if len(date_range) == 10 else date_range

    def one(d: str | date | None) -> str:
        if d is None:
            return ""
        return d.strftime("%Y%m%d") if isinstance(d, date) else str(d).replace("-", "")

    start, end = date_range
    return f"{one(start)}-{one(end)}"


def _first(item: dict[str, Any], tag: str) -> Any:
    values = item.get(tag, {}).get("Value") or []
    return values[0] if values else None


def _text(item: dict[str, Any], tag: str) -> str:
    value = _first(item, tag)
    if isinstance(value, dict):  # a person name in DICOM JSON
        return str(value.get("Alphabetic", ""))
    return "" if value is None else str(value)


def _int(item: dict[str, Any], tag: str) -> int | None:
    value = _first(item, tag)
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def query_studies(
    server: PacsServer,
    *,
    patient_name: str | None = None,
    patient_id: str | None = None,
    accession: str | None = None,
    date_range: str | tuple[str | date | None, str | date | None] | None = None,
    modality: str | None = None,
    limit: int | None = None,
) -> list[StudyRow]:
    """Find studies (QIDO-RS ``/studies``).

    Parameters
    ----------
    server
        The PACS.
    patient_name, patient_id, accession
        Matching keys; ``*`` and ``?`` are wildcards where the server supports them.
    date_range
        Study date: ``"20240101-20240131"``, ``"20240101-"``, one day ``"20240101"``, or a pair
        of dates/strings (``None`` for an open end).
    modality
        A modality in the study, e.g. ``"CR"``.
    limit
        At most this many studies.

    Returns
    -------
    list[StudyRow]
        The studies, in the server's order.

    Raises
    ------
    PacsError
        The server cannot be reached, refuses the credentials or the query, or answers
        something that is not DICOM JSON.
    """
    filters = {
        "PatientName": patient_name,
        "PatientID": patient_id,
        "AccessionNumber": accession,
        "StudyDate": _date_value(date_range),
        "ModalitiesInStudy": modality,
    }
    search = {k: v for k, v in filters.items() if v}
    with _request(server, "study query failed"):
        items = _client(server).search_for_studies(
            search_filters=search, fields=list(_STUDY_FIELDS), limit=limit
        )
        return [
            StudyRow(
                study_uid=_text(it, "0020000D"),
                patient_name=_text(it, "00100010"),
                patient_id=_text(it, "00100020"),
                accession=_text(it, "00080050"),
                study_date=_text(it, "00080020"),
                description=_text(it, "00081030"),
                modalities=tuple(str(m) for m in it.get("00080061", {}).get("Value") or []),
                series_count=_int(it, "00201206"),
                instance_count=_int(it, "00201208"),
            )
            for it in items
        ]


def query_series(server: PacsServer, study_uid: str) -> list[SeriesRow]:
    """The series of one study (QIDO-RS ``/studies/{uid}/series``).

    Raises
    ------
    PacsError
        As ``query_studies``.
    """
    with _request(server, f"series query of study {study_uid} failed"):
        items = _client(server).search_for_series(study_uid, fields=list(_SERIES_FIELDS))
        return [
            SeriesRow(
                series_uid=_text(it, "0020000E"),
                modality=_text(it, "00080060"),
                series_number=_int(it, "00200011"),
                description=_text(it, "0008103E"),
                instance_count=_int(it, "00201209"),
            )
            for it in items
        ]


# -- WADO-RS ----------------------------------------------------------------------------------
def _instances(server: PacsServer, client: DICOMwebClient, study_uid: str) -> list[tuple[str, str]]:
    with _request(server, f"instance list of study {study_uid} failed"):
        items = client.search_for_instances(study_uid, get_remaining=True)
        found = [(_text(it, "0020000E"), _text(it, "00080018")) for it in items]
    if not found:
        raise PacsError(server, f"study {study_uid}: 404 Not Found (no instances)")
    return found


def _safe_uid(uid: str) -> str:
    """A UID as a file name part: digits and dots only, anything else replaced."""
    return "".join(c if c.isdigit() or c == "." else "_" for c in uid) or "unknown"


def retrieve_study(
    server: PacsServer,
    study_uid: str,
    dest_folder: str | Path,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> list[Path]:
    """Fetch every instance of a study (WADO-RS, as stored: no transcoding) into a folder.

    Files are ``dest_folder/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.dcm``. They are written
    in a hidden staging folder inside ``dest_folder`` and moved into place only when every
    instance has arrived, so a failure or a cancel leaves nothing half-written behind.

    Parameters
    ----------
    server
        The PACS.
    study_uid
        Study Instance UID (e.g. from ``query_studies``).
    dest_folder
        Where to put the study (created if missing).
    progress
        Called with ``(done, total)`` instances, first ``(0, total)``.
    cancelled
        Polled between instances; True stops with ``PacsCancelled``.

    Returns
    -------
    list[Path]
        The files written, in the server's order.

    Raises
    ------
    PacsError
        Unreachable server, refused credentials, unknown study (404), an instance that does
        not arrive or cannot be written (the file named).
    PacsCancelled
        ``cancelled()`` returned True.
    """
    client = _client(server)
    wanted = _instances(server, client, study_uid)
    return _retrieve_staged(
        server,
        dest_folder,
        lambda staging: _download(server, client, study_uid, wanted, staging, progress, cancelled),
    )


StageFn = Callable[[Path], list[tuple[Path, Path]]]


def _retrieve_staged(server: PacsEndpoint, dest_folder: str | Path, fetch: StageFn) -> list[Path]:
    """All or nothing: ``fetch(staging)`` writes (and fsyncs) the files into a hidden staging
    folder inside ``dest_folder`` and returns (staged file, path relative to the destination)
    pairs; they are moved into place only when it returns. On any failure the staging folder
    and the folders this call created go again. Shared by the DICOMweb and DIMSE retrieves."""
    dest = Path(dest_folder)
    created = _missing_folders(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".orthogui-retrieve-", dir=dest))
    except OSError as exc:
        _remove_empty(created)
        raise PacsError(server, f"cannot write {dest}: {exc.strerror or exc}") from exc
    done = False
    try:
        staged = fetch(staging)
        written = _move_into_place(server, dest, staged)
        done = True
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:  # the folders this retrieve made go too, when nothing else is in them
            _remove_empty(created)


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove each folder (deepest first) if it is empty; leave it otherwise."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or gone): its parents are not empty either


def _download(
    server: PacsServer,
    client: DICOMwebClient,
    study_uid: str,
    wanted: list[tuple[str, str]],
    staging: Path,
    progress: ProgressFn | None,
    cancelled: CancelFn | None,
) -> list[tuple[Path, Path]]:
    """Fetch each instance into a flat ``staging`` folder, fsynced; (staged file, path of
    the file relative to the destination) in the server's order."""
    total = len(wanted)
    staged: list[tuple[Path, Path]] = []
    for n, (series_uid, sop_uid) in enumerate(wanted):
        if cancelled is not None and cancelled():
            raise PacsCancelled(server, f"retrieve of study {study_uid} cancelled")
        if progress is not None:
            progress(n, total)
        where = f"retrieve of study {study_uid} failed at instance {n + 1} of {total} ({sop_uid})"
        with _request(server, where):
            ds = client.retrieve_instance(study_uid, series_uid, sop_uid, media_types=_AS_STORED)
        rel = Path(_safe_uid(study_uid), _safe_uid(series_uid), f"{_safe_uid(sop_uid)}.dcm")
        out = staging / f"{n:06d}.dcm"
        try:
            ds.save_as(out, enforce_file_format=True)
            fsync_file(out)
        except OSError as exc:
            raise PacsError(server, f"cannot write {out}: {exc.strerror or exc}") from exc
        except Exception as exc:  # pydicom refuses to encode what arrived
            raise PacsError(
                server, f"instance {sop_uid} cannot be saved: {_short(str(exc))}"
            ) from exc
        staged.append((out, rel))
    if progress is not None:
        progress(total, total)
    return staged


def _move_into_place(
    server: PacsEndpoint, dest: Path, staged: list[tuple[Path, Path]]
) -> list[Path]:
    """Rename each staged (already fsynced) file into ``dest`` (same file system: atomic per
    file); all of them or none. A move of many files, so not ``orthogui.io.fileops``' one
    atomic write; the folders are fsynced after it so the renames survive a power cut."""
    moved: list[Path] = []
    made: list[Path] = []
    try:
        for source, rel in staged:
            target = dest / rel
            made[:0] = _missing_folders(target.parent)  # deepest first overall
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            moved.append(target)
        for folder in sorted({p.parent for p in moved}):
            fsync_dir(folder)
    except OSError as exc:
        for path in moved:  # all or nothing: take back what was moved already
            path.unlink(missing_ok=True)
        for folder in sorted(set(made), key=lambda f: len(f.parts), reverse=True):
            _remove_empty([folder])
        raise PacsError(server, f"cannot write into {dest}: {exc.strerror or exc}") from exc
    return moved


# -- STOW-RS ----------------------------------------------------------------------------------
def _as_part10(server: PacsEndpoint, ds: Dataset) -> Dataset:
    """A shallow copy of ``ds`` that ``dcmwrite`` writes as a DICOM file (PS3.10: preamble,
    "DICM", complete file meta), as STOW-RS wants: a PACS such as Orthanc stores the bytes it
    gets, and a dataset made in memory (no preamble) would come back unreadable.
    ``ds`` itself is left as it is."""
    from pydicom.dataset import FileMetaDataset, validate_file_meta

    sop_class, sop_instance = ds.get("SOPClassUID"), ds.get("SOPInstanceUID")
    if not sop_class or not sop_instance:
        raise PacsError(server, "store failed: a dataset without SOP Class or Instance UID")
    meta = copy.deepcopy(getattr(ds, "file_meta", None) or FileMetaDataset())  # small
    if "TransferSyntaxUID" not in meta:
        raise PacsError(server, f"store failed: instance {sop_instance} has no transfer syntax")
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    try:
        validate_file_meta(meta, enforce_standard=True)  # adds the version and implementation
    except (AttributeError, ValueError) as exc:
        raise PacsError(server, f"store failed: instance {sop_instance}: {exc}") from exc
    out = copy.copy(ds)  # shares the elements: only the preamble and file meta are its own
    out.file_meta = meta
    out.preamble = getattr(ds, "preamble", None) or b"\0" * 128
    return out


def store(server: PacsServer, datasets: Sequence[Dataset]) -> StoreResult:
    """Send DICOM objects to the PACS (STOW-RS), all in one request.

    Parameters
    ----------
    server
        The PACS.
    datasets
        Complete DICOM objects (with file meta), e.g. an SR from ``orthogui.io.dicom_sr``.

    Returns
    -------
    StoreResult
        The SOP Instance UIDs the server accepted.

    Raises
    ------
    PacsError
        Unreachable server, refused credentials, or an instance the server did not store
        (its SOP Instance UID and failure reason named).
    """
    if not datasets:
        return StoreResult(())
    files = [_as_part10(server, ds) for ds in datasets]
    with _request(server, "store failed"):
        answer = _client(server).store_instances(files)
        failed = list(getattr(answer, "FailedSOPSequence", []) or [])
        stored = tuple(
            str(item.ReferencedSOPInstanceUID)
            for item in getattr(answer, "ReferencedSOPSequence", []) or []
        )
    if failed:
        which = ", ".join(
            f"{item.get('ReferencedSOPInstanceUID', '?')} (reason {item.get('FailureReason', '?')})"
            for item in failed
        )
        raise PacsError(server, f"store failed: {len(failed)} instance(s) refused: {which}")
    return StoreResult(stored)
