"""DESIGN §6, issue 14 part 4: generated personal data of every kind, in every payload type
and every query reply that can go abroad, does not survive minimisation.

The generators write personal data the way people do (separators, prefixes, old and new ID
numbers with right or wrong check digits, landlines with area codes, e-mail, passports,
addresses, names of parties, of holders and introduced in text); the checks look for it
with their own normalisation, not with the minimiser's patterns.
"""

import copy
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains
from pydantic import ValidationError

from contracts.envelope import new_envelope
from contracts.events import EVENT_MODELS
from contracts.queries import CaseParty, CaseReply, CaseView, TimelineEntry
from contracts.warning_queries import DeliveryView, WarningsReply, WarningView
from services.runtime.privacy import minimise_data, minimise_envelope, minimise_reply
from tests.unit.contracts.test_payloads import VALID

KEY = b"k" * 32
WHEN = datetime(2026, 3, 1, tzinfo=UTC)
CASE = "01JABCDEFGHJKMNPQRSTVWXYZ2"  # no digit run a generated needle could match


@dataclass(frozen=True)
class Secret:
    """Personal data as written (``text``) and what must not be found afterwards."""

    kind: str
    text: str
    needles: tuple[str, ...]
    digits: bool = False
    """Look for the needles in each string with separators removed."""


