"""Keyed pseudonymisation."""

import hashlib
import hmac
from pathlib import Path

import pytest

from cohortflow.core import pseudonym
from cohortflow.core.errors import CohortflowError


def test_study_id_is_hmac_of_site_and_local_id():
    expected = hmac.new(b"k", b"S01\x1fSMC-0001", hashlib.sha256).hexdigest()[:16]
    assert pseudonym.study_id(b"k", "S01", "SMC-0001") == expected
    assert pseudonym.study_id(b"k", "S01", " SMC-0001 ") == expected
    assert pseudonym.study_id(b"k", "S02", "SMC-0001") != expected
    assert pseudonym.study_id(b"other", "S01", "SMC-0001") != expected


def test_missing_key_stops_with_a_clear_message(monkeypatch):
    monkeypatch.delenv("COHORTFLOW_KEY", raising=False)
    monkeypatch.delenv("COHORTFLOW_KEY_FILE", raising=False)
    with pytest.raises(CohortflowError, match="No pseudonymisation key"):
        pseudonym.load_key()


ENV_KEY = "e" * 32
FILE_KEY = "0123456789abcdef" * 4  # as `openssl rand -hex 32` writes it


def test_key_from_env_and_file(monkeypatch, tmp_path):
    monkeypatch.setenv("COHORTFLOW_KEY", ENV_KEY)
    assert pseudonym.load_key() == ENV_KEY.encode()
    monkeypatch.delenv("COHORTFLOW_KEY")
    f = tmp_path / "k"
    f.write_text(FILE_KEY + "\n")
    f.chmod(0o600)
    monkeypatch.setenv("COHORTFLOW_KEY_FILE", str(f))
    assert pseudonym.load_key() == FILE_KEY.encode()
    assert pseudonym.load_key(demo=True) == pseudonym.DEMO_KEY


@pytest.mark.parametrize("short", ["x", "secret", "e" * 31])
def test_short_key_is_refused(monkeypatch, tmp_path, short):
    monkeypatch.setenv("COHORTFLOW_KEY", short)
    with pytest.raises(CohortflowError, match=r"at least 32 are required") as exc:
        pseudonym.load_key()
    assert len(short) == 1 or short not in str(exc.value)  # the key is never printed
    monkeypatch.delenv("COHORTFLOW_KEY")
    f = tmp_path / "k"
    f.write_text(short + "\n")
    f.chmod(0o600)
    monkeypatch.setenv("COHORTFLOW_KEY_FILE", str(f))
    with pytest.raises(CohortflowError, match=r"at least 32"):
        pseudonym.load_key()


def test_key_file_readable_by_others_warns(monkeypatch, tmp_path, caplog):
    f = tmp_path / "k"
    f.write_text(FILE_KEY)
    monkeypatch.delenv("COHORTFLOW_KEY", raising=False)
    monkeypatch.setenv("COHORTFLOW_KEY_FILE", str(f))
    f.chmod(0o600)
    with caplog.at_level("WARNING", logger="cohortflow"):
        pseudonym.load_key()
    assert not caplog.records
    f.chmod(0o644)
    with caplog.at_level("WARNING", logger="cohortflow"):
        assert pseudonym.load_key() == FILE_KEY.encode()
    assert "chmod 600" in caplog.text and FILE_KEY not in caplog.text


def test_key_file_inside_the_repository_is_refused(monkeypatch):
    import cohortflow
    from cohortflow.core.errors import CohortflowError
    from cohortflow.core.pseudonym import load_key

    repo = Path(cohortflow.__file__).resolve().parents[1]
    key = repo / "results" / "test-key-inside-repo.key"
    key.parent.mkdir(exist_ok=True)
    key.write_text("abc123", encoding="utf-8")
    try:
        monkeypatch.delenv("COHORTFLOW_KEY", raising=False)
        monkeypatch.setenv("COHORTFLOW_KEY_FILE", str(key))
        with pytest.raises(CohortflowError, match="inside the repository"):
            load_key()
    finally:
        key.unlink()
