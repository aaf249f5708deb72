"""The pure text core: the splitter and the model families' marker formats (no I/O, no JSON)."""
