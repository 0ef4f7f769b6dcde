"""Sign-in with Hugging Face: the OAuth profile names the annotator; organisation roles and
EUSGIST_REVIEWERS name reviewers; the button appears only on a Space with an OAuth app."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from eusgist.errors import EusgistError
from eusgist.ui import annotate, signin


def profile(username: str, orgs: list[dict] | None = None) -> gr.OAuthProfile:
    """A signed-in user's profile as Gradio injects it (the OpenID userinfo)."""
    data = {"name": username.title(), "preferred_username": username,
            "profile": f"https://huggingface.co/{username}", "picture": ""}
    if orgs is not None:
        data["orgs"] = orgs
    return gr.OAuthProfile(data)


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'signin.sqlite'}"
    monkeypatch.setenv("EUSGIST_DATABASE_URL", url)
    monkeypatch.setenv("EUSGIST_REVIEWERS", "chief")
    monkeypatch.setenv("EUSGIST_REVIEWER_ORG", "hospital")
    return url


def test_oauth_profile_names_the_annotator() -> None:
    alice = profile("alice")
    assert annotate.annotator_name("typed name", None, alice) == "alice"
    assert annotate.annotator_name("typed name", None, None) == "typed name"
    with pytest.raises(EusgistError, match="enter your name"):
        annotate.annotator_name("", None, None)


def test_an_oauth_space_takes_no_typed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACE_ID", "org/eusgist")
    monkeypatch.setenv("OAUTH_CLIENT_ID", "client")
    with pytest.raises(EusgistError, match="sign in with Hugging Face"):
        annotate.annotator_name("anyone", None, None)
    assert annotate.annotator_name("anyone", None, profile("alice")) == "alice"


def test_organisation_role_makes_a_reviewer(database: str) -> None:
    admin = profile("alice", [{"preferred_username": "hospital", "roleInOrg": "admin"}])
    reader = profile("bob", [{"preferred_username": "hospital", "roleInOrg": "read"},
                             {"preferred_username": "other", "roleInOrg": "admin"}])
    assert "**alice**: reviewer (admin of hospital)" in signin.signed_in(admin)
    assert "**bob**: annotator" in signin.signed_in(reader)
    assert "**carol**: annotator" in signin.signed_in(profile("carol"))  # no orgs listed
    roles = annotate.current_store().annotators()
    assert roles["alice"] == "reviewer" and roles["chief"] == "reviewer"
    assert roles.get("bob", "annotator") == "annotator"
    assert "Reviewers: chief." in signin.signed_in(None)
    assert "sign in with Hugging Face" in signin.signed_in(None)


def test_listed_reviewer_is_shown_as_reviewer(database: str) -> None:
    assert "**chief**: reviewer." in signin.signed_in(profile("chief"))


def test_login_button_only_on_an_oauth_space(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio.routes

    attached: list = []  # Gradio's OAuth routes need the Space's OAuth app: recorded instead
    monkeypatch.setattr(gradio.routes, "attach_oauth", attached.append)

    def buttons() -> list:
        with gr.Blocks() as page:
            signin.build(page)
        return [b for b in page.blocks.values() if isinstance(b, gr.LoginButton)]

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setenv("OAUTH_CLIENT_ID", "client")
    assert not signin.oauth_enabled() and buttons() == []
    monkeypatch.setenv("SPACE_ID", "org/eusgist")
    assert signin.oauth_enabled() and len(buttons()) == 1 and len(attached) == 1
    monkeypatch.delenv("OAUTH_CLIENT_ID")
    assert not signin.oauth_enabled()
