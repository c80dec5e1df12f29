"""The PACS dialogs: the servers the app knows (File → PACS servers…), the study search with
its results and retrieve progress (File → Open from PACS…), and the question before findings
are sent (Review → Send results to PACS…). They only ask and show; ``controllers.pacs`` runs
the requests off the GUI thread.

Servers are kept in the app settings (name, protocol, DICOMweb URL, sign-in kind and user name,
or the DIMSE host, port and AE titles); passwords and tokens never go there: into the OS keyring when ``keyring`` is installed with a usable
backend, else only into this session's memory (``Services.session_secrets``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal, Protocol

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orthogui.io.dimse import DimseServer
from orthogui.io.pacs import PacsServer, StudyRow
from orthogui.ui.services import Services

AuthKind = Literal["none", "basic", "token"]
Protocol_ = Literal["dicomweb", "dimse"]
PROTOCOL_TEXT: dict[Protocol_, str] = {"dicomweb": "DICOMweb", "dimse": "DIMSE (DICOM port)"}
AUTH_TEXT: dict[AuthKind, str] = {
    "none": "None",
    "basic": "User name and password",
    "token": "Bearer token",
}
KEYRING_SERVICE = "OrthoGUI PACS"
MODALITIES = ("CR", "DX")
COLUMNS = ("Patient", "Patient ID", "Date", "Accession", "Modalities", "Description", "Images")
_SERVERS, _LAST = "pacs/servers", "pacs/last_server"
_DIMSE_KEYS = ("host", "port", "called_aet", "calling_aet")
_ERROR_STYLE = "color: #b00020;"


# -- the servers and their secrets -----------------------------------------------------------
@dataclass(frozen=True)
class ServerEntry:
    """One PACS as the settings keep it (no secret here)."""

    name: str
    url: str
    auth: AuthKind = "none"
    user: str = ""
    protocol: Protocol_ = "dicomweb"
    host: str = ""  # DIMSE only, as the four below
    port: str = "104"
    called_aet: str = ""
    calling_aet: str = "ORTHOGUI"


class KeyringApi(Protocol):
    """The three functions of the ``keyring`` package that are used."""

    def get_password(self, service_name: str, username: str) -> str | None: ...

    def set_password(self, service_name: str, username: str, password: str) -> None: ...

    def delete_password(self, service_name: str, username: str) -> None: ...


def system_keyring() -> KeyringApi | None:
    """The ``keyring`` package when it is installed and its backend can store secrets, else
    None (no package, or only its "fail"/"null" backends)."""
    try:
        import keyring
    except Exception:
        return None
    try:
        priority = float(keyring.get_keyring().priority)
    except Exception:  # a backend that cannot even say what it is
        return None
    return keyring if priority > 0 else None


def secret_note(persistent: bool) -> str:
    """What happens to the passwords and tokens typed in the servers dialog."""
    if persistent:
        return "Passwords and tokens are kept in the system keyring, never in the settings file."
    return (
        "No system keyring is available: passwords and tokens are kept only until OrthoGUI "
        "closes (never written to disk); type them again in the next session."
    )


class PacsSettings:
    """The PACS servers in the app settings, their secrets in the keyring or the session."""

    def __init__(
        self, settings: QSettings, session: dict[str, str], keyring: KeyringApi | None
    ) -> None:
        self.settings = settings
        self.session = session
        self.keyring = keyring

    @classmethod
    def of(cls, services: Services) -> PacsSettings:
        return cls(services.app_settings(), services.session_secrets, system_keyring())

    @property
    def persistent_secrets(self) -> bool:
        return self.keyring is not None

    def servers(self) -> list[ServerEntry]:
        s = self.settings
        entries = []
        for i in range(s.beginReadArray(_SERVERS)):
            s.setArrayIndex(i)
            auth = str(s.value("auth", "none"))
            protocol = str(s.value("protocol", "dicomweb"))
            entries.append(
                ServerEntry(
                    name=str(s.value("name", "")),
                    url=str(s.value("url", "")),
                    auth=auth if auth in AUTH_TEXT else "none",  # type: ignore[arg-type]
                    user=str(s.value("user", "")),
                    protocol=protocol if protocol in PROTOCOL_TEXT else "dicomweb",  # type: ignore[arg-type]
                    host=str(s.value("host", "")),
                    port=str(s.value("port", "104")),
                    called_aet=str(s.value("called_aet", "")),
                    calling_aet=str(s.value("calling_aet", "ORTHOGUI")),
                )
            )
        s.endArray()
        return [e for e in entries if e.name and (e.host if e.protocol == "dimse" else e.url)]

    def secret(self, name: str) -> str:
        kept = self.session.get(_session_key(name))
        if kept is not None or self.keyring is None:
            return kept or ""
        try:
            return self.keyring.get_password(KEYRING_SERVICE, name) or ""
        except Exception:
            return ""

    def save(self, entries: list[ServerEntry], secrets: dict[str, str]) -> str:
        """Write ``entries`` and their secrets (by name); forget the secrets of servers gone
        or without sign-in. Returns a note when the keyring refused (kept for the session)."""
        old = {e.name for e in self.servers()}
        s = self.settings
        s.remove(_SERVERS)
        s.beginWriteArray(_SERVERS, len(entries))
        for i, e in enumerate(entries):
            s.setArrayIndex(i)
            dimse = (e.host, e.port, e.called_aet, e.calling_aet)
            for key, value in (("name", e.name), ("url", e.url), ("auth", e.auth)):
                s.setValue(key, value)
            s.setValue("user", e.user if e.auth == "basic" else "")
            s.setValue("protocol", e.protocol)
            for key, value in zip(_DIMSE_KEYS, dimse, strict=True):
                s.setValue(key, value if e.protocol == "dimse" else "")
        s.endArray()
        s.sync()
        refused = []
        for e in entries:
            secret = secrets.get(e.name, "") if e.auth != "none" else ""
            if not self._put(e.name, secret):
                refused.append(e.name)
        for name in old - {e.name for e in entries}:
            self._put(name, "")
        if refused:
            return (
                f"The system keyring refused the secret of {', '.join(refused)}: "
                "kept for this session only."
            )
        return ""

    def _put(self, name: str, secret: str) -> bool:
        """Store (or, when empty, forget) one secret; False when the keyring refused it."""
        key = _session_key(name)
        self.session.pop(key, None)
        if self.keyring is None:
            if secret:
                self.session[key] = secret
            return True
        try:
            if secret:
                self.keyring.set_password(KEYRING_SERVICE, name, secret)
            elif self.keyring.get_password(KEYRING_SERVICE, name) is not None:
                self.keyring.delete_password(KEYRING_SERVICE, name)
            return True
        except Exception:
            if secret:
                self.session[key] = secret
            return False

    def server(self, entry: ServerEntry) -> PacsServer | DimseServer:
        """The server to connect with: a ``DimseServer``, or a ``PacsServer`` (DICOMweb)
        with the entry's secret."""
        if entry.protocol == "dimse":
            return DimseServer(
                name=entry.name,
                host=entry.host.strip(),
                port=int(entry.port),
                called_aet=entry.called_aet.strip(),
                calling_aet=entry.calling_aet.strip(),
            )
        secret = self.secret(entry.name) if entry.auth != "none" else ""
        return PacsServer(
            name=entry.name,
            url=entry.url.strip(),
            user=entry.user if entry.auth == "basic" else "",
            password=secret if entry.auth == "basic" else "",
            token=secret if entry.auth == "token" else "",
        )

    def missing_secret(self, entry: ServerEntry) -> str:
        """Why ``entry`` cannot sign in now ("" when it can)."""
        if entry.protocol == "dimse" or entry.auth == "none" or self.secret(entry.name):
            return ""
        what = "password" if entry.auth == "basic" else "token"
        return f"No {what} for {entry.name} in this session: enter it in File → PACS servers…"

    def last_server(self) -> str:
        return str(self.settings.value(_LAST, ""))

    def remember_last(self, name: str) -> None:
        self.settings.setValue(_LAST, name)


