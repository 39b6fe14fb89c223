"""One module per trainer tab. Each exposes ``build(ctx)`` and wires only its own events."""
