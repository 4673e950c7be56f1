"""Running the servers: endpoints from the environment, start/stop, readiness."""