def _session_key(name: str) -> str:
    return f"pacs/{name}"


@dataclass
class _Editing:
    """A server being edited in the dialog, with the secret typed for it."""

    entry: ServerEntry
    secret: str


def _trimmed(e: ServerEntry) -> ServerEntry:
    e = replace(e, name=e.name.strip(), url=e.url.strip(), user=e.user.strip())
    return replace(e, host=e.host.strip(), port=e.port.strip(), called_aet=e.called_aet.strip())


def _check_dimse(e: ServerEntry) -> str:
    if not e.host.strip():
        return f"{e.name}: give the PACS's host name or address."
    if not e.port.strip().isdigit() or not 0 < int(e.port) < 65536:
        return f"{e.name}: the DICOM port must be a number from 1 to 65535."
    for what, aet in (("the PACS's AE title", e.called_aet), ("our AE title", e.calling_aet)):
        if not 0 < len(aet.strip()) <= 16 or "\\" in aet:
            return f"{e.name}: {what} must be 1 to 16 characters."
    return ""


def _check_entries(entries: list[ServerEntry]) -> str:
    """Why the list cannot be saved ("" when it can)."""
    seen: set[str] = set()
    for e in entries:
        if not e.name.strip():
            return "Every server needs a name."
        if e.name in seen:
            return f"Two servers are called {e.name}: names must differ."
        seen.add(e.name)
        if e.protocol == "dimse":
            if why := _check_dimse(e):
                return why
            continue
        if not e.url.strip().lower().startswith(("http://", "https://")):
            return f"{e.name}: the DICOMweb URL must start with http:// or https://."
        if e.auth == "basic" and not e.user.strip():
            return f"{e.name}: give the user name (or choose no sign-in)."
    return ""


