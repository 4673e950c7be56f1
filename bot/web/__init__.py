"""The website pieces: the embeddable chat widget, its demo page and the feedback endpoint.

``bot/web/static/`` holds the widget (plain JavaScript and CSS, no build step);
``bot.web.server`` serves it with a demo clinic page and ``POST /feedback``;
``bot.web.feedback`` validates and stores the thumbs up/down people give to answers.
The origins allowed to call it are ``bot.settings.origins``.
"""
