"""The compatibility suite: one module per OpenAI-compatible dialect (docs/live-mode.md)."""
