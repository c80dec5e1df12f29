"""The dialogs of File → Export dataset (COCO) and File → Import annotations: they only ask
(where, which images, image mode, de-identification and burned-in text; which file and format)
and say what was chosen; ``controllers.dataset_io`` does the work off the GUI thread.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from orthogui.io.snapshot import BurnedInText, ImageMode, SnapshotOptions
from orthogui.ui.dialogs.files import existing_directory, open_file_name, start_dir

IMAGE_MODES: tuple[tuple[ImageMode, str], ...] = (
    (ImageMode.ORIGINAL, "Original format (DICOM de-identified, others re-encoded)"),
    (ImageMode.PNG16, "16-bit PNG (every pixel value)"),
    (ImageMode.PNG8, "8-bit PNG (as displayed)"),
    (ImageMode.NONE, "No images (annotations only)"),
)
"""The ``--images`` choices of ``orthogui export``, in words."""

BURNED_IN_TEXT: tuple[tuple[BurnedInText, str], ...] = (
    (BurnedInText.MASK, "Mask text burned into the pixels (side markers L/R stay)"),
    (BurnedInText.HOLD_OUT, "Hold out images with text burned into the pixels"),
    (BurnedInText.OFF, "Do not search the pixels for text"),
)
"""The ``--burned-in-text`` choices of ``orthogui export``, in words."""

IMPORT_FORMATS: tuple[tuple[str | None, str], ...] = (
    (None, "Detect from the content"),
    ("coco", "COCO JSON file"),
    ("labelme", "LabelMe file or folder"),
    ("yolo", "YOLO folder"),
    ("fracatlas", "FracAtlas folder"),
)
"""Format name of ``orthogui.io.importers.IMPORTERS`` (None: ``detect_format``), in words."""


class ExportDatasetDialog(QDialog):
    """Window-modal; on OK, ``out_dir()`` is the snapshot folder to create and
    ``options(salt=...)`` the ``SnapshotOptions`` (as ``orthogui export`` builds them)."""

    def __init__(self, project_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ExportDatasetDialog")
        self.setWindowTitle("Export dataset (COCO)")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.folder_edit = QLineEdit(str(start_dir("export", widget=parent)))
        self.folder_edit.setObjectName("exportFolder")
        self.choose_button = QPushButton("Choose…")
        self.choose_button.setObjectName("exportChooseFolder")
        self.choose_button.clicked.connect(self._on_choose_button_clicked)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.name_edit = QLineEdit(f"{project_name}-coco-{stamp}")
        self.name_edit.setObjectName("exportName")
        self.name_edit.setToolTip("A new folder of this name is created inside the folder")
        self.approved_radio = QRadioButton("Approved images only")
        self.approved_radio.setObjectName("exportApprovedOnly")
        self.approved_radio.setChecked(True)
        self.all_radio = QRadioButton("All reviewed images (proposed findings are left out)")
        self.all_radio.setObjectName("exportAllImages")
        group = QButtonGroup(self)
        group.addButton(self.approved_radio)
        group.addButton(self.all_radio)
        self.mode_combo = QComboBox()
        self.mode_combo.setObjectName("exportImageMode")
        for mode, text in IMAGE_MODES:
            self.mode_combo.addItem(text, mode)
        self.burned_in_combo = QComboBox()
        self.burned_in_combo.setObjectName("exportBurnedInText")
        self.burned_in_combo.setToolTip(
            "Names, IDs and dates a console printed into the image: found by OCR (tesseract) "
            "and by their shapes. Images whose header says BurnedInAnnotation YES are masked "
            "too, or held out when no text is found on them."
        )
        for policy, text in BURNED_IN_TEXT:
            self.burned_in_combo.addItem(text, policy)
        self.rejected_check = QCheckBox("Include rejected findings (as rejected_annotations)")
        self.rejected_check.setObjectName("exportIncludeRejected")
        self.names_check = QCheckBox("Keep reviewers' names (default: stable pseudonyms)")
        self.names_check.setObjectName("exportKeepReviewerNames")
        self.salt_check = QCheckBox("Unlinkable to earlier snapshots (a new salt)")
        self.salt_check.setObjectName("exportNewSalt")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Export")
        self.ok_button.setObjectName("exportOk")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.folder_edit.textChanged.connect(self._update_ok)
        self.name_edit.textChanged.connect(self._update_ok)

        where = QHBoxLayout()
        where.addWidget(self.folder_edit)
        where.addWidget(self.choose_button)
        form = QFormLayout()
        form.addRow("Inside folder", where)
        form.addRow("New folder name", self.name_edit)
        form.addRow("Images", self.approved_radio)
        form.addRow("", self.all_radio)
        form.addRow("Image files", self.mode_combo)
        form.addRow("", self.rejected_check)
        form.addRow("De-identification", self.names_check)
        form.addRow("", self.salt_check)
        form.addRow("Burned-in text", self.burned_in_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_combo_current_index_changed)
        self._update_ok()

    def out_dir(self) -> Path:
        return Path(self.folder_edit.text().strip()) / self.name_edit.text().strip()

    def new_salt(self) -> bool:
        return self.salt_check.isChecked()

    def options(self, *, salt: str) -> SnapshotOptions:
        return SnapshotOptions(
            approved_only=self.approved_radio.isChecked(),
            include_rejected=self.rejected_check.isChecked(),
            image_mode=ImageMode(self.mode_combo.currentData()),
            salt=salt,
            keep_reviewer_names=self.names_check.isChecked(),
            burned_in_text=BurnedInText(self.burned_in_combo.currentData()),
        )

    def _on_mode_combo_current_index_changed(self) -> None:
        """No pixels, no text to look for."""
        self.burned_in_combo.setEnabled(
            ImageMode(self.mode_combo.currentData()) is not ImageMode.NONE
        )

    def _update_ok(self) -> None:
        name = self.name_edit.text().strip()
        ok = bool(self.folder_edit.text().strip() and name and "/" not in name and "\\" not in name)
        self.ok_button.setEnabled(ok)

    def _on_choose_button_clicked(self) -> None:
        folder = existing_directory(self, "Export into folder", kind="export")
        if folder is not None:
            self.folder_edit.setText(str(folder))


class ImportAnnotationsDialog(QDialog):
    """Window-modal; on OK, ``path()`` is the file or folder and ``format()`` its format
    (None: detect it from the content)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ImportAnnotationsDialog")
        self.setWindowTitle("Import annotations")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("importFormat")
        for fmt, text in IMPORT_FORMATS:
            self.format_combo.addItem(text, fmt)
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("importPath")
        self.path_edit.setPlaceholderText("a COCO or LabelMe JSON file, or a folder")
        self.file_button = QPushButton("File…")
        self.file_button.setObjectName("importChooseFile")
        self.file_button.clicked.connect(self._on_file_button_clicked)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setObjectName("importChooseFolder")
        self.folder_button.clicked.connect(self._on_folder_button_clicked)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Import")
        self.ok_button.setObjectName("importOk")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.path_edit.textChanged.connect(self._update_ok)

        where = QHBoxLayout()
        where.addWidget(self.path_edit)
        where.addWidget(self.file_button)
        where.addWidget(self.folder_button)
        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("From", where)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._update_ok()

    def path(self) -> Path:
        return Path(self.path_edit.text().strip())

    def format(self) -> str | None:
        fmt = self.format_combo.currentData()
        return str(fmt) if fmt else None

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(bool(self.path_edit.text().strip()))

    def _on_file_button_clicked(self) -> None:
        title = "Import annotations from a file"
        path = open_file_name(self, title, kind="annotations", filter="JSON (*.json)")
        if path is not None:
            self.path_edit.setText(str(path))

    def _on_folder_button_clicked(self) -> None:
        folder = existing_directory(self, "Import annotations from a folder", kind="annotations")
        if folder is not None:
            self.path_edit.setText(str(folder))
