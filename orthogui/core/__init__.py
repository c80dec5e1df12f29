"""Pure domain model: geometry, categories, annotations, commands, history. No Qt, no torch."""
