"""The single table of commands and shortcuts, and the menus and toolbar built from it.

``SHORTCUTS`` is the source of truth: the main window binds it, ``docs/user-guide.md`` lists
it (a test checks they agree). Keys the canvas handles itself are listed with ``bound=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from orthogui.core.categories import Category


@dataclass(frozen=True)
class ActionSpec:
    """One command: its menu, text, keys and what it does (for the guide)."""

    name: str
    menu: str
    text: str
    keys: tuple[str, ...] = ()
    help: str = ""
    bound: bool = True  # False: handled inside the canvas, listed for the guide only
    checkable: bool = False
    toolbar: bool = False


S = ActionSpec
SHORTCUTS: tuple[ActionSpec, ...] = (
    S("new_project", "File", "&New project…", ("Ctrl+N",), "Create a project file (.orthogui)"),
    S("open_project", "File", "&Open project…", ("Ctrl+O",), "Open a project file", toolbar=True),
    S("open_files", "File", "Open &files…", ("Ctrl+Shift+O",), "Add radiographs to the project"),
    S("open_folder", "File", "Open fol&der…", ("Ctrl+Alt+O",), "Add every radiograph of a folder"),
    S(
        "open_pacs",
        "File",
        "Open from &PACS…",
        (),
        "Search a PACS for studies and retrieve their images into the project",
    ),
    S(
        "pacs_servers",
        "File",
        "PACS ser&vers…",
        (),
        "Add, edit or remove the PACS servers (name, protocol, address, sign-in)",
    ),
    S("inventory", "File", "Screw &inventory…", ("Ctrl+I",), "Count screws by type and length"),
    S("export_inventory", "File", "&Export inventory CSV…", ("Ctrl+E",), "Write the inventory"),
    S(
        "export_dataset",
        "File",
        "Export &dataset (COCO)…",
        ("Ctrl+Shift+E",),
        "Write a de-identified COCO snapshot of the approved (or all reviewed) images",
    ),
    S(
        "import_annotations",
        "File",
        "Import &annotations…",
        ("Ctrl+Shift+I",),
        "Add the findings of a COCO file, LabelMe files or a YOLO folder (one undo step)",
    ),
    S("quit", "File", "&Quit", ("Ctrl+Q",), "Close the window (every edit is already saved)"),
    S("undo", "Edit", "&Undo", ("Ctrl+Z",), "Undo the last step", toolbar=True),
    S("redo", "Edit", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", toolbar=True),
    S("delete", "Edit", "&Delete finding", ("Delete",), "Delete the selected findings"),
    S(
        "escape",
        "Edit",
        "Cancel / clear selection",
        ("Esc",),
        "Cancel drawing or clear the selection",
        bound=False,
    ),
    S(
        "fit",
        "View",
        "&Fit image",
        ("Ctrl+0", "Home"),
        "Fit the whole image in the view (F is the fracture category)",
        toolbar=True,
    ),
    S("zoom_in", "View", "Zoom &in", ("Ctrl+=",), "Zoom in (also: mouse wheel at the cursor)"),
    S("zoom_out", "View", "Zoom &out", ("Ctrl+-",), "Zoom out"),
    S("next_window", "View", "Next &window preset", ("W",), "Cycle the window presets of the file"),
    S(
        "show_rejected",
        "View",
        "Show &rejected",
        ("Ctrl+H",),
        "Show rejected findings",
        checkable=True,
    ),
    S(
        "show_labels",
        "View",
        "Show &labels",
        ("L",),
        "Show the type and score label beside each finding on the canvas",
        checkable=True,
    ),
    S(
        "score_threshold",
        "View",
        "Score &threshold…",
        (),
        "Focus the minimum-score slider above the findings list: the model's proposals scored "
        "below it are hidden (arrow keys move it by 0.05)",
    ),
    S(
        "window_drag",
        "View",
        "Window/level",
        ("Right-drag",),
        "Drag right: width; down: centre",
        bound=False,
    ),
    S(
        "tool_select",
        "Tools",
        "&Select / edit",
        ("S",),
        "Select, move, edit vertices",
        checkable=True,
        toolbar=True,
    ),
    S(
        "tool_polygon",
        "Tools",
        "&Polygon",
        ("D",),
        "Draw a polygon (click vertices, double-click closes)",
        checkable=True,
        toolbar=True,
    ),
    S(
        "tool_axis",
        "Tools",
        "Screw by a&xis",
        ("X",),
        "Outline a screw from its axis: click its tip, then its head (or drag tip to head)",
        checkable=True,
        toolbar=True,
    ),
    S("tool_box", "Tools", "&Box", ("B",), "Draw a box", checkable=True, toolbar=True),
    S(
        "tool_ruler",
        "Tools",
        "&Ruler",
        ("M",),
        "Measure a distance in mm (saved with the image)",
        checkable=True,
        toolbar=True,
    ),
    S(
        "tool_angle",
        "Tools",
        "An&gle",
        ("G",),
        "Measure an angle: click an arm's end, the vertex, the other arm's end",
        checkable=True,
        toolbar=True,
    ),
    S(
        "accept",
        "Review",
        "&Accept",
        ("A",),
        "Accept the selected finding and go to the next proposed one",
        toolbar=True,
    ),
    S(
        "reject",
        "Review",
        "&Reject",
        ("R",),
        "Reject the selected finding and go to the next proposed one",
        toolbar=True,
    ),
    S(
        "accept_all",
        "Review",
        "Accept all &remaining",
        ("Shift+A",),
        "Accept every proposed finding of the image (one step)",
    ),
    S(
        "set_type",
        "Review",
        "Set screw type 1–5",
        ("1", "2", "3", "4", "5"),
        "Change the selected screw's type (no selection: choose the draw type)",
        bound=False,
    ),
    S(
        "approve",
        "Review",
        "A&pprove image and next",
        ("Return", "Enter", "Ctrl+Return"),
        "Approve the image and open the next one not approved (asks first when findings are "
        "still proposed)",
        toolbar=True,
    ),
    S(
        "next_finding",
        "Review",
        "&Next finding",
        ("N", "Tab"),
        "Select and centre the next finding",
    ),
    S(
        "prev_finding",
        "Review",
        "&Previous finding",
        ("P", "Shift+Tab"),
        "Select and centre the previous finding",
    ),
    S(
        "send_to_pacs",
        "Review",
        "&Send results to PACS…",
        (),
        "Send the reviewed findings of the approved image (or of the approved images selected "
        "in the queue) to a PACS as DICOM objects",
    ),
    S("next_image", "Review", "Next &image", ("PgDown",), "Open the next image of the queue"),
    S("prev_image", "Review", "Previous i&mage", ("PgUp",), "Open the previous image of the queue"),
    S(
        "predict_current",
        "Model",
        "Pre-annotate &current image",
        ("Ctrl+M",),
        "Run the model on this image",
        toolbar=True,
    ),
    S(
        "predict_selected",
        "Model",
        "Pre-annotate &selected images",
        ("Ctrl+Alt+M",),
        "Run the model on the images selected in the queue",
    ),
    S(
        "predict_queue",
        "Model",
        "Pre-annotate the whole &queue",
        ("Ctrl+Shift+M",),
        "Run the model on every new image",
    ),
    S(
        "predict_cancel",
        "Model",
        "Ca&ncel pre-annotation",
        ("Ctrl+.",),
        "Stop the running pre-annotation",
    ),
    S(
        "load_model_card",
        "Model",
        "&Load model card…",
        (),
        "Pre-annotate with the model of a card file (JSON) from anywhere on disk",
    ),
    S(
        "training",
        "Model",
        "&Training…",
        ("Ctrl+Shift+T",),
        "Show the training panel: fine-tune the model on the approved images",
        checkable=True,
    ),
    S(
        "evaluate_model",
        "Model",
        "&Evaluate model…",
        (),
        "Score a model on the approved images (AP, mask IoU, Dice, screw-type confusion)",
    ),
    S(
        "shortcuts",
        "Help",
        "&Keyboard shortcuts",
        ("F1",),
        "List every command and its keys, with a filter box (Esc closes the list)",
    ),
)
MENUS = ("File", "Edit", "View", "Tools", "Review", "Model", "Help")


def spec(name: str) -> ActionSpec:
    for s in SHORTCUTS:
        if s.name == name:
            return s
    raise KeyError(name)


def build_actions(
    window: QMainWindow, handlers: dict[str, Callable[[], object]]
) -> dict[str, QAction]:
    """Create the menus, toolbar and QActions; ``handlers[name]`` runs on trigger."""
    bar = window.menuBar()
    menus: dict[str, QMenu] = {m: bar.addMenu(f"&{m}") for m in MENUS}
    for m, menu in menus.items():
        menu.setObjectName(f"menu_{m}")
    toolbar = QToolBar("Main", window)
    toolbar.setObjectName("MainToolBar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    window.addToolBar(toolbar)
    actions: dict[str, QAction] = {}
    for s in SHORTCUTS:
        if not s.bound:
            continue
        act = QAction(s.text, window)
        act.setObjectName(f"action_{s.name}")
        act.setShortcuts([QKeySequence(k) for k in s.keys])
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setStatusTip(s.help)
        act.setToolTip(f"{s.help} ({', '.join(s.keys)})" if s.keys else s.help)
        act.setCheckable(s.checkable)
        handler = handlers.get(s.name)
        if handler is not None:
            act.triggered.connect(lambda _checked=False, h=handler: h())
        menus[s.menu].addAction(act)
        if s.toolbar:  # a fixed short label: buttons keep their places when texts change
            act.setIconText(s.text.replace("&", "").rstrip("…"))
            toolbar.addAction(act)
        actions[s.name] = act
        if s.name in ("open_folder", "pacs_servers", "export_inventory", "import_annotations"):
            menus[s.menu].addSeparator()
    menus["View"].addSeparator()
    presets = menus["View"].addMenu("Window &presets")
    presets.setObjectName("menu_window_presets")
    actions["_toolbar"] = toolbar.toggleViewAction()
    return actions


def add_category_actions(
    window: QMainWindow,
    categories: Iterable[Category],
    handler: Callable[[str], object],
    actions: dict[str, QAction],
) -> None:
    """Keys of the categories (1-5 screw types, F, V) under Review; Backtab for Shift+Tab."""
    type_menu = QMenu("Set &type / draw category", window)
    for cat in categories:
        if not cat.shortcut:
            continue
        act = QAction(cat.display_name, window)
        act.setObjectName(f"action_category_{cat.name}")
        act.setShortcut(QKeySequence(cat.shortcut))
        act.triggered.connect(lambda _c=False, n=cat.name: handler(n))
        type_menu.addAction(act)
        actions[f"category_{cat.name}"] = act
    review = window.findChild(QMenu, "menu_Review")
    assert review is not None
    review.addMenu(type_menu)
    # Shift+Tab arrives as Key_Backtab on most platforms: bind that too, once. (Binding a key
    # an action already has makes Qt drop it as an "ambiguous shortcut overload".)
    prev = actions["prev_finding"]
    if QKeySequence("Backtab") not in prev.shortcuts():
        prev.setShortcuts([*prev.shortcuts(), QKeySequence("Backtab")])