class PacsServersDialog(QDialog):
    """Add, edit and remove servers; OK saves them all (and their secrets), Cancel nothing."""

    def __init__(self, pacs: PacsSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pacsServersDialog")
        self.setWindowTitle("PACS servers")
        self.pacs = pacs
        self._rows = [_Editing(e, pacs.secret(e.name)) for e in pacs.servers()]
        self.list = QListWidget()
        self.list.setObjectName("pacsServerList")
        self.add_button = QPushButton("&Add")
        self.add_button.setObjectName("pacsServerAdd")
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setObjectName("pacsServerRemove")
        self.name_edit = self._line("pacsServerName", "e.g. Hospital PACS")
        self.url_edit = self._line("pacsServerUrl", "http://pacs:8042/dicom-web")
        self.auth_combo = QComboBox()
        self.auth_combo.setObjectName("pacsServerAuth")
        for kind, text in AUTH_TEXT.items():
            self.auth_combo.addItem(text, kind)
        self.protocol_combo = QComboBox()
        self.protocol_combo.setObjectName("pacsServerProtocol")
        for protocol, text in PROTOCOL_TEXT.items():
            self.protocol_combo.addItem(text, protocol)
        self.host_edit = self._line("pacsServerHost", "pacs.hospital.local")
        self.port_edit = self._line("pacsServerPort", "104")
        self.called_edit = self._line("pacsServerCalledAet", "the PACS's AE title")
        self.calling_edit = self._line("pacsServerCallingAet", "ORTHOGUI")
        self._dimse = (self.host_edit, self.port_edit, self.called_edit, self.calling_edit)
        self.user_edit = self._line("pacsServerUser", "")
        self.secret_edit = self._line("pacsServerSecret", "")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.note = QLabel(secret_note(pacs.persistent_secrets))
        self.note.setObjectName("pacsSecretNote")
        self.note.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("pacsServersError")
        self.error.setStyleSheet(_ERROR_STYLE)
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.form = QFormLayout()
        for label, w in (
            ("&Name", self.name_edit),
            ("Pr&otocol", self.protocol_combo),
            ("DICOMweb &URL", self.url_edit),
            ("&Host (DIMSE)", self.host_edit),
            ("Po&rt", self.port_edit),
            ("PACS &AE title", self.called_edit),
            ("Our AE t&itle", self.calling_edit),
            ("&Sign-in", self.auth_combo),
            ("User na&me", self.user_edit),
            ("&Password / token", self.secret_edit),
        ):
            self.form.addRow(label, w)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        left.addLayout(row)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(self.form, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(body)
        lay.addWidget(self.note)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.resize(720, 320)
        for editing in self._rows:
            self.list.addItem(editing.entry.name)
        self.list.currentRowChanged.connect(self._on_list_currentRowChanged)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        for edit in (self.name_edit, self.url_edit, self.user_edit, self.secret_edit, *self._dimse):
            edit.textEdited.connect(self._on_form_edited)
        self.auth_combo.currentIndexChanged.connect(self._on_form_edited)
        self.protocol_combo.currentIndexChanged.connect(self._on_form_edited)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.list.setCurrentRow(0 if self._rows else -1)
        self._on_list_currentRowChanged(self.list.currentRow())

    def _line(self, name: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        return edit

    def entries(self) -> list[ServerEntry]:
        """The servers as edited (not yet saved)."""
        return [e for e, _ in self._entries_and_secrets()]

    def _entries_and_secrets(self) -> list[tuple[ServerEntry, str]]:
        return [(_trimmed(r.entry), r.secret) for r in self._rows]

    def _on_list_currentRowChanged(self, row: int) -> None:
        has = 0 <= row < len(self._rows)
        for w in (self.name_edit, self.protocol_combo, self.remove_button):
            w.setEnabled(has)
        entry, secret = (self._rows[row].entry, self._rows[row].secret) if has else (None, "")
        entry = entry or ServerEntry("", "")
        edits = (self.name_edit, self.url_edit, self.user_edit, self.secret_edit, *self._dimse)
        texts = (entry.name, entry.url, entry.user, secret, entry.host, entry.port)
        for w, text in zip(edits, (*texts, entry.called_aet, entry.calling_aet), strict=True):
            w.setText(text)
        for combo, index in (
            (self.auth_combo, list(AUTH_TEXT).index(entry.auth)),
            (self.protocol_combo, list(PROTOCOL_TEXT).index(entry.protocol)),
        ):
            combo.blockSignals(True)
            combo.setCurrentIndex(index)
            combo.blockSignals(False)
        self._enable_sign_in(entry.auth, entry.protocol if has else None)

    def _enable_sign_in(self, auth: AuthKind, protocol: Protocol_ | None) -> None:
        """The fields of the server's protocol (none without a server)."""
        for w in (self.url_edit, self.auth_combo):
            w.setEnabled(protocol == "dicomweb")
        for w in self._dimse:
            w.setEnabled(protocol == "dimse")
        auth = auth if protocol == "dicomweb" else "none"
        self.user_edit.setEnabled(auth == "basic")
        self.secret_edit.setEnabled(auth != "none")
        self.secret_edit.setPlaceholderText(
            {"none": "", "basic": "password", "token": "bearer token"}[auth]
        )

    def _on_form_edited(self, *_args: object) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self._rows):
            return
        auth: AuthKind = self.auth_combo.currentData()
        protocol: Protocol_ = self.protocol_combo.currentData()
        host, port, called, calling = (w.text() for w in self._dimse)
        entry = ServerEntry(
            self.name_edit.text(), self.url_edit.text(), auth, self.user_edit.text()
        )
        entry = replace(entry, protocol=protocol, host=host, port=port, called_aet=called)
        self._rows[row] = _Editing(replace(entry, calling_aet=calling), self.secret_edit.text())
        item = self.list.item(row)
        if item is not None:
            item.setText(self.name_edit.text() or "(no name)")
        self._enable_sign_in(auth, protocol)
        self.error.clear()

    def _on_add_button_clicked(self) -> None:
        names = {r.entry.name for r in self._rows}
        n = 1
        while f"PACS {n}" in names:
            n += 1
        self._rows.append(_Editing(ServerEntry(f"PACS {n}", "", "none", ""), ""))
        self.list.addItem(f"PACS {n}")
        self.list.setCurrentRow(len(self._rows) - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _on_remove_button_clicked(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._rows):
            del self._rows[row]
            self.list.takeItem(row)
            self._on_list_currentRowChanged(self.list.currentRow())

    def _on_buttons_accepted(self) -> None:
        pairs = self._entries_and_secrets()
        why = _check_entries([e for e, _ in pairs])
        if why:
            self.error.setText(why)
            return
        note = self.pacs.save([e for e, _ in pairs], {e.name: s for e, s in pairs})
        self.note.setText(note or secret_note(self.pacs.persistent_secrets))
        self.accept()


# -- the study search ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StudyQuery:
    """What the search form asks for ("" and None: not asked)."""

    patient_name: str = ""
    patient_id: str = ""
    accession: str = ""
    date_from: date | None = None
    date_to: date | None = None
    modalities: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        keys = (self.patient_name, self.patient_id, self.accession, self.date_from, self.date_to)
        return not any(keys)

    def name_pattern(self) -> str | None:
        """The name as typed, matching from its start (``DOE`` finds ``DOE^JANE``)."""
        name = self.patient_name.strip()
        if not name:
            return None
        return name if "*" in name or "?" in name else f"{name}*"

    def date_range(self) -> tuple[date | None, date | None] | None:
        if self.date_from is None and self.date_to is None:
            return None
        return (self.date_from, self.date_to)


def parse_date(text: str) -> date | None:
    """``YYYY-MM-DD`` or ``YYYYMMDD`` (None when empty); ValueError when neither."""
    text = text.strip()
    if not text:
        return None
    digits = text.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))


def _shown_date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 else value


class PacsQueryDialog(QDialog):
    """Search a server, list the studies found, choose some and retrieve them.

    Emits ``searchRequested(server name, StudyQuery)``, ``retrieveRequested(server name,
    [StudyRow])``, ``cancelRequested()`` and ``serversRequested()``; the controller answers
    with ``show_results``, ``show_progress``, ``say``.
    """

    searchRequested = Signal(str, object)
    retrieveRequested = Signal(str, object)
    cancelRequested = Signal()
    serversRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pacsQueryDialog")
        self.setWindowTitle("Open from PACS")
        self._rows: list[StudyRow] = []
        self._retrieving = False
        self.server_combo = QComboBox()
        self.server_combo.setObjectName("pacsServer")
        self.server_combo.setMinimumWidth(260)
        self.servers_button = QPushButton("&Edit servers…")
        self.servers_button.setObjectName("pacsServersButton")
        self.name_edit = self._line("pacsPatientName", "DOE or DOE^J* (from the start)")
        self.id_edit = self._line("pacsPatientId", "")
        self.accession_edit = self._line("pacsAccession", "")
        self.from_edit = self._line("pacsDateFrom", "YYYY-MM-DD")
        self.to_edit = self._line("pacsDateTo", "YYYY-MM-DD")
        self.modality_checks = {m: QCheckBox(m) for m in MODALITIES}
        for m, check in self.modality_checks.items():
            check.setObjectName(f"pacsModality{m}")
            check.setChecked(True)
            check.setToolTip(f"Studies with {m} images; none ticked: any modality")
        self.search_button = QPushButton("&Search")
        self.search_button.setObjectName("pacsSearch")
        self.search_button.setDefault(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("pacsResults")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.message = QLabel("")
        self.message.setObjectName("pacsMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("pacsProgressLabel")
        self.progress = QProgressBar()
        self.progress.setObjectName("pacsProgress")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("pacsCancel")
        self.cancel_button.setToolTip("Stop: studies that arrived completely are kept")
        self.retrieve_button = QPushButton("&Retrieve")
        self.retrieve_button.setObjectName("pacsRetrieve")
        self.retrieve_button.setToolTip("Fetch the chosen studies and add their images")
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("pacsClose")
        self.close_button.setAutoDefault(False)
        self._lay_out()
        self.search_button.clicked.connect(self._on_search_button_clicked)
        self.retrieve_button.clicked.connect(self._on_retrieve_button_clicked)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.servers_button.clicked.connect(self.serversRequested)
        self.close_button.clicked.connect(self.close)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.server_combo.currentIndexChanged.connect(lambda _i: self._update_buttons())
        self.hide_progress()
        self.resize(980, 560)

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        label = QLabel("Ser&ver")
        label.setBuddy(self.server_combo)
        top.addWidget(label)
        top.addWidget(self.server_combo, 1)
        top.addWidget(self.servers_button)
        grid = QGridLayout()
        fields = (
            ("Patient &name", self.name_edit),
            ("Patient &ID", self.id_edit),
            ("&Accession", self.accession_edit),
        )
        for col, (text, edit) in enumerate(fields):
            label = QLabel(text)
            label.setBuddy(edit)
            grid.addWidget(label, 0, 2 * col)
            grid.addWidget(edit, 0, 2 * col + 1)
        dates = QHBoxLayout()
        for text, edit in (("Study date &from", self.from_edit), ("&to", self.to_edit)):
            label = QLabel(text)
            label.setBuddy(edit)
            dates.addWidget(label)
            dates.addWidget(edit)
        dates.addSpacing(16)
        dates.addWidget(QLabel("Modality"))
        for check in self.modality_checks.values():
            dates.addWidget(check)
        dates.addStretch(1)
        dates.addWidget(self.search_button)
        progress = QHBoxLayout()
        progress.addWidget(self.progress_label)
        progress.addWidget(self.progress, 1)
        progress.addWidget(self.cancel_button)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.retrieve_button)
        bottom.addWidget(self.close_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(grid)
        lay.addLayout(dates)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.message)
        lay.addLayout(progress)
        lay.addLayout(bottom)

    def _line(self, name: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(True)
        edit.returnPressed.connect(self._on_search_button_clicked)
        return edit

    # -- what the controller calls -----------------------------------------------------------
    def set_servers(self, names: list[str], current: str = "") -> None:
        keep = current or self.server_combo.currentText()
        self.server_combo.blockSignals(True)
        self.server_combo.clear()
        self.server_combo.addItems(names)
        if keep in names:
            self.server_combo.setCurrentIndex(names.index(keep))
        self.server_combo.blockSignals(False)
        if not names:
            self.say("No PACS server yet: add one with Edit servers…", error=True)
        self._update_buttons()

    def server_name(self) -> str:
        return self.server_combo.currentText()

    def query(self) -> StudyQuery:
        """The form as a query; ValueError naming the field that is wrong."""
        start, end = parse_date(self.from_edit.text()), parse_date(self.to_edit.text())
        if start is not None and end is not None and end < start:
            raise ValueError("the study date 'to' is before 'from'")
        return StudyQuery(
            patient_name=self.name_edit.text().strip(),
            patient_id=self.id_edit.text().strip(),
            accession=self.accession_edit.text().strip(),
            date_from=start,
            date_to=end,
            modalities=tuple(m for m, c in self.modality_checks.items() if c.isChecked()),
        )

    def show_results(self, rows: list[StudyRow]) -> None:
        self._rows = list(rows)
        self.table.clearContents()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = (
                row.patient_name.replace("^", " ").strip(),
                row.patient_id,
                _shown_date(row.study_date),
                row.accession,
                "/".join(row.modalities),
                row.description,
                "" if row.instance_count is None else str(row.instance_count),
            )
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c == len(values) - 1:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(r, c, item)
        s = "y" if len(rows) == 1 else "ies"
        self.say(f"{len(rows)} stud{s} found on {self.server_name()}.")
        self._update_buttons()

    def chosen_rows(self) -> list[StudyRow]:
        picked = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self._rows[i] for i in picked if i < len(self._rows)]

    def set_searching(self, on: bool) -> None:
        self.search_button.setEnabled(not on)
        if on:
            self.say(f"Searching {self.server_name()}…")

    def show_progress(self, text: str, done: int, total: int) -> None:
        self._retrieving = True
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress_label.setText(text)
        for w in (self.progress_label, self.progress, self.cancel_button):
            w.setVisible(True)
        self._update_buttons()

    def hide_progress(self) -> None:
        self._retrieving = False
        for w in (self.progress_label, self.progress, self.cancel_button):
            w.hide()
        self._update_buttons()

    def say(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet(_ERROR_STYLE if error else "")
        self.message.setText(text)

    # -- slots ---------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        has_server = bool(self.server_name())
        self.retrieve_button.setEnabled(
            has_server and not self._retrieving and bool(self.table.selectionModel().hasSelection())
        )

    def _on_search_button_clicked(self) -> None:
        if not self.search_button.isEnabled():
            return
        if not self.server_name():
            self.say("No PACS server yet: add one with Edit servers…", error=True)
            return
        try:
            query = self.query()
        except ValueError as exc:
            self.say(f"Not searched: {exc}.", error=True)
            return
        if query.is_empty():
            self.say("Give a patient name, patient ID, accession number or study date.", error=True)
            return
        self.searchRequested.emit(self.server_name(), query)

    def _on_retrieve_button_clicked(self) -> None:
        rows = self.chosen_rows()
        if rows and not self._retrieving:
            self.retrieveRequested.emit(self.server_name(), rows)


# -- sending results -----------------------------------------------------------------------------
class PacsSendDialog(QDialog):
    """Which server gets the results of the images named; ``sendRequested(server name)``."""

    sendRequested = Signal(str)

    def __init__(
        self, servers: list[str], current: str, images: list[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("pacsSendDialog")
        self.setWindowTitle("Send results to PACS")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.server_combo = QComboBox()
        self.server_combo.setObjectName("pacsSendServer")
        self.server_combo.addItems(servers)
        if current in servers:
            self.server_combo.setCurrentIndex(servers.index(current))
        shown = ", ".join(images[:5]) + (f" and {len(images) - 5} more" if len(images) > 5 else "")
        self.what = QLabel(
            f"The reviewed findings of {len(images)} approved image(s) — {shown} — go to the "
            "PACS as DICOM objects in a new series of each image's study. They carry the "
            "patient's identity (they are not de-identified)."
        )
        self.what.setObjectName("pacsSendWhat")
        self.what.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send_button = buttons.addButton("&Send", QDialogButtonBox.ButtonRole.AcceptRole)
        self.send_button.setObjectName("pacsSend")
        form = QFormLayout()
        form.addRow("&Server", self.server_combo)
        lay = QVBoxLayout(self)
        lay.addWidget(self.what)
        lay.addLayout(form)
        lay.addWidget(buttons)
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        self.resize(520, 180)

    def _on_buttons_accepted(self) -> None:
        self.sendRequested.emit(self.server_combo.currentText())
        self.accept()
