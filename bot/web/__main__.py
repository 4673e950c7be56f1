"""Entry point for ``python -m bot.web`` (the demo page and feedback server)."""

from bot.quiet import quiet

quiet()

from bot.web.server import main  # noqa: E402 (after the warning filters)

raise SystemExit(main())
