"""Fine-tuning worker process, its launcher and its JSON-lines protocol."""
