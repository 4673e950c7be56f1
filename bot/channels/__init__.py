"""Input channels: the website's REST channel and the messaging channels."""
