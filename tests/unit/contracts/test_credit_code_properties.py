"""Property tests: the GB 32100 check character catches every single-character change."""

from hypothesis import assume, given
from hypothesis import strategies as st

from contracts.identifiers import CREDIT_CODE_CHARSET, credit_code_check_char, is_credit_code

_body = st.text(alphabet=CREDIT_CODE_CHARSET, min_size=17, max_size=17)


@given(first17=_body)
def test_a_code_completed_with_its_check_character_is_valid(first17: str) -> None:
    assert is_credit_code(first17 + credit_code_check_char(first17))


@given(
    first17=_body,
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from(CREDIT_CODE_CHARSET),
)
def test_changing_any_one_character_makes_a_code_invalid(
    first17: str, position: int, replacement: str
) -> None:
    code = first17 + credit_code_check_char(first17)
    changed = code[:position] + replacement + code[position + 1 :]
    assume(changed != code)
    # Weights are all non-zero mod 31 (a prime), so one change always breaks the checksum;
    # the assume below keeps the test honest should that ever not hold.
    assume(credit_code_check_char(changed[:17]) != changed[17])
    assert not is_credit_code(changed)


@given(first17=_body, position=st.integers(min_value=0, max_value=17))
def test_a_code_with_a_lower_case_letter_is_refused(first17: str, position: int) -> None:
    code = first17 + credit_code_check_char(first17)
    assume(code[position].isalpha())
    assert not is_credit_code(code[:position] + code[position].lower() + code[position + 1 :])
