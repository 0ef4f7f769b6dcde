"""Sign-in with Hugging Face on a Space, and who is a reviewer.

With ``hf_oauth: true`` in the Space's front matter, Hugging Face registers an OAuth app and
sets ``OAUTH_CLIENT_ID`` (and its secret, scopes and provider URL) in the Space; the app then
shows Gradio's ``gr.LoginButton``. Every Annotate handler takes a ``gr.OAuthProfile``, whose
Hub username names the annotator (:func:`eusgist.ui.annotate.annotator_name`).
``hf_oauth_authorized_org`` limits sign-in to members of an organisation (a hospital's).

Reviewers are the Hub usernames in ``EUSGIST_REVIEWERS`` (registered when the database
opens) and, with ``EUSGIST_REVIEWER_ORG`` set, the signed-in members of that organisation
whose role in it is one of ``EUSGIST_REVIEWER_ROLES`` (default admin, write; the profile
lists roles when the Space asks for the ``read-memberships`` scope). Local servers keep
the password file (``EUSGIST_AUTH_FILE``) instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import gradio as gr

from eusgist.config import settings
from eusgist.store import ReadOnlyDatabaseError

log = logging.getLogger(__name__)

#: Set by Hugging Face in a Space with ``hf_oauth: true``.
OAUTH_CLIENT_ID_ENV = "OAUTH_CLIENT_ID"


def oauth_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this is a Space with a Hugging Face OAuth app (``hf_oauth: true``)."""
    env = os.environ if environ is None else environ
    return bool(settings().space_id and env.get(OAUTH_CLIENT_ID_ENV))


def org_role(profile: Mapping[str, object], org: str) -> str | None:
    """The signed-in user's role in the organisation ``org`` (its Hub handle), if listed."""
    for entry in profile.get("orgs") or []:
        if isinstance(entry, Mapping) and org in (entry.get("preferred_username"),
                                                   entry.get("name")):
            role = entry.get("roleInOrg")
            return str(role) if role else None
    return None


def reviewer_by_role(profile: Mapping[str, object]) -> bool:
    """Whether the profile's role in ``EUSGIST_REVIEWER_ORG`` makes its user a reviewer."""
    config = settings()
    if config.reviewer_org is None:
        return False
    return org_role(profile, config.reviewer_org) in config.reviewer_roles


def signed_in(profile: gr.OAuthProfile | None) -> str:
    """Who the session is signed in as and their role; registers an organisation reviewer."""
    from eusgist.ui.annotate import current_store

    config = settings()
    listed = ", ".join(config.reviewers) or "none listed"
    if profile is None:
        return ("Not signed in: **sign in with Hugging Face** to annotate under your Hub "
                f"username. Reviewers: {listed}.")
    name = str(profile.username)
    store = current_store()
    if name not in config.reviewers and reviewer_by_role(profile):
        try:
            store.add_annotator(name, "reviewer")
        except ReadOnlyDatabaseError as exc:
            log.warning("reviewer %s not registered: %s", name, exc)
    role = store.annotators().get(name, "annotator")
    how = (f" ({org_role(profile, config.reviewer_org)} of {config.reviewer_org})"
           if role == "reviewer" and config.reviewer_org and name not in config.reviewers
           else "")
    return f"Signed in with Hugging Face as **{name}**: {role}{how}. Reviewers: {listed}."


def build(app: gr.Blocks) -> None:
    """On an OAuth Space: the sign-in button and the signed-in line, filled at page load."""
    if not oauth_enabled():
        return
    with gr.Row():
        gr.LoginButton(scale=0)
        who = gr.Markdown(elem_id="signed-in")
    app.load(signed_in, None, who, api_visibility="private")
