"""What every service runs on: settings, logs, metrics, clock, storage, HTTP health, lifecycle."""
