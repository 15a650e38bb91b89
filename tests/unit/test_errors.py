from __future__ import annotations

import pytest

from assay import errors

ALL_ERRORS = [
    getattr(errors, name)
    for name in errors.__all__
    if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), Exception)
]


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_every_error_has_a_hint_status_and_exit_code(cls: type[errors.AssayError]) -> None:
    error = cls("something broke")
    assert issubclass(cls, errors.AssayError)
    assert error.hint
    assert 400 <= error.status < 600
    assert error.exit_code in {1, 2}
    assert error.type_slug and error.type_slug == error.type_slug.lower()


@pytest.mark.parametrize(
    ("cls", "exit_code"),
    [(errors.UsageError, 2), (errors.ConfigError, 2), (errors.StoreError, 1), (errors.LedgerError, 1)],
)
def test_usage_and_config_errors_exit_2_failures_exit_1(
    cls: type[errors.AssayError], exit_code: int
) -> None:
    assert cls("x").exit_code == exit_code


def test_explicit_hint_overrides_default() -> None:
    assert errors.StoreError("x", hint="do this").hint == "do this"
    assert str(errors.StoreError("the message")) == "the message"


def test_slug_is_kebab_case() -> None:
    assert errors.VerificationError("x").type_slug == "verification"
    assert errors.NotFoundError("x").type_slug == "not-found"
