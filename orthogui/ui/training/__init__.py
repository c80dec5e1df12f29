"""The training panel: start fine-tuning from the current snapshot, follow it, manage versions."""
