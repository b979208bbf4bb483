"""Where personal data hides in free text: one set of patterns for minimisation and logs.

Used by :mod:`services.runtime.privacy.minimisation` (data sent abroad, DESIGN §6: replaced by
keyed pseudonyms) and :mod:`services.runtime.privacy.redaction` (log lines: replaced by a marker).
They err towards finding too much: a long number that is not an ID number, or a company's
landline, is removed as well, because what leaves the country cannot be called back.

Found by pattern: resident ID numbers (18-digit whether or not the check digit is right,
15-digit of the first generation, any run of 15 or more digits), mainland mobile numbers
and landlines with an area code (with or without ``+86``/``0086``, spaces, hyphens,
brackets), e-mail addresses, passport and travel-permit numbers (PRC formats, and any
number written after "passport"/"护照"), street addresses (Chinese road-number-unit, English
number-street-suffix, and anything after "地址"/"address:"), and names introduced by a role
("嫌疑人", "联系人", "Mr.", "contact:") or followed by 先生/女士. Names that are not
introduced cannot be found by pattern: the minimiser also replaces the names it knows from
the payload's natural persons.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

__all__ = ["FINDERS", "LEGAL_ENTITY", "Finder", "introduced_names", "replace_personal_data"]

_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])"
_FIRST_DIGIT = r"(?<![0-9]{2})"  # after a first digit: it had none before (the regex
# engine skips fast to a pattern's first character class, not to a look-behind)
_SEP = r"[ \-]?"
_CJK = r"\u4e00-\u9fff"
_CN_DIGITS = "0-9０-９一二三四五六七八九十百零〇"
_CC = r"(?:(?:\+|00)86|\(\+?86\)|（\+?86）)"  # country code as written
_MAX_PASSES = 8
_HONORIFIC = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Madam|Sir)"
_NOT_A_NAME = rf"(?:{_HONORIFIC}|Passport|Address|Tel|Phone|Mobile|Email|E-mail|ID|No|Room)"
_WORD = rf"(?!{_NOT_A_NAME}\b)[A-Z][A-Za-z'\-]+"  # a capitalised word that names
_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"


@dataclass(frozen=True, slots=True)
class Finder:
    """One kind of personal data and how to find it; group ``pd``, if any, is the data."""

    kind: str
    pattern: re.Pattern[str]
    needs: tuple[str, ...] = ()
    """Substrings one of which every match holds: a cheap test before the regex (log lines)."""

    def may_match(self, text: str) -> bool:
        return not self.needs or any(needle in text for needle in self.needs)


def _finder(kind: str, pattern: str, flags: int = 0, needs: tuple[str, ...] = ()) -> Finder:
    return Finder(kind, re.compile(pattern, flags), needs)


FINDERS: tuple[Finder, ...] = (
    # -- introduced by a keyword: the value after it, whatever its shape -------------------
    _finder(
        "address",
        r"(?:地址|住址|住所|家庭住址|通讯地址|\b(?:home |postal |mailing )?address)"
        r"\s*[:：]\s*(?P<pd>[^\[;；。\n][^;；。\n]*)",
        re.IGNORECASE,
        needs=("地址", "住址", "住所", "ddress", "DDRESS"),
    ),
    _finder(
        "passport",
        r"(?:护照|通行证|\bpassport)(?:\s*(?:号码?|no\.?|number|#))?\s*[:：#]?\s*"
        r"(?P<pd>[A-Za-z0-9]{5,12})(?![A-Za-z0-9])",
        re.IGNORECASE,
        needs=("护照", "通行证", "assport", "ASSPORT"),
    ),
    _finder(
        "person",
        r"(?:犯罪嫌疑人|嫌疑人|当事人|权利人|联系人|法定代表人|负责人|经营者|姓名|申请人|"
        r"被申请人|被告人|被告|原告|证人|收货人|发货人|投诉人|举报人)\s*[:：]?\s*"
        rf"(?P<pd>[{_CJK}·]{{2,4}})",
        needs=(
            "嫌疑人",
            "当事人",
            "权利人",
            "联系人",
            "代表人",
            "负责人",
            "经营者",
            "姓名",
            "申请人",
            "被告",
            "原告",
            "证人",
            "收货人",
            "发货人",
            "投诉人",
            "举报人",
        ),
    ),
    _finder(
        "person",
        rf"(?P<pd>[{_CJK}]{{1,3}})(?:先生|女士|小姐|同志)",
        needs=("先生", "女士", "小姐", "同志"),
    ),
    _finder(
        "person",
        rf"(?:\b{_HONORIFIC}\.?\s+|"
        r"\b(?:name|suspect|contact|holder|complainant|owner|consignee|consignor)\s*[:：]\s*)"
        rf"(?P<pd>{_WORD}(?: {_WORD}){{0,3}})",
        needs=(
            "Mr",
            "Ms",
            "Mi",
            "Mx",
            "Dr",
            "Madam",
            "Sir",
            "name",
            "suspect",
            "contact",
            "holder",
            "complainant",
            "owner",
            "consign",
        ),
    ),
    # -- by shape ----------------------------------------------------------------------------
    _finder(
        "email",
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)+",
        needs=("@",),
    ),
    _finder(
        "address",
        rf"[{_CJK}0-9]{{0,24}}?(?:路|街|大道|道|巷|弄|胡同|里)[{_CN_DIGITS}\-]+号"
        rf"(?:[{_CN_DIGITS}A-Za-z\-]+(?:号楼|栋|幢|座|单元|楼|层|室|号|户))*",
        needs=("号",),
    ),
    _finder(
        "address", rf"[{_CJK}]{{1,12}}村[{_CN_DIGITS}]+组(?:[{_CN_DIGITS}]+号)?", needs=("村",)
    ),
    _finder(
        "address",
        r"(?:\b(?:No\.|#)\s*)?\b[0-9]{1,5}[A-Za-z]?(?:-[0-9]{1,5})?,?\s+"
        r"(?:[A-Z][A-Za-z'.\-]*\s+){1,5}"
        r"(?:Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Boulevard|Blvd|Drive|Dr|Way|Court|Ct|"
        r"Place|Pl|Lu|Jie|Dajie|Dadao|Hutong|Alley|Xiang|Nong)\b\.?"
        r"(?:,?\s*(?:Apt|Apartment|Room|Rm|Unit|Flat|Suite|Floor|Building|Bldg)\.?\s*"
        r"[0-9A-Za-z\-]+)*",
        needs=(
            "Road",
            "Rd",
            "St",
            "Ave",
            "Lane",
            "Ln",
            "Boulevard",
            "Blvd",
            "Dr",
            "Way",
            "Court",
            "Ct",
            "Pl",
            "Lu",
            "Jie",
            "Dadao",
            "Hutong",
            "Alley",
            "Xiang",
            "Nong",
        ),
    ),
    _finder(
        "passport",
        r"(?<![A-Za-z0-9])(?:[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[DSP]E[0-9]{7}|"
        r"[CHMT][0-9]{8,10}|K[0-9]{8})(?![A-Za-z0-9])",
    ),
    _finder(
        "id",
        rf"[1-9]{_FIRST_DIGIT}[0-9]{{5}}{_SEP}(?:18|19|20)[0-9]{{2}}{_DATE}{_SEP}[0-9]{{3}}[0-9Xx]"
        + _NOT_DIGIT_AFTER,
    ),
    _finder(
        "id",
        rf"[1-9]{_FIRST_DIGIT}[0-9]{{5}}{_SEP}[0-9]{{2}}{_DATE}{_SEP}[0-9]{{3}}"
        r"(?![0-9])",
    ),
    _finder("id", rf"[0-9]{_FIRST_DIGIT}[0-9]{{14,}}[Xx]?"),
    _finder(
        "phone",
        _NOT_DIGIT_BEFORE
        + rf"(?:{_CC}[ \-]?\(?0?|[\(（]?0)(?:10|2[0-9]|[3-9][0-9]{{2}})[\)）]?[ \-]?"
        r"[2-9](?:[ \-]?[0-9]){6,7}(?:\s*(?:ext\.?|转|x|-)\s*[0-9]{1,5})?" + _NOT_DIGIT_AFTER,
        re.IGNORECASE,
    ),
    _finder(
        "phone",
        _NOT_DIGIT_BEFORE
        + rf"(?:{_CC}[ \-]*|8[ \-]*6[ \-]*)?1[ \-]*[3-9](?:[ \-]*[0-9]){{9}}"
        + _NOT_DIGIT_AFTER,
    ),
)
"""In order: introduced values first, then e-mail (before its digits look like a phone)."""

LEGAL_ENTITY = re.compile(
    r"公司|有限|集团|企业|工厂|厂$|商行|商店|事务所|研究院|研究所|大学|学院|协会|中心|银行|"
    r"合作社|基金会|\b(?:Inc|INC|Incorporated|Ltd|LTD|Limited|LIMITED|LLC|L\.L\.C|LLP|Corp|"
    r"CORP|Corporation|Co|CO|Company|GmbH|AG|S\.?A|SAS|SARL|S\.p\.A|SpA|B\.?V|N\.?V|PLC|plc|"
    r"Pty|K\.?K|Group|Holdings|Foundation|University|Institute|Trust|Association)\b"
)
"""A name that says it belongs to an organisation (a holder that is not a natural person)."""


def replace_personal_data(text: str, replace: Callable[[str, str], str]) -> str:
    """``text`` with every piece of personal data found replaced by ``replace(kind, value)``.

    Repeated until nothing more is found: removing one number can expose another.
    """
    for _ in range(_MAX_PASSES):
        before = text
        for finder in FINDERS:
            if not finder.may_match(text):
                continue
            text = finder.pattern.sub(partial(_one, kind=finder.kind, replace=replace), text)
        if text == before:
            break
    return text


def _one(match: re.Match[str], kind: str, replace: Callable[[str, str], str]) -> str:
    if "pd" not in match.re.groupindex or match.group("pd") is None:
        return replace(kind, match.group())
    if kind == "person" and LEGAL_ENTITY.search(match.group("pd")):
        return match.group()  # "holder: Acme Ltd" names a company, not a person
    start, end = match.span("pd")
    whole = match.group()
    offset = match.start()
    return whole[: start - offset] + replace(kind, match.group("pd")) + whole[end - offset :]


def introduced_names(text: str) -> set[str]:
    """Names a role introduces in ``text`` ("嫌疑人王芳", "Mr. Wang"): to be found elsewhere too."""
    return {
        match.group("pd")
        for finder in FINDERS
        if finder.kind == "person" and finder.may_match(text)
        for match in finder.pattern.finditer(text)
        if not LEGAL_ENTITY.search(match.group("pd"))
    }