# -- generators ---------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗欧阳"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰"
PINYIN_SURNAMES = ["Zhang", "Wang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Zhou", "Xu"]
PINYIN_GIVEN = ["Wei", "Fang", "Min", "Jing", "Qiang", "Jun", "Yong", "Jie", "Tao", "Ming"]
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _sep(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", "", " ", "-"]))


@st.composite
def chinese_names(draw: st.DrawFn) -> str:
    surname = draw(st.sampled_from(["王", "李", "张", "刘", "陈", "欧阳", "司马"]))
    given = draw(st.text(GIVEN, min_size=1, max_size=2))
    return surname + given


@st.composite
def pinyin_names(draw: st.DrawFn) -> str:
    return f"{draw(st.sampled_from(PINYIN_SURNAMES))} {draw(st.sampled_from(PINYIN_GIVEN))}"


person_names = chinese_names() | pinyin_names()


@st.composite
def birth_dates(draw: st.DrawFn, century: bool = True) -> str:
    year = draw(st.integers(1900 if century else 1930, 2025))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    return f"{year if century else year % 100:0{4 if century else 2}d}{month:02d}{day:02d}"


@st.composite
def new_resident_ids(draw: st.DrawFn) -> Secret:
    area = draw(st.integers(110000, 659999))
    body = f"{area}{draw(birth_dates())}{draw(st.integers(0, 999)):03d}"
    right = "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]
    check = draw(st.sampled_from([right, right.lower(), *"0123456789X"]))  # right or wrong
    sep = draw(st.sampled_from(["", "", " "]))
    text = f"{body[:6]}{sep}{body[6:14]}{sep}{body[14:]}{check}"
    return Secret("id", text, (body + check.upper(), body + check.lower()), digits=True)


@st.composite
def old_resident_ids(draw: st.DrawFn) -> Secret:
    area = draw(st.integers(110000, 659999))
    body = f"{area}{draw(birth_dates(century=False))}{draw(st.integers(0, 999)):03d}"
    return Secret("id", body, (body,), digits=True)


@st.composite
def mobiles(draw: st.DrawFn) -> Secret:
    digits = (
        "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    )
    a, b = _sep(draw), _sep(draw)
    prefix = draw(st.sampled_from(["", "+86 ", "+86", "86", "0086 ", "(+86) ", "+86-"]))
    return Secret("phone", f"{prefix}{digits[:3]}{a}{digits[3:7]}{b}{digits[7:]}", (digits,), True)


AREAS = ["10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "311", "371", "512", "571"]
AREAS += ["591", "755", "757", "769", "898", "431"]


@st.composite
def landlines(draw: st.DrawFn) -> Secret:
    area = draw(st.sampled_from(AREAS))
    length = 8 if len(area) == 2 else draw(st.sampled_from([7, 8]))
    number = draw(st.sampled_from("2345678")) + draw(
        st.text("0123456789", min_size=length - 1, max_size=length - 1)
    )
    split = number[:4] + _sep(draw) + number[4:]
    form = draw(st.integers(0, 5))
    text = [
        f"0{area}-{split}",
        f"(0{area}) {split}",
        f"+86 {area} {split}",
        f"+86-{area}-{split}",
        f"0086 {area} {split}",
        f"0{area}{number}",
    ][form]
    text += draw(st.sampled_from(["", "", " ext 12", "转801", "-3"]))
    return Secret("phone", text, (area + number,), digits=True)


@st.composite
def emails(draw: st.DrawFn) -> Secret:
    local = draw(
        st.text("abcdefghijklmnopqrstuvwxyz0123456789._%+-", min_size=1, max_size=16).filter(
            lambda s: s[0].isalnum()
        )
    )
    domain = draw(domains(max_length=40))
    address = f"{local}@{domain}"
    return Secret("email", address, (address, f"{local}@"))


@st.composite
def passports(draw: st.DrawFn) -> Secret:
    digits8 = draw(st.text("0123456789", min_size=8, max_size=8))
    form = draw(st.integers(0, 4))
    if form == 0:
        number = "E" + digits8
    elif form == 1:
        number = "E" + draw(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ")) + digits8[:7]
    elif form == 2:
        number = "G" + digits8
    else:  # a foreign passport: found because it is introduced
        number = draw(st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=6, max_size=9))
        intro = draw(st.sampled_from(["passport no. ", "Passport: ", "护照号码：", "护照 "]))
        return Secret("passport", intro + number, (number,))
    return Secret("passport", number, (number,))


@st.composite
def addresses(draw: st.DrawFn) -> Secret:
    number = draw(st.integers(1, 999))
    if draw(st.booleans()):
        place = draw(
            st.sampled_from(["", "浙江省杭州市西湖区", "广东省深圳市南山区", "上海市浦东新区"])
        )
        road = draw(
            st.sampled_from(["文三路", "深南大道", "世纪大道", "建国路", "南京东路", "人民街"])
        )
        unit = draw(st.sampled_from(["", "2幢301室", "3单元502室", "1号楼1201室"]))
        street = f"{road}{number}号"
        return Secret("address", f"{place}{street}{unit}", (street,))
    name = draw(st.sampled_from(["Century", "Jianguo", "Nanjing East", "Maple", "Huaihai Middle"]))
    suffix = draw(st.sampled_from(["Road", "Street", "Avenue", "Lu", "Rd."]))
    unit = draw(st.sampled_from(["", ", Room 301", ", Apt 5B"]))
    street = f"{number} {name} {suffix}"
    return Secret("address", street + unit, (street,))


@st.composite
def introduced_names(draw: st.DrawFn) -> Secret:
    if draw(st.booleans()):
        name = draw(chinese_names())
        form = draw(st.sampled_from(["嫌疑人{}", "联系人：{}", "当事人 {}", "{}先生", "{}女士"]))
    else:
        name = draw(pinyin_names())
        form = draw(st.sampled_from(["Mr. {}", "Ms {}", "contact: {}", "suspect: {}"]))
    return Secret("person", form.format(name), (name,))


pieces_of_personal_data = st.one_of(
    new_resident_ids(),
    old_resident_ids(),
    mobiles(),
    landlines(),
    emails(),
    passports(),
    addresses(),
    introduced_names(),
)

FILLER = st.text("abcdefghijklmnopqrstuvwxyz .,的是货物商品运输查扣鞋包案件", max_size=20)
"""No digits and no capitals: filler never spells a needle by chance."""
SEPARATORS = st.sampled_from([" ", "，", "; ", "\n", " (", ") ", "：", "、"])


@st.composite
def texts_with(draw: st.DrawFn, secrets: list[Secret]) -> str:
    parts = [draw(FILLER)]
    for secret in secrets:
        parts += [draw(SEPARATORS), secret.text, draw(SEPARATORS), draw(FILLER)]
    return "".join(parts)


# -- where text can go: every string leaf of each payload that takes long free text ------


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _leaves(v, (*path, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _leaves(v, (*path, i))]
    return [path] if isinstance(data, str) else []


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


PROBE = "联系人王芳，电话 13812345678，wang.fang@example.com，上海市浦东新区世纪大道88号 " * 3
SHORT_PROBE = "王芳 13812345678"
NO_FREE_TEXT = {"referral.overdue", "warning.escalated", "holder.lapsed"}
"""Payload types made of identifiers, dates and agency ids only: nothing personal fits."""


def _accepts(event_type: str, path: tuple[Any, ...], text: str) -> bool:
    data = copy.deepcopy(VALID[event_type])
    _set(data, path, text)
    try:
        EVENT_MODELS[event_type].model_validate(data)
    except ValidationError:
        return False
    return True


def _free_text_paths(event_type: str) -> list[tuple[tuple[Any, ...], bool]]:
    """The string fields of ``event_type``'s example that take text, and whether it is short."""
    return [
        (path, not _accepts(event_type, path, PROBE))
        for path in _leaves(VALID[event_type])
        if path[-1] not in ("holder", "rights_holder")  # names: spliced in as names below
        and _accepts(event_type, path, SHORT_PROBE)
    ]


FREE_TEXT = {event_type: _free_text_paths(event_type) for event_type in sorted(EVENT_MODELS)}


def test_every_payload_type_but_a_few_has_somewhere_to_put_text() -> None:
    assert {t for t, paths in FREE_TEXT.items() if not paths} == NO_FREE_TEXT


def _holder_paths(data: Any) -> list[tuple[Any, ...]]:
    return [p for p in _leaves(data) if p[-1] in ("holder", "rights_holder")]


@st.composite
def payloads_abroad(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[Secret]]:
    """An example payload of any type, personal data spliced in wherever it fits."""
    event_type = draw(st.sampled_from(sorted(set(EVENT_MODELS) - NO_FREE_TEXT)))
    data = copy.deepcopy(VALID[event_type])
    secrets: list[Secret] = []
    known_names: list[str] = []
    for path in _holder_paths(data):  # holders that are natural persons
        if draw(st.booleans()):
            name = draw(person_names)
            _set(data, path, name)
            known_names.append(name)
    if "parties" in data:
        for _ in range(draw(st.integers(1, 3))):
            name = draw(person_names)
            known_names.append(name)
            person: dict[str, Any] = {"kind": "natural_person", "role": "suspect", "name": name}
            if draw(st.booleans()):
                person["resident_id"] = "11010519491231002X"
                secrets.append(Secret("id", "", ("11010519491231002X",), digits=True))
            if draw(st.booleans()):
                phone = draw(mobiles())
                person["phone"] = phone.text.replace("(+86) ", "+86 ")
                secrets.append(phone)
            if draw(st.booleans()):
                address = draw(addresses())
                person["address"] = address.text
                secrets.append(address)
            data["parties"].append(person)
    secrets += [Secret("person", "", (name,)) for name in known_names]
    paths = FREE_TEXT[event_type]
    chosen = draw(st.lists(st.sampled_from(paths), min_size=1, max_size=len(paths), unique=True))
    for path, short in chosen:
        if short:  # a bounded field (a local reference): one short piece, no filler
            piece = draw(
                mobiles() | old_resident_ids() | passports().filter(lambda p: len(p.text) < 12)
            )
            _set(data, path, piece.text)
            secrets.append(piece)
            continue
        here = draw(st.lists(pieces_of_personal_data, min_size=1, max_size=3))
        if draw(st.booleans()) and known_names:  # a known person's name, not introduced
            name = draw(st.sampled_from(known_names))
            here.append(Secret("person", name, (name,)))
        _set(data, path, draw(texts_with(here)))
        secrets += here
    return event_type, data, secrets


def _strings(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (k, *_strings(v))]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return [data] if isinstance(data, str) else []


def _survivors(minimised: Any, secrets: list[Secret]) -> list[tuple[str, str]]:
    strings = _strings(minimised)
    squeezed = [re.sub(r"[\s\-()（）+]", "", s) for s in strings]
    found = []
    for secret in secrets:
        for needle in secret.needles:
            haystack = squeezed if secret.digits else strings
            if any(needle in s for s in haystack):
                found.append((secret.kind, needle))
    return found


# -- properties ---------------------------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(payloads_abroad())
def test_no_personal_data_of_any_kind_survives_in_any_payload_sent_abroad(
    case: tuple[str, dict[str, Any], list[Secret]],
) -> None:
    event_type, data, secrets = case
    payload = EVENT_MODELS[event_type].model_validate(data)
    envelope = new_envelope(sender="amr-shanghai", payload=payload, now=WHEN, case_id=CASE)
    minimised, actions = minimise_envelope(envelope, KEY)  # still a valid payload
    assert _survivors(minimised.data, secrets) == [], json.dumps(minimised.data, ensure_ascii=False)
    assert actions, "personal data was spliced in, so something must have been changed"
    assert all(a.kinds for a in actions)


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces_of_personal_data, min_size=1, max_size=4), st.data())
def test_no_personal_data_survives_in_a_case_reply_to_an_overseas_requester(
    secrets: list[Secret], data: st.DataObject
) -> None:
    entry = TimelineEntry(
        seq=1,
        event_id=CASE,
        event_type="case.opened",
        sender="amr-shanghai",
        recipient="overseas-center",
        time=WHEN,
        summary=data.draw(texts_with(secrets)),
        status_after="open",
    )
    reply = CaseReply(
        case=CaseView(
            case_id=CASE,
            title=data.draw(texts_with(secrets)),
            status="open",
            parties=[CaseParty(agency_id="overseas-center", local_ref=None)],
            referrals=[],
            timeline=[entry],
        )
    )
    minimised, actions = minimise_reply(reply, KEY)
    assert isinstance(minimised, CaseReply)
    assert _survivors(minimised.model_dump(mode="json"), secrets) == []
    assert minimised.case is not None
    assert minimised.case.case_id == CASE
    assert {a.path for a in actions} >= {"case.title", "case.timeline[0].summary"}


@settings(max_examples=100, deadline=None)
@given(st.lists(pieces_of_personal_data, min_size=1, max_size=3), st.data())
def test_no_personal_data_survives_in_a_warnings_reply(
    secrets: list[Secret], data: st.DataObject
) -> None:
    view = WarningView(
        warning_id=CASE,
        issuer="customs-shanghai",
        category="counterfeit_route",
        severity="high",
        title=data.draw(texts_with(secrets)),
        issued_at=WHEN,
        expires_at=WHEN,
        state="active",
        deliveries=[
            DeliveryView(
                agency_id="overseas-center",
                reasons=[data.draw(texts_with(secrets))],
                deliveries=1,
                first_delivered_at=WHEN,
            )
        ],
    )
    minimised, _ = minimise_reply(WarningsReply(warnings=[view]), KEY)
    assert _survivors(minimised.model_dump(mode="json"), secrets) == []


@pytest.mark.parametrize(
    ("holder", "kept"),
    [
        ("Acme Co.", True),
        ("某某贸易有限公司", True),
        ("Nike, Inc.", True),
        ("Wang Fang", False),
        ("王芳", False),
    ],
)
def test_a_holder_is_kept_only_when_known_to_be_an_organisation(holder: str, kept: bool) -> None:
    data = {"ip_right": {"type": "trademark", "registration_no": "1", "holder": holder}}
    minimised, _ = minimise_data(data, KEY)
    assert (minimised["ip_right"]["holder"] == holder) is kept


def test_a_holder_named_as_a_legal_person_party_is_kept() -> None:
    data = {
        "parties": [
            {"kind": "legal_person", "name": "Haixin", "credit_code": "91350100M000100Y43"}
        ],
        "ip_rights": [{"holder": "Haixin"}],
    }
    assert minimise_data(data, KEY)[0] == data


def test_identifiers_digests_and_hs_codes_are_left_alone() -> None:
    data = {
        "case_id": "01J0000000000000000000000C",
        "sha256": "ab34567890123456789012345678901234567890123456789012345678901234",
        "hs_code": "0101210000",
        "credit_code": "91350100M000100Y43",
    }
    assert minimise_data(data, KEY) == (data, [])
