"""DIMSE client for a PACS without DICOMweb: find studies (C-FIND), fetch one into a folder
(C-GET, as stored) and send DICOM objects back (C-STORE), on top of ``pynetdicom``.

The same rows, errors and all-or-nothing staging as ``orthogui.io.pacs``: every failure -
association rejected (e.g. a wrong called AE title), aborted, connection refused, a failed
status - is one ``PacsError`` naming the server and the reason. No Qt here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from orthogui.io.fileops import fsync_file
from orthogui.io.pacs import (
    CancelFn,
    PacsCancelled,
    PacsError,
    ProgressFn,
    SeriesRow,
    StoreResult,
    StudyRow,
    _as_part10,
    _date_value,
    _retrieve_staged,
    _safe_uid,
    _short,
)

if TYPE_CHECKING:
    from pydicom.dataset import Dataset
    from pynetdicom.association import Association
    from pynetdicom.events import Event
    from pynetdicom.presentation import PresentationContext, SCP_SCU_RoleSelectionNegotiation

_FIND = "1.2.840.10008.5.1.4.1.2.2.1"  # Study Root Query/Retrieve Information Model - FIND
_GET = "1.2.840.10008.5.1.4.1.2.2.3"  # Study Root Query/Retrieve Information Model - GET
# What a C-GET may bring: the projection X-rays we read, the other images a study of ours
# may hold, and the SR and SEG we send back ourselves.
_IMAGE_STORAGE = (
    "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray, for presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray, for processing
    "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography, for presentation
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.2",  # CT
    "1.2.840.10008.5.1.4.1.1.4",  # MR
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound
)
_OTHER_STORAGE = (
    "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.88.34",  # Comprehensive 3D SR
    "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation
)
_UNCOMPRESSED = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")  # implicit / explicit VR LE
_COMPRESSED = (
    "1.2.840.10008.1.2.4.50",  # JPEG baseline
    "1.2.840.10008.1.2.4.51",  # JPEG extended (12 bit)
    "1.2.840.10008.1.2.4.57",  # JPEG lossless
    "1.2.840.10008.1.2.4.70",  # JPEG lossless, first-order prediction
    "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE lossless
)
_MAX_CONTEXTS = 128  # PS3.8: presentation context IDs are the odd numbers 1-255
_PENDING = (0xFF00, 0xFF01)
_OK_STORE = (0x0000, 0xB000, 0xB006, 0xB007)  # success, or stored with a warning
_STATUS = {
    0xA700: "out of resources",
    0xA701: "out of resources: cannot count the matches",
    0xA702: "out of resources: cannot do the sub-operations",
    0xA801: "move destination unknown",
    0xA900: "the identifier does not match the SOP class",
    0xB000: "some sub-operations failed",
    0xC000: "the server cannot understand the request",
    0xFE00: "cancelled",
    0x0122: "SOP class not supported",
    0x0124: "not authorised",
    0x0211: "unrecognised operation",
}


@dataclass(frozen=True)
class DimseServer:
    """Where a PACS answers DIMSE (DICOM upper layer over TCP): its host and port, its AE
    title (``called_aet``) and ours (``calling_aet``). A C-GET brings the instances back on
    the same association, so the PACS need not know our address (C-MOVE would)."""

    name: str
    host: str
    port: int
    called_aet: str
    calling_aet: str = "ORTHOGUI"
    timeout_s: float = 20.0

    @property
    def address(self) -> str:
        """``CALLED@host:port``."""
        return f"{self.called_aet}@{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """``name (CALLED@host:port)`` for messages."""
        return f"{self.name} ({self.address})" if self.name else self.address


# -- the association --------------------------------------------------------------------------
def _cannot_connect(server: DimseServer) -> str:
    """Why no connection opened: try once more with a plain socket to name the reason."""
    try:
        with socket.create_connection((server.host, server.port), timeout=server.timeout_s):
            pass
    except OSError as exc:
        return _os_reason(exc)
    return "cannot connect (the connection failed, then opened on a second try)"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, is the port its DICOM port?)"
    if isinstance(exc, socket.gaierror):
        return "cannot connect: unknown host name"
    if isinstance(exc, TimeoutError):
        return "timeout: no answer in time"
    return f"cannot connect: {exc.strerror or exc}"


def _not_established(server: DimseServer, assoc: Association, connected: bool) -> str:
    if assoc.is_rejected:
        primitive = assoc.acceptor.primitive
        why = primitive.reason_str if primitive is not None else "no reason given"
        hint = ""
        if primitive is not None and primitive.diagnostic == 7:
            hint = f" (is {server.called_aet!r} the server's AE title?)"
        elif primitive is not None and primitive.diagnostic == 3:
            hint = f" (does the server know our AE title {server.calling_aet!r}?)"
        return f"association rejected: {why}{hint}"
    if not connected:
        return _cannot_connect(server)
    return (
        "association aborted: the server closed the connection without accepting it "
        "(is the port its DICOM port?)"
    )


def _lost(server: DimseServer, since: float) -> str:
    """Why an answer did not come, ``since`` being when the server was last heard from:
    pynetdicom gives the same empty status for a timeout and a connection that closed."""
    if time.monotonic() - since >= 0.9 * server.timeout_s:
        return "timeout: no answer in time"
    return "connection lost: the server closed the association (did it stop?)"


def _status_text(status: Dataset) -> str:
    code = int(status.Status)
    text = _STATUS.get(code) or ("failed" if code >= 0xA000 else "unexpected status")
    comment = str(status.get("ErrorComment", "") or "").strip()
    return f"{text} (status 0x{code:04X}){': ' + _short(comment) if comment else ''}"


@contextmanager
def _association(
    server: DimseServer,
    what: str,
    contexts: Sequence[PresentationContext],
    *,
    roles: Sequence[SCP_SCU_RoleSelectionNegotiation] = (),
    on_store: Callable[[Event], int] | None = None,
) -> Iterator[Association]:
    """An established association for the ``with`` block: released after it, aborted if it
    raises; a failure to establish it is ``PacsError(server, "<what>: <reason>")``."""
    from pynetdicom import AE, evt

    if len(contexts) > _MAX_CONTEXTS:
        raise PacsError(server, f"{what}: more than {_MAX_CONTEXTS} kinds of object at once")
    ae = AE(ae_title=server.calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = server.timeout_s
    ae.connection_timeout = server.timeout_s
    ae.requested_contexts = list(contexts)
    opened = threading.Event()
    handlers: list[evt.EventHandlerType] = [(evt.EVT_CONN_OPEN, lambda event: opened.set())]
    if on_store is not None:
        handlers.append((evt.EVT_C_STORE, on_store))
    # A PACS that rejects an association may close the connection so fast that its answer
    # is lost (a reset discards it): an association aborted during negotiation is asked for
    # once more, to learn why.
    for attempt in (1, 2):
        opened.clear()
        try:
            assoc = ae.associate(
                server.host,
                server.port,
                ae_title=server.called_aet,
                ext_neg=list(roles) or None,
                evt_handlers=handlers,
            )
        except OSError as exc:  # e.g. the host name does not resolve
            raise PacsError(server, f"{what}: {_os_reason(exc)}") from exc
        except ValueError as exc:  # e.g. an AE title pynetdicom refuses
            raise PacsError(server, f"{what}: {_short(str(exc))}") from exc
        if assoc.is_established or assoc.is_rejected or not opened.is_set() or attempt == 2:
            break
    if not assoc.is_established:
        raise PacsError(server, f"{what}: {_not_established(server, assoc, opened.is_set())}")
    ok = False
    try:
        yield assoc
        ok = True
    finally:
        if assoc.is_established:
            if ok:
                assoc.release()
            else:
                assoc.abort()
        ae.shutdown()


def _find(server: DimseServer, what: str, query: Dataset) -> list[Dataset]:
    """Every match of a Study Root C-FIND."""
    from pynetdicom.presentation import build_context

    found: list[Dataset] = []
    with _association(server, what, [build_context(_FIND)]) as assoc:
        heard = time.monotonic()
        for status, identifier in assoc.send_c_find(query, _FIND):
            if not status:
                raise PacsError(server, f"{what}: {_lost(server, heard)}")
            heard = time.monotonic()
            code = int(status.Status)
            if code in _PENDING:
                if identifier is not None:
                    found.append(identifier)
            elif code == 0x0000:
                break
            else:
                raise PacsError(server, f"{what}: {_status_text(status)}")
    return found


def _query(level: str, keys: dict[str, str]) -> Dataset:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def _str(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


# -- C-FIND -----------------------------------------------------------------------------------
def query_studies(
    server: DimseServer,
    *,
    patient_name: str | None = None,
    patient_id: str | None = None,
    accession: str | None = None,
    date_range: str | tuple[str | date | None, str | date | None] | None = None,
    modality: str | None = None,
    limit: int | None = None,
) -> list[StudyRow]:
    """Find studies (C-FIND, Study Root, STUDY level).

    Parameters
    ----------
    server
        The PACS.
    patient_name, patient_id, accession
        Matching keys; ``*`` and ``?`` are wildcards.
    date_range
        Study date: ``"20240101-20240131"``, ``"20240101-"``, one day ``"20240101"``, or a pair
        of dates/strings (``None`` for an open end).
    modality
        A modality in the study (ModalitiesInStudy), e.g. ``"CR"``.
    limit
        At most this many studies.

    Returns
    -------
    list[StudyRow]
        The studies, in the server's order.

    Raises
    ------
    PacsError
        No connection, association rejected or aborted, or a failed status.
    """
    keys = {
        "StudyInstanceUID": "",
        "PatientName": patient_name or "",
        "PatientID": patient_id or "",
        "AccessionNumber": accession or "",
        "StudyDate": _date_value(date_range),
        "StudyDescription": "",
        "ModalitiesInStudy": modality or "",
        "NumberOfStudyRelatedSeries": "",
        "NumberOfStudyRelatedInstances": "",
    }
    rows = [
        StudyRow(
            study_uid=_str(it, "StudyInstanceUID"),
            patient_name=_str(it, "PatientName"),
            patient_id=_str(it, "PatientID"),
            accession=_str(it, "AccessionNumber"),
            study_date=_str(it, "StudyDate"),
            description=_str(it, "StudyDescription"),
            modalities=_modalities(it),
            series_count=_int(it, "NumberOfStudyRelatedSeries"),
            instance_count=_int(it, "NumberOfStudyRelatedInstances"),
        )
        for it in _find(server, "study query failed", _query("STUDY", keys))
    ]
    return rows[:limit] if limit is not None else rows


def _modalities(ds: Dataset) -> tuple[str, ...]:
    value = ds.get("ModalitiesInStudy")
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(m for m in value.split("\\") if m)
    return tuple(str(m) for m in value if m)


def query_series(server: DimseServer, study_uid: str) -> list[SeriesRow]:
    """The series of one study (C-FIND, SERIES level).

    Raises
    ------
    PacsError
        As ``query_studies``.
    """
    keys = {
        "StudyInstanceUID": study_uid,
        "SeriesInstanceUID": "",
        "Modality": "",
        "SeriesNumber": "",
        "SeriesDescription": "",
        "NumberOfSeriesRelatedInstances": "",
    }
    return [
        SeriesRow(
            series_uid=_str(it, "SeriesInstanceUID"),
            modality=_str(it, "Modality"),
            series_number=_int(it, "SeriesNumber"),
            description=_str(it, "SeriesDescription"),
            instance_count=_int(it, "NumberOfSeriesRelatedInstances"),
        )
        for it in _find(server, f"series query of study {study_uid} failed", _query("SERIES", keys))
    ]


# -- C-GET ------------------------------------------------------------------------------------
def _storage_contexts() -> tuple[list[PresentationContext], list[SCP_SCU_RoleSelectionNegotiation]]:
    """One presentation context per (storage SOP class, transfer syntax), so that the PACS
    can send each instance in the transfer syntax it is stored in (an acceptor picks one
    syntax per context); our SCP role for each of those SOP classes."""
    from pynetdicom import build_role
    from pynetdicom.presentation import build_context

    contexts = [
        build_context(sop, ts) for sop in _IMAGE_STORAGE for ts in (*_UNCOMPRESSED, *_COMPRESSED)
    ]
    contexts += [build_context(sop, ts) for sop in _OTHER_STORAGE for ts in _UNCOMPRESSED]
    roles = [build_role(sop, scp_role=True) for sop in (*_IMAGE_STORAGE, *_OTHER_STORAGE)]
    return contexts, roles


class _Receiver:
    """Writes each instance a C-GET brings into the staging folder, as received (fsynced),
    in the association's thread; remembers the first problem for the caller's thread."""

    def __init__(
        self,
        server: DimseServer,
        study_uid: str,
        staging: Path,
        total: int,
        progress: ProgressFn | None,
        cancelled: CancelFn | None,
    ) -> None:
        self.server, self.study_uid, self.staging = server, study_uid, staging
        self.total, self.progress, self.cancelled = total, progress, cancelled
        self.staged: list[tuple[Path, Path]] = []
        self.problem: BaseException | None = None
        self.heard = time.monotonic()  # when the server last sent something

    def on_store(self, event: Event) -> int:
        self.heard = time.monotonic()
        if self.problem is not None:
            return 0xA700  # refuse the rest: the retrieve is over
        try:
            if self.cancelled is not None and self.cancelled():
                raise PacsCancelled(self.server, f"retrieve of study {self.study_uid} cancelled")
            self._write(event)
            if self.progress is not None:
                self.progress(len(self.staged), max(self.total, len(self.staged)))
        except Exception as exc:  # handed to the caller's thread, which raises it
            self.problem = exc
            return 0xA700
        return 0x0000

    def _write(self, event: Event) -> None:
        try:
            sop_uid = str(event.dataset.SOPInstanceUID)
            series_uid = str(event.dataset.SeriesInstanceUID)
            raw = event.encoded_dataset(include_meta=True)  # the bytes as sent: no re-encoding
        except Exception as exc:
            raise PacsError(
                self.server,
                f"{self.where()}: not a readable DICOM object: {_short(str(exc))}",
            ) from exc
        rel = Path(_safe_uid(self.study_uid), _safe_uid(series_uid), f"{_safe_uid(sop_uid)}.dcm")
        out = self.staging / f"{len(self.staged):06d}.dcm"
        try:
            out.write_bytes(raw)
            fsync_file(out)
        except OSError as exc:
            raise PacsError(self.server, f"cannot write {out}: {exc.strerror or exc}") from exc
        self.staged.append((out, rel))

    def where(self) -> str:
        return (
            f"retrieve of study {self.study_uid} failed at instance "
            f"{len(self.staged) + 1} of {max(self.total, len(self.staged) + 1)}"
        )


def _instance_count(server: DimseServer, study_uid: str) -> int:
    keys = {"StudyInstanceUID": study_uid, "SeriesInstanceUID": "", "SOPInstanceUID": ""}
    found = _find(server, f"instance list of study {study_uid} failed", _query("IMAGE", keys))
    if not found:
        raise PacsError(server, f"study {study_uid}: not found (no instances)")
    return len(found)


def retrieve_study(
    server: DimseServer,
    study_uid: str,
    dest_folder: str | Path,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> list[Path]:
    """Fetch every instance of a study (C-GET, as stored: one presentation context per
    transfer syntax) into a folder.

    Files are ``dest_folder/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.dcm``, written in a hidden
    staging folder and moved into place only when every instance has arrived, so a failure
    or a cancel leaves nothing half-written behind (as ``orthogui.io.pacs.retrieve_study``).

    Parameters
    ----------
    server
        The PACS.
    study_uid
        Study Instance UID (e.g. from ``query_studies``).
    dest_folder
        Where to put the study (created if missing).
    progress
        Called with ``(done, total)`` instances, first ``(0, total)``; after the first, from
        the thread that receives the instances.
    cancelled
        Polled before each instance is written (from that thread too); True stops with
        ``PacsCancelled``.

    Returns
    -------
    list[Path]
        The files written, in the order they arrived.

    Raises
    ------
    PacsError
        No connection, association rejected or aborted, unknown study, a failed status or
        instances the server did not send, a file that cannot be written.
    PacsCancelled
        ``cancelled()`` returned True.
    """
    total = _instance_count(server, study_uid)

    def fetch(staging: Path) -> list[tuple[Path, Path]]:
        receiver = _Receiver(server, study_uid, staging, total, progress, cancelled)
        contexts, roles = _storage_contexts()
        from pynetdicom.presentation import build_context

        what = f"retrieve of study {study_uid} failed"
        if cancelled is not None and cancelled():
            raise PacsCancelled(server, f"retrieve of study {study_uid} cancelled")
        with _association(
            server, what, [build_context(_GET), *contexts], roles=roles, on_store=receiver.on_store
        ) as assoc:
            if progress is not None:
                progress(0, total)
            query = _query("STUDY", {"StudyInstanceUID": study_uid})
            final: Dataset | None = None
            receiver.heard = time.monotonic()
            for status, _identifier in assoc.send_c_get(query, _GET):
                if receiver.problem is not None:
                    raise receiver.problem
                if not status:
                    raise PacsError(server, f"{receiver.where()}: {_lost(server, receiver.heard)}")
                receiver.heard = time.monotonic()
                if int(status.Status) not in _PENDING:
                    final = status
                    break
            if receiver.problem is not None:
                raise receiver.problem
            if final is None:
                raise PacsError(server, f"{receiver.where()}: {_lost(server, receiver.heard)}")
            code = int(final.Status)
            if code != 0x0000:
                failed = _int(final, "NumberOfFailedSuboperations") or 0
                detail = (
                    f"the server did not send {failed} of {total} instance(s): " if failed else ""
                )
                raise PacsError(server, f"{what}: {detail}{_status_text(final)}")
        return receiver.staged

    return _retrieve_staged(server, dest_folder, fetch)


# -- C-STORE ----------------------------------------------------------------------------------
def store(server: DimseServer, datasets: Sequence[Dataset]) -> StoreResult:
    """Send DICOM objects to the PACS (C-STORE), all on one association, each in its own
    transfer syntax.

    Parameters
    ----------
    server
        The PACS.
    datasets
        Complete DICOM objects (with file meta), e.g. an SR from ``orthogui.io.dicom_sr``.

    Returns
    -------
    StoreResult
        The SOP Instance UIDs the server stored.

    Raises
    ------
    PacsError
        No connection, association rejected or aborted, a kind of object the server does
        not accept, or instances the server refused (each SOP Instance UID and status named).
    """
    from pynetdicom.presentation import build_context

    if not datasets:
        return StoreResult(())
    files = [_as_part10(server, ds) for ds in datasets]
    kinds = sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in files})
    contexts = [build_context(sop, ts) for sop, ts in kinds]
    stored: list[str] = []
    refused: list[str] = []
    with _association(server, "store failed", contexts) as assoc:
        accepted = {
            (str(cx.abstract_syntax), str(cx.transfer_syntax[0])) for cx in assoc.accepted_contexts
        }
        for ds in files:
            uid = str(ds.SOPInstanceUID)
            kind = (str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
            if kind not in accepted:
                refused.append(f"{uid} (the server accepts no {kind[0]} in {kind[1]})")
                continue
            sent = time.monotonic()
            status = assoc.send_c_store(ds)
            if not status:
                raise PacsError(server, f"store failed at {uid}: {_lost(server, sent)}")
            if int(status.Status) in _OK_STORE:
                stored.append(uid)
            else:
                refused.append(f"{uid} ({_status_text(status)})")
    if refused:
        raise PacsError(
            server, f"store failed: {len(refused)} instance(s) refused: {', '.join(refused)}"
        )
    return StoreResult(tuple(stored))
