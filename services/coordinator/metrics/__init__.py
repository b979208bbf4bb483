"""The coordinator's metrics: readings of each event (pure), the watch lists behind the
gauges, and the recorder that updates both."""
