"""Need-to-know (DESIGN §6): minimisation of what leaves the country, personal data in free text,
log redaction, the pseudonym key.

The public API of this package: import from here, not from its modules (an import-linter
contract in pyproject.toml holds everyone to it). Names load on first use (PEP 562), so a
module of the runtime that imports a sibling module never waits for this whole package.
"""

from typing import TYPE_CHECKING

from services.runtime.exports import lazy_exports

if TYPE_CHECKING:
    from services.runtime.privacy.minimisation import (
        MINIMISED_EXTENSION,
        Pseudonymiser,
        minimise_data,
        minimise_envelope,
        minimise_reply,
        minimised_kinds,
    )
    from services.runtime.privacy.minimisation_log import MinimisationRecord, record_minimisations
    from services.runtime.privacy.pseudonym_key import PSEUDONYM_KEY_FILE, load_pseudonym_key
    from services.runtime.privacy.redaction import (
        REDACTED,
        redact,
        redact_personal_data,
        redact_text,
    )

__all__ = [
    "MINIMISED_EXTENSION",
    "PSEUDONYM_KEY_FILE",
    "REDACTED",
    "MinimisationRecord",
    "Pseudonymiser",
    "load_pseudonym_key",
    "minimise_data",
    "minimise_envelope",
    "minimise_reply",
    "minimised_kinds",
    "record_minimisations",
    "redact",
    "redact_personal_data",
    "redact_text",
]
_EXPORTS = {
    "MINIMISED_EXTENSION": "services.runtime.privacy.minimisation",
    "MinimisationRecord": "services.runtime.privacy.minimisation_log",
    "PSEUDONYM_KEY_FILE": "services.runtime.privacy.pseudonym_key",
    "Pseudonymiser": "services.runtime.privacy.minimisation",
    "REDACTED": "services.runtime.privacy.redaction",
    "load_pseudonym_key": "services.runtime.privacy.pseudonym_key",
    "minimise_data": "services.runtime.privacy.minimisation",
    "minimise_envelope": "services.runtime.privacy.minimisation",
    "minimise_reply": "services.runtime.privacy.minimisation",
    "minimised_kinds": "services.runtime.privacy.minimisation",
    "record_minimisations": "services.runtime.privacy.minimisation_log",
    "redact": "services.runtime.privacy.redaction",
    "redact_personal_data": "services.runtime.privacy.redaction",
    "redact_text": "services.runtime.privacy.redaction",
}
"""Where each name of :data:`__all__` is defined (the imports above, for type checkers)."""


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
