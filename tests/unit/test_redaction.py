"""No personal data in the logs: the redaction rules, and the processor in a real pipeline."""

import io
import json
import logging
from typing import Any

import pytest
import structlog

from services.runtime.privacy import REDACTED, redact, redact_personal_data, redact_text

ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"party {ID_NUMBER} detained", f"party {REDACTED} detained"),
        (f"id={ID_NUMBER.lower()}", f"id={REDACTED}"),
        (f"call {PHONE} now", f"call {REDACTED} now"),
        ("call +86 138-1234-5678", f"call {REDACTED}"),
        ("call 8613812345678", f"call {REDACTED}"),
        # not personal data: left alone
        ("credit code 91350100M000100Y43", "credit code 91350100M000100Y43"),
        ("case 01M89DFM1X9N87HT4Z8XTX4ME1", "case 01M89DFM1X9N87HT4Z8XTX4ME1"),
        ("HS 6404110000, 1200 pairs", "HS 6404110000, 1200 pairs"),
        ("declared 360000.00 CNY", "declared 360000.00 CNY"),
        ("12812345678 is no mobile", "12812345678 is no mobile"),
        ("at 2026-03-01T08:30:00Z", "at 2026-03-01T08:30:00Z"),
        # erring towards too much: any long number, a number glued to letters
        ("ref 110105194913310021", f"ref {REDACTED}"),  # month 13: still removed
        (f"A{PHONE}", f"A{REDACTED}"),
        # the kinds of issue 14: old IDs, landlines, e-mail, passports, addresses, seeds
        ("old id 110105490101002", f"old id {REDACTED}"),
        ("tel (010) 8888-6666 ext 12", f"tel {REDACTED}"),
        ("tel +86 21 6123 4567", f"tel {REDACTED}"),
        ("mail wang.fang@example.com.cn", f"mail {REDACTED}"),
        ("护照号码：E12345678", f"护照号码：{REDACTED}"),
        ("passport no. 533380006", f"passport no. {REDACTED}"),
        ("住在上海市浦东新区世纪大道88号2单元301室", REDACTED),  # takes the text before
        ("lives at 88 Century Avenue, Room 301", f"lives at {REDACTED}"),
        ("嫌疑人王芳在场", f"嫌疑人{REDACTED}"),  # up to four characters
        ("seed SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY", f"seed {REDACTED}"),
    ],
)
def test_patterns_in_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"kind": "natural_person", "role": "suspect", "name": "张三"},
            {"kind": "natural_person", "role": "suspect", "name": REDACTED},
        ),
        (
            {"kind": "legal_person", "role": "consignee", "name": "Haixin Trading Co., Ltd."},
            {"kind": "legal_person", "role": "consignee", "name": "Haixin Trading Co., Ltd."},
        ),
        (  # a party without a kind is treated as a person unless it has a credit code
            {"role": "consignor", "name": "李四"},
            {"role": "consignor", "name": REDACTED},
        ),
        (
            {"role": "consignor", "name": "Acme Ltd", "credit_code": "91350100M000100Y43"},
            {"role": "consignor", "name": "Acme Ltd", "credit_code": "91350100M000100Y43"},
        ),
        (  # an agency or a port is not a party: its name stays
            {"id": "amr-shanghai", "name": "Shanghai AMR"},
            {"id": "amr-shanghai", "name": "Shanghai AMR"},
        ),
        (
            {"resident_id": "whatever", "phone": "x", "address": "1 Road", "contact_name": "王五"},
            {
                "resident_id": REDACTED,
                "phone": REDACTED,
                "address": REDACTED,
                "contact_name": REDACTED,
            },
        ),
        (
            {"parties": [{"kind": "natural_person", "role": "suspect", "name": "赵六"}]},
            {"parties": [{"kind": "natural_person", "role": "suspect", "name": REDACTED}]},
        ),
        (("a", PHONE), ["a", REDACTED]),
        (42, 42),
    ],
)
def test_structures(value: Any, expected: Any) -> None:
    assert redact(value) == expected


def test_pydantic_models_are_redacted_as_their_json() -> None:
    from contracts.cases import Party, PartyKind, PartyRole

    party = Party(
        kind=PartyKind.NATURAL_PERSON, role=PartyRole.SUSPECT, name="张三", resident_id=ID_NUMBER
    )
    out = redact({"party": party})
    assert out["party"]["name"] == REDACTED
    assert out["party"]["resident_id"] == REDACTED


def test_the_processor_keeps_personal_data_out_of_rendered_lines() -> None:
    stream = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[
            structlog.processors.format_exc_info,
            redact_personal_data,
            structlog.processors.JSONRenderer(),
        ],
    )
    try:
        raise ValueError(f"bad party {ID_NUMBER}")
    except ValueError:
        logger.exception(
            f"calling {PHONE}",
            phone=PHONE,
            party={"kind": "natural_person", "role": "suspect", "name": "张三"},
            case_id="01M89DFM1X9N87HT4Z8XTX4ME1",
        )
    line = stream.getvalue()
    for secret in (ID_NUMBER, PHONE, "张三"):
        assert secret not in line
    record = json.loads(line)
    assert record["case_id"] == "01M89DFM1X9N87HT4Z8XTX4ME1"
    assert record["event"] == f"calling {REDACTED}"


def test_configure_logging_installs_the_processor(tmp_path: Any) -> None:
    from services.runtime.ops import configure_logging, get_logger

    log_file = tmp_path / "out.log"
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(fmt="json", file=log_file)
    try:
        get_logger("test", "customs-shanghai").info("seen", resident_id=ID_NUMBER, note=PHONE)
    finally:
        structlog.reset_defaults()
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    text = log_file.read_text()
    assert ID_NUMBER not in text
    assert PHONE not in text
    assert '"agency": "customs-shanghai"' in text
