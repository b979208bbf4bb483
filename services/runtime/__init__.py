"""The machinery every ipbus service shares; it knows no service.

Seven packages, each with its public API in its ``__init__`` (import from there):
:mod:`~services.runtime.bus` (streams, consumers, inbox, outbox, dead letters),
:mod:`~services.runtime.identity` (keys, signatures, registry, operator, settings),
:mod:`~services.runtime.server` (the nats-server and its configuration),
:mod:`~services.runtime.storage` (databases, roles, migrations),
:mod:`~services.runtime.ops` (metrics, logs, traces, background loops),
:mod:`~services.runtime.privacy` (minimisation, redaction) and
:mod:`~services.runtime.law` (dated legal rules, calendars, who may say what).
The agency SDK (:mod:`services.sdk`) and the HTTP gateway (:mod:`services.gateway`) stand on it.
"""
