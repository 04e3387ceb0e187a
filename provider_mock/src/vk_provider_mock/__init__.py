"""An in-memory, scriptable provider for demos and tests."""
