"""Entry point for ``python -m bot.web`` (the demo page and feedback server)."""

from bot.web.server import main

raise SystemExit(main())
