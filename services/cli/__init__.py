"""The ``ipbus`` command line: the only place that wires all services together."""
