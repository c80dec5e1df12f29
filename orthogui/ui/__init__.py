"""PySide6 user interface. Qt lives here only (and in app.py)."""
