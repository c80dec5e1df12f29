"""Dialogs of the application: screw inventory, project creation and opening."""
