"""Controllers of the main window: loading, review actions, pre-annotation, inventory."""
