"""File → PACS servers…: add, edit and remove servers with real clicks and typing; the servers
land in the settings file, their passwords and tokens never do (session memory without a
keyring, the keyring when one is usable)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QLineEdit, QMenu, QWidget

from orthogui.io.dimse import DimseServer
from orthogui.io.pacs import PacsServer
from orthogui.io.store import ProjectStore
from orthogui.ui.dialogs.pacs import KEYRING_SERVICE, PacsServersDialog, PacsSettings
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.ui._workbench import show_window

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
LEFT = Qt.MouseButton.LeftButton
SECRET = "s3cr3t-Pa55word-9931"
TOKEN = "tok-7f1e2d3c4b5a"


def window(qtbot, tmp_path: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    store = ProjectStore.create(tmp_path / "p.orthogui")
    return show_window(qtbot, MainWindow(Services(store, user="tester", settings=settings)))


def choose(qtbot, win: MainWindow, menu_name: str, action: str) -> None:  # type: ignore[no-untyped-def]
    """Click the menu in the menu bar, then its item (an action's name)."""
    bar = win.menuBar()
    menu = win.findChild(QMenu, menu_name)
    assert menu is not None
    qtbot.mouseClick(bar, LEFT, pos=bar.actionGeometry(menu.menuAction()).center())
    qtbot.waitUntil(menu.isVisible, timeout=5000)
    act = win.action_map[action]
    qtbot.mouseClick(menu, LEFT, pos=menu.actionGeometry(act).center())


def open_servers(qtbot, win: MainWindow) -> PacsServersDialog:  # type: ignore[no-untyped-def]
    choose(qtbot, win, "menu_File", "pacs_servers")
    qtbot.waitUntil(lambda: win.pacs.servers_dialog is not None, timeout=5000)
    dlg = win.pacs.servers_dialog
    assert dlg is not None
    qtbot.waitExposed(dlg)
    qtbot.waitUntil(dlg.isActiveWindow, timeout=5000)
    return dlg


def click(qtbot, w: QWidget) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(w, LEFT, pos=QPoint(w.width() // 2, w.height() // 2))


def retype(qtbot, edit: QLineEdit, text: str) -> None:  # type: ignore[no-untyped-def]
    """Click into the field, select all, type over it."""
    click(qtbot, edit)
    qtbot.keyClick(edit, K.Key_A, CTRL)
    qtbot.keyClicks(edit, text)
    assert edit.text() == text


def ok(qtbot, dlg: PacsServersDialog) -> None:  # type: ignore[no-untyped-def]
    button = dlg.buttons.button(dlg.buttons.StandardButton.Ok)
    assert button is not None
    click(qtbot, button)


def pick(qtbot, dlg: PacsServersDialog, name: str) -> None:  # type: ignore[no-untyped-def]
    (item,) = dlg.list.findItems(name, Qt.MatchFlag.MatchExactly)
    rect = dlg.list.visualItemRect(item)
    qtbot.mouseClick(dlg.list.viewport(), LEFT, pos=rect.center())
    assert dlg.name_edit.text() == name


def file_text(tmp_path: Path) -> str:
    return (tmp_path / "settings.ini").read_text(encoding="utf-8")


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without the ``keyring`` package: importing it fails."""
    monkeypatch.setitem(sys.modules, "keyring", None)


def test_add_edit_remove_servers_and_no_secret_in_the_file(
    qtbot, tmp_path: Path, no_keyring: None
) -> None:
    win = window(qtbot, tmp_path)
    dlg = open_servers(qtbot, win)
    assert "only until OrthoGUI closes" in dlg.note.text()
    assert dlg.list.count() == 0

    click(qtbot, dlg.add_button)  # the name field has the focus, its text selected
    assert dlg.name_edit.hasFocus() and dlg.name_edit.text() == "PACS 1"
    qtbot.keyClicks(dlg.name_edit, "Hospital PACS")
    retype(qtbot, dlg.url_edit, "http://pacs.example:8042/dicom-web")
    assert not dlg.user_edit.isEnabled() and not dlg.secret_edit.isEnabled()
    dlg.auth_combo.setFocus()
    qtbot.keyClick(dlg.auth_combo, K.Key_Down)  # "User name and password"
    assert dlg.auth_combo.currentData() == "basic"
    assert dlg.user_edit.isEnabled() and dlg.secret_edit.isEnabled()
    retype(qtbot, dlg.user_edit, "dr.lee")
    retype(qtbot, dlg.secret_edit, SECRET)
    assert dlg.list.item(0).text() == "Hospital PACS"
    ok(qtbot, dlg)
    qtbot.waitUntil(lambda: win.pacs.servers_dialog is None, timeout=5000)

    text = file_text(tmp_path)
    assert "Hospital PACS" in text and "http://pacs.example:8042/dicom-web" in text
    assert "dr.lee" in text and SECRET not in text
    assert win.services.session_secrets == {"pacs/Hospital PACS": SECRET}
    pacs = PacsSettings.of(win.services)
    (entry,) = pacs.servers()
    server = pacs.server(entry)
    assert isinstance(server, PacsServer)
    assert (server.name, server.user, server.password) == ("Hospital PACS", "dr.lee", SECRET)
    assert "saved" in win.statusBar().currentMessage()

    # Edit it, and add a second one signing in with a token.
    dlg = open_servers(qtbot, win)
    assert [dlg.list.item(i).text() for i in range(dlg.list.count())] == ["Hospital PACS"]
    assert dlg.secret_edit.text() == SECRET  # kept for the session, shown masked
    assert dlg.secret_edit.echoMode() == QLineEdit.EchoMode.Password
    retype(qtbot, dlg.url_edit, "https://pacs.example/dicom-web")
    click(qtbot, dlg.add_button)
    qtbot.keyClicks(dlg.name_edit, "Backup")
    retype(qtbot, dlg.url_edit, "http://backup:8080/dcm4chee-arc/aets/DCM4CHEE/rs")
    dlg.auth_combo.setFocus()
    qtbot.keyClick(dlg.auth_combo, K.Key_Down)
    qtbot.keyClick(dlg.auth_combo, K.Key_Down)  # "Bearer token"
    assert dlg.auth_combo.currentData() == "token" and not dlg.user_edit.isEnabled()
    retype(qtbot, dlg.secret_edit, TOKEN)
    ok(qtbot, dlg)
    qtbot.waitUntil(lambda: win.pacs.servers_dialog is None, timeout=5000)
    text = file_text(tmp_path)
    assert "https://pacs.example/dicom-web" in text and "pacs.example:8042" not in text
    assert "Backup" in text and SECRET not in text and TOKEN not in text
    servers = PacsSettings.of(win.services).servers()
    assert [(s.name, s.auth) for s in servers] == [("Hospital PACS", "basic"), ("Backup", "token")]
    backup = PacsSettings.of(win.services).server(servers[1])
    assert isinstance(backup, PacsServer) and backup.token == TOKEN

    # A wrong URL is refused in the dialog, and Cancel changes nothing.
    dlg = open_servers(qtbot, win)
    pick(qtbot, dlg, "Backup")
    retype(qtbot, dlg.url_edit, "backup:8080")
    ok(qtbot, dlg)
    assert dlg.isVisible() and "must start with http://" in dlg.error.text()
    qtbot.keyClick(dlg, K.Key_Escape)
    qtbot.waitUntil(lambda: win.pacs.servers_dialog is None, timeout=5000)
    assert "http://backup:8080/dcm4chee-arc" in file_text(tmp_path)

    # Remove the first: it and its password are gone.
    dlg = open_servers(qtbot, win)
    pick(qtbot, dlg, "Hospital PACS")
    click(qtbot, dlg.remove_button)
    assert dlg.list.count() == 1 and dlg.name_edit.text() == "Backup"
    ok(qtbot, dlg)
    qtbot.waitUntil(lambda: win.pacs.servers_dialog is None, timeout=5000)
    assert [s.name for s in PacsSettings.of(win.services).servers()] == ["Backup"]
    assert "Hospital PACS" not in file_text(tmp_path)
    assert win.services.session_secrets == {"pacs/Backup": TOKEN}
    win.close()


def test_two_servers_of_one_name_are_refused(qtbot, tmp_path: Path, no_keyring: None) -> None:
    win = window(qtbot, tmp_path)
    dlg = open_servers(qtbot, win)
    for _ in range(2):
        click(qtbot, dlg.add_button)
        qtbot.keyClicks(dlg.name_edit, "Main")
        retype(qtbot, dlg.url_edit, "http://main/dicom-web")
    ok(qtbot, dlg)
    assert dlg.isVisible() and "Two servers are called Main" in dlg.error.text()
    assert PacsSettings.of(win.services).servers() == []
    win.close()


def test_a_dimse_server_keeps_host_port_and_ae_titles(
    qtbot, tmp_path: Path, no_keyring: None
) -> None:
    win = window(qtbot, tmp_path)
    dlg = open_servers(qtbot, win)
    click(qtbot, dlg.add_button)
    qtbot.keyClicks(dlg.name_edit, "Old PACS")
    assert dlg.url_edit.isEnabled() and not dlg.host_edit.isEnabled()
    dlg.protocol_combo.setFocus()
    qtbot.keyClick(dlg.protocol_combo, K.Key_Down)  # DIMSE
    assert dlg.protocol_combo.currentData() == "dimse"
    assert not dlg.url_edit.isEnabled() and not dlg.auth_combo.isEnabled()
    assert not dlg.secret_edit.isEnabled()
    assert all(w.isEnabled() for w in (dlg.host_edit, dlg.port_edit, dlg.called_edit))
    retype(qtbot, dlg.host_edit, "pacs.hospital.local")
    retype(qtbot, dlg.port_edit, "11112")
    retype(qtbot, dlg.called_edit, "A-VERY-LONG-AE-TITLE")  # 20 characters: too long
    ok(qtbot, dlg)
    assert dlg.isVisible() and "the PACS's AE title must be 1 to 16" in dlg.error.text()
    retype(qtbot, dlg.called_edit, "ARCHIVE")
    retype(qtbot, dlg.port_edit, "99999")
    ok(qtbot, dlg)
    assert dlg.isVisible() and "port must be a number from 1 to 65535" in dlg.error.text()
    retype(qtbot, dlg.port_edit, "11112")
    retype(qtbot, dlg.calling_edit, "READING1")
    ok(qtbot, dlg)
    qtbot.waitUntil(lambda: win.pacs.servers_dialog is None, timeout=5000)

    text = file_text(tmp_path)
    assert "dimse" in text and "pacs.hospital.local" in text and "READING1" in text
    pacs = PacsSettings.of(win.services)
    (entry,) = pacs.servers()
    assert pacs.missing_secret(entry) == ""
    assert pacs.server(entry) == DimseServer(
        name="Old PACS",
        host="pacs.hospital.local",
        port=11112,
        called_aet="ARCHIVE",
        calling_aet="READING1",
    )

    dlg = open_servers(qtbot, win)  # shown again as saved
    assert dlg.protocol_combo.currentData() == "dimse" and dlg.host_edit.isEnabled()
    assert (dlg.host_edit.text(), dlg.port_edit.text()) == ("pacs.hospital.local", "11112")
    assert (dlg.called_edit.text(), dlg.calling_edit.text()) == ("ARCHIVE", "READING1")
    qtbot.keyClick(dlg, K.Key_Escape)
    qtbot.waitUntil(lambda: win.pacs.servers_dialog is None, timeout=5000)
    win.close()


class RecordingKeyring(types.ModuleType):
    """An in-memory stand-in for the OS keyring behind the ``keyring`` package's API."""

    def __init__(self) -> None:
        super().__init__("keyring")
        self.saved: dict[tuple[str, str], str] = {}

    def get_keyring(self) -> object:
        return types.SimpleNamespace(priority=5)

    def get_password(self, service: str, user: str) -> str | None:
        return self.saved.get((service, user))

    def set_password(self, service: str, user: str, password: str) -> None:
        self.saved[(service, user)] = password

    def delete_password(self, service: str, user: str) -> None:
        del self.saved[(service, user)]


def test_a_usable_keyring_keeps_the_secret(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = RecordingKeyring()
    monkeypatch.setitem(sys.modules, "keyring", keyring)
    win = window(qtbot, tmp_path)
    dlg = open_servers(qtbot, win)
    assert "system keyring" in dlg.note.text() and "only until" not in dlg.note.text()
    click(qtbot, dlg.add_button)
    qtbot.keyClicks(dlg.name_edit, "Main")
    retype(qtbot, dlg.url_edit, "http://main/dicom-web")
    dlg.auth_combo.setFocus()
    qtbot.keyClick(dlg.auth_combo, K.Key_Down)
    retype(qtbot, dlg.user_edit, "dr.lee")
    retype(qtbot, dlg.secret_edit, SECRET)
    ok(qtbot, dlg)
    qtbot.waitUntil(lambda: win.pacs.servers_dialog is None, timeout=5000)
    assert keyring.saved == {(KEYRING_SERVICE, "Main"): SECRET}
    assert win.services.session_secrets == {} and SECRET not in file_text(tmp_path)

    dlg = open_servers(qtbot, win)  # read back from the keyring
    assert dlg.secret_edit.text() == SECRET
    click(qtbot, dlg.remove_button)
    ok(qtbot, dlg)
    qtbot.waitUntil(lambda: win.pacs.servers_dialog is None, timeout=5000)
    assert keyring.saved == {}
    win.close()
