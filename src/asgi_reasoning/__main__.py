"""`python -m asgi_reasoning`: the same as the `asgi-reasoning` command."""

from __future__ import annotations

from asgi_reasoning.cli import main

raise SystemExit(main())
