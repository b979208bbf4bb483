"""The agency SDK: the service base every agency and the coordinator stand on, its wiring and
health, and the referral and warning desks an adapter uses.

The public API of this package: import from here, not from its modules (an import-linter
contract in pyproject.toml holds everyone to it). Names load on first use (PEP 562), so a
module of the runtime that imports a sibling module never waits for this whole package.
"""

from typing import TYPE_CHECKING

from services.runtime.exports import lazy_exports

if TYPE_CHECKING:
    from services.sdk.agency_adapter import AgencyAdapter, LocalCaseRecord
    from services.sdk.asyncapi import PRODUCTION_SERVERS, bus_asyncapi, unconnected_services
    from services.sdk.discovery import service_class_for
    from services.sdk.evidence_desk import (
        EvidenceCheck,
        EvidenceDesk,
        EvidenceTooLarge,
        check_evidence,
        fetch_evidence,
        put_evidence,
    )
    from services.sdk.http import HttpServer, build_http_app
    from services.sdk.overseas_replies import encode_reply
    from services.sdk.queries import ask_coordinator, query_case, query_referrals, query_warnings
    from services.sdk.referral_desk import ReferralDesk
    from services.sdk.referral_ledger import ReferralRecord
    from services.sdk.referral_linkage import (
        SUPERVISED_KINDS,
        check_reconsideration_window,
        referral_supervisor,
    )
    from services.sdk.rows import add_row, drop_row, find_row, load_rows
    from services.sdk.service import (
        DETAIL_MAX,
        STOP_TIMEOUT_S,
        AgencyService,
        Applier,
        ServiceContext,
        UnitOfWork,
        conflicting_duplicate,
        handles,
    )
    from services.sdk.warning_desk import RECIPIENT, WarningDesk, WarningRecord
    from services.sdk.wiring import (
        Bus,
        ServiceCatalogue,
        agency_connection,
        agency_database,
        bootstrap,
        broker_metrics,
        provision_streams,
        stream_layout,
    )

__all__ = [
    "DETAIL_MAX",
    "PRODUCTION_SERVERS",
    "RECIPIENT",
    "STOP_TIMEOUT_S",
    "SUPERVISED_KINDS",
    "AgencyAdapter",
    "AgencyService",
    "Applier",
    "Bus",
    "EvidenceCheck",
    "EvidenceDesk",
    "EvidenceTooLarge",
    "HttpServer",
    "LocalCaseRecord",
    "ReferralDesk",
    "ReferralRecord",
    "ServiceCatalogue",
    "ServiceContext",
    "UnitOfWork",
    "WarningDesk",
    "WarningRecord",
    "add_row",
    "agency_connection",
    "agency_database",
    "ask_coordinator",
    "bootstrap",
    "broker_metrics",
    "build_http_app",
    "bus_asyncapi",
    "check_evidence",
    "check_reconsideration_window",
    "conflicting_duplicate",
    "drop_row",
    "encode_reply",
    "fetch_evidence",
    "find_row",
    "handles",
    "load_rows",
    "provision_streams",
    "put_evidence",
    "query_case",
    "query_referrals",
    "query_warnings",
    "referral_supervisor",
    "service_class_for",
    "stream_layout",
    "unconnected_services",
]
_EXPORTS = {
    "AgencyAdapter": "services.sdk.agency_adapter",
    "AgencyService": "services.sdk.service",
    "Applier": "services.sdk.service",
    "Bus": "services.sdk.wiring",
    "DETAIL_MAX": "services.sdk.service",
    "EvidenceCheck": "services.sdk.evidence_desk",
    "EvidenceDesk": "services.sdk.evidence_desk",
    "EvidenceTooLarge": "services.sdk.evidence_desk",
    "HttpServer": "services.sdk.http",
    "LocalCaseRecord": "services.sdk.agency_adapter",
    "PRODUCTION_SERVERS": "services.sdk.asyncapi",
    "RECIPIENT": "services.sdk.warning_desk",
    "ReferralDesk": "services.sdk.referral_desk",
    "ReferralRecord": "services.sdk.referral_ledger",
    "STOP_TIMEOUT_S": "services.sdk.service",
    "SUPERVISED_KINDS": "services.sdk.referral_linkage",
    "ServiceCatalogue": "services.sdk.wiring",
    "ServiceContext": "services.sdk.service",
    "UnitOfWork": "services.sdk.service",
    "WarningDesk": "services.sdk.warning_desk",
    "WarningRecord": "services.sdk.warning_desk",
    "add_row": "services.sdk.rows",
    "agency_connection": "services.sdk.wiring",
    "ask_coordinator": "services.sdk.queries",
    "agency_database": "services.sdk.wiring",
    "bootstrap": "services.sdk.wiring",
    "broker_metrics": "services.sdk.wiring",
    "build_http_app": "services.sdk.http",
    "bus_asyncapi": "services.sdk.asyncapi",
    "check_evidence": "services.sdk.evidence_desk",
    "check_reconsideration_window": "services.sdk.referral_linkage",
    "conflicting_duplicate": "services.sdk.service",
    "drop_row": "services.sdk.rows",
    "encode_reply": "services.sdk.overseas_replies",
    "fetch_evidence": "services.sdk.evidence_desk",
    "find_row": "services.sdk.rows",
    "handles": "services.sdk.service",
    "load_rows": "services.sdk.rows",
    "provision_streams": "services.sdk.wiring",
    "put_evidence": "services.sdk.evidence_desk",
    "query_case": "services.sdk.queries",
    "query_referrals": "services.sdk.queries",
    "query_warnings": "services.sdk.queries",
    "referral_supervisor": "services.sdk.referral_linkage",
    "service_class_for": "services.sdk.discovery",
    "stream_layout": "services.sdk.wiring",
    "unconnected_services": "services.sdk.asyncapi",
}
"""Where each name of :data:`__all__` is defined (the imports above, for type checkers)."""


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
