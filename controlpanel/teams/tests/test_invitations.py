"""Invitations: who may invite whom, the email and its link, and every way a link stops working."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.teams import services
from controlpanel.teams.models import Invitation, Membership
from controlpanel.teams.permissions import Role
from tests.factories import PASSWORD, UserFactory

LINK = re.compile(r"https?://[^/\s]+(/team/join/[\w-]+/)")
NEW_PASSWORD = "violet-lantern-orbit-42"


def invite(team, actor, email="vic@example.com", role=Role.VIEWER):
    return services.invitation_create(team=team, actor=actor, email=email, role=role)


def sent_link() -> str:
    assert len(mail.outbox) == 1
    return LINK.search(mail.outbox[0].body).group(1)


# --- creating ---------------------------------------------------------------------------------


def test_invitation_create_stores_only_a_hash_of_the_token(team, owner):
    invitation, token = invite(team, owner)
    assert invitation.token_hash == services.hash_token(token)
    assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
    assert len(token) >= 40


def test_invitation_expires_after_the_configured_days(team, owner, settings):
    settings.PANEL_INVITE_DAYS = 2
    invitation, _ = invite(team, owner)
    assert invitation.expires_at - invitation.created_at == pytest.approx(
        dt.timedelta(days=2), abs=dt.timedelta(seconds=5)
    )


def test_invitation_default_lifetime_is_seven_days(team, owner):
    invitation, _ = invite(team, owner)
    assert round((invitation.expires_at - timezone.now()) / dt.timedelta(days=1)) == 7


@pytest.mark.parametrize(
    ("inviter", "role"), [(Role.ADMIN, Role.VIEWER), (Role.ADMIN, Role.ADMIN), (Role.OWNER, Role.OWNER)]
)
def test_admins_and_owners_invite_the_roles_they_may_grant(team, make_member, inviter, role):
    invitation, _ = invite(team, make_member(inviter), role=role)
    assert invitation.role == role


def test_an_admin_cannot_invite_an_owner(team, make_member):
    with pytest.raises(PermissionDenied, match="Only an owner can invite an owner"):
        invite(team, make_member(Role.ADMIN), role=Role.OWNER)
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", [Role.DEPLOYER, Role.VIEWER])
def test_deployers_and_viewers_cannot_invite(team, make_member, role):
    with pytest.raises(PermissionDenied):
        invite(team, make_member(role))
    assert not Invitation.objects.exists()


def test_inviting_a_member_again_is_refused(team, owner, make_member):
    make_member(Role.VIEWER, username="vic")  # factory email: vic@example.com
    with pytest.raises(ValidationError, match="already a member"):
        invite(team, owner, email="VIC@example.com")


def test_a_second_pending_invitation_for_the_same_address_is_refused(team, owner):
    invite(team, owner)
    with pytest.raises(ValidationError, match="already has a pending invitation"):
        invite(team, owner, email="Vic@Example.com")
    assert Invitation.objects.count() == 1


def test_an_expired_invitation_is_replaced_by_a_new_one(team, owner):
    old, _ = invite(team, owner)
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    new, _ = invite(team, owner)
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert new.is_pending


def test_invite_view_sends_the_link_by_email(client, team, owner):
    client.force_login(owner)
    response = client.post(reverse("teams:invite"), {"email": "vic@example.com", "role": "deployer"})
    assert response.status_code == 302
    message = mail.outbox[0]
    assert message.to == ["vic@example.com"]
    assert "Acme GPU" in message.subject
    assert "as Deployer" in message.body
    token = sent_link().split("/")[-2]
    assert Invitation.objects.get().token_hash == services.hash_token(token)


def test_invite_view_rejects_a_malformed_address_and_sends_nothing(client, team, owner):
    client.force_login(owner)
    response = client.post(reverse("teams:invite"), {"email": "not-an-address", "role": "viewer"})
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert mail.outbox == []
    assert not Invitation.objects.exists()


def test_invite_form_offers_an_admin_no_owner_role_and_refuses_it(client, team, make_member):
    admin = make_member(Role.ADMIN)
    client.force_login(admin)
    page = client.get(reverse("teams:detail")).content.decode()
    form = page[page.index('action="/team/invite/"') :]
    assert '<option value="admin"' in form
    assert '<option value="owner"' not in form[: form.index("</form>")]
    response = client.post(reverse("teams:invite"), {"email": "boss@example.com", "role": "owner"})
    assert "Select a valid choice" in response.content.decode()
    assert not Invitation.objects.exists()


def test_console_backend_shows_the_link_to_the_inviter(client, team, owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    client.force_login(owner)
    page = client.post(reverse("teams:invite"), {"email": "vic@example.com", "role": "viewer"}, follow=True)
    assert "No mail server is set up" in page.content.decode()
    assert "/team/join/" in page.content.decode()


def test_a_failed_send_keeps_the_invitation_and_says_so(client, team, owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    client.force_login(owner)
    page = client.post(reverse("teams:invite"), {"email": "vic@example.com", "role": "viewer"}, follow=True)
    assert "could not be sent" in page.content.decode()
    assert Invitation.objects.get().is_pending


# --- accepting ----------------------------------------------------------------------------------


def test_opening_the_link_changes_nothing(client, team, owner):
    _, token = invite(team, owner)
    page = client.get(reverse("teams:join", args=[token]))
    assert page.status_code == 200
    assert "Join Acme GPU" in page.content.decode()
    assert Invitation.objects.get().accepted_at is None


def test_signing_up_through_the_link_creates_the_account_and_joins(client, team, owner):
    _, token = invite(team, owner)
    response = client.post(
        reverse("teams:join", args=[token]),
        {"username": "vic", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response["Location"] == reverse("deployments:dashboard")
    vic = get_user_model().objects.get(username="vic")
    assert vic.email == "vic@example.com"
    assert vic.check_password(NEW_PASSWORD)
    assert Membership.objects.get(team=team, user=vic).role == Role.VIEWER
    assert client.get(reverse("deployments:dashboard")).status_code == 200  # logged in, in the team
    joined = AuditEntry.objects.get(action=AuditAction.MEMBER_JOINED)
    assert (joined.actor, joined.summary) == (vic, "vic joined as Viewer (invited by olivia)")


@pytest.mark.parametrize(
    ("password", "error"),
    [("short", "too short"), ("password123", "too common"), ("48151623424815", "entirely numeric")],
)
def test_sign_up_applies_djangos_password_validators(client, team, owner, password, error):
    _, token = invite(team, owner)
    page = client.post(
        reverse("teams:join", args=[token]), {"username": "vic", "password1": password, "password2": password}
    )
    assert error in page.content.decode()
    assert not get_user_model().objects.filter(username="vic").exists()
    assert Invitation.objects.get().accepted_at is None


def test_sign_up_refuses_a_taken_username(client, team, owner):
    _, token = invite(team, owner)
    page = client.post(
        reverse("teams:join", args=[token]),
        {"username": "OLIVIA", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert "already exists" in page.content.decode()
    assert Invitation.objects.get().accepted_at is None


def test_logged_in_with_the_invited_address_joins_with_one_click(client, team, owner):
    vic = UserFactory(username="vic", email="vic@example.com")
    _, token = invite(team, owner, role=Role.DEPLOYER)
    client.force_login(vic)
    assert "Join Acme GPU as vic" in client.get(reverse("teams:join", args=[token])).content.decode()
    client.post(reverse("teams:join", args=[token]))
    assert Membership.objects.get(team=team, user=vic).role == Role.DEPLOYER


def test_logging_in_from_the_link_comes_back_to_it(client, team, owner):
    UserFactory(username="vic", email="vic@example.com")
    _, token = invite(team, owner)
    page = client.get(reverse("teams:join", args=[token])).content.decode()
    login_url = re.search(r'href="(/accounts/login/\?next=[^"]+)"', page).group(1)
    response = client.post(login_url, {"username": "vic", "password": PASSWORD, "next": login_url.split("=", 1)[1]})
    assert response["Location"] == reverse("teams:join", args=[token])


def test_an_account_with_another_address_cannot_accept(client, team, owner):
    """The link is bound to the address it was sent to, so a forwarded link does not
    let whoever holds an account join with it."""
    _, token = invite(team, owner)
    mallory = UserFactory(username="mallory", email="mallory@example.com")
    client.force_login(mallory)
    page = client.get(reverse("teams:join", args=[token])).content.decode()
    assert "This invitation was sent to vic@example.com" in page
    assert "Log out and continue" in page
    assert client.post(reverse("teams:join", args=[token])).status_code == 403
    assert not Membership.objects.filter(user=mallory).exists()
    assert Invitation.objects.get().accepted_at is None
    with pytest.raises(services.InvitationError, match="sent to vic@example.com"):
        services.invitation_accept(token=token, user=mallory)


def test_an_invitation_works_once(client, team, owner):
    _, token = invite(team, owner)
    url = reverse("teams:join", args=[token])
    client.post(url, {"username": "vic", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    client.logout()
    again = client.get(url)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    second = client.post(url, {"username": "eve", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert second.status_code == 410
    assert not get_user_model().objects.filter(username="eve").exists()
    assert Membership.objects.filter(team=team).count() == 2


def test_accepting_twice_in_a_race_lets_only_one_through(team, owner):
    vic = UserFactory(username="vic", email="vic@example.com")
    _, token = invite(team, owner)
    services.invitation_accept(token=token, user=vic)
    with pytest.raises(services.InvitationError) as raised:
        services.invitation_accept(token=token, user=vic)
    assert raised.value.reason == "used"


def test_an_expired_invitation_gets_a_clear_page(client, team, owner):
    invitation, token = invite(team, owner)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    page = client.get(reverse("teams:join", args=[token]))
    assert page.status_code == 410
    assert "This invitation has expired" in page.content.decode()
    client.post(
        reverse("teams:join", args=[token]), {"username": "vic", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert not get_user_model().objects.filter(username="vic").exists()


def test_a_revoked_invitation_gets_a_clear_page(client, team, owner):
    invitation, token = invite(team, owner)
    services.invitation_revoke(invitation=invitation, actor=owner)
    page = client.get(reverse("teams:join", args=[token]))
    assert page.status_code == 410
    assert "This invitation was withdrawn" in page.content.decode()


def test_an_unknown_token_is_404_with_a_clear_page(client, db):
    page = client.get(reverse("teams:join", args=["made-up"]))
    assert page.status_code == 404
    assert "This invitation link does not work" in page.content.decode()


def test_a_deleted_teams_invitations_stop_working(team, owner):
    _, token = invite(team, owner)
    services.team_delete(team=team, actor=owner, confirm_name=team.name)
    with pytest.raises(services.InvitationError):
        services.invitation_check(token=token)


def test_an_existing_member_accepting_keeps_their_role(team, owner, make_member):
    _, token = invite(team, owner, email="vic@example.com", role=Role.VIEWER)
    vic = make_member(Role.ADMIN, username="vic")  # joined another way meanwhile
    membership, created = services.invitation_accept(token=token, user=vic)
    assert (membership.role, created) == (Role.ADMIN, False)
    assert not AuditEntry.objects.filter(action=AuditAction.MEMBER_JOINED).exists()


# --- revoking and the list ------------------------------------------------------------------


def test_pending_invitations_are_listed_and_revocable(client, team, owner):
    invitation, _ = invite(team, owner)
    client.force_login(owner)
    page = client.get(reverse("teams:detail")).content.decode()
    assert "vic@example.com" in page
    assert reverse("teams:invitation_revoke", args=[invitation.pk]) in page
    response = client.post(reverse("teams:invitation_revoke", args=[invitation.pk]), HTTP_HX_REQUEST="true")
    assert response.content == b""
    assert "Revoked the invitation" in response["HX-Trigger"]
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert "vic@example.com" not in client.get(reverse("teams:detail")).content.decode()


def test_revoking_twice_is_refused(team, owner):
    invitation, _ = invite(team, owner)
    services.invitation_revoke(invitation=invitation, actor=owner)
    with pytest.raises(ValidationError, match="already accepted or revoked"):
        services.invitation_revoke(invitation=invitation, actor=owner)


def test_an_admin_cannot_revoke_an_owners_invitation(team, owner, make_member):
    invitation, _ = invite(team, owner, email="co-owner@example.com", role=Role.OWNER)
    with pytest.raises(PermissionDenied):
        services.invitation_revoke(invitation=invitation, actor=make_member(Role.ADMIN))
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_viewers_do_not_see_invitations_or_the_invite_form(client, team, owner, make_member):
    invite(team, owner)
    client.force_login(make_member(Role.VIEWER))
    page = client.get(reverse("teams:detail")).content.decode()
    assert "vic@example.com" not in page
    assert reverse("teams:invite") not in page


# --- a new link ----------------------------------------------------------------------------------


def test_without_a_mail_server_the_link_stays_on_the_page_in_a_box_with_copy(client, team, owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    client.force_login(owner)
    response = client.post(reverse("teams:invite"), {"email": "vic@example.com", "role": "viewer"})
    assert response.status_code == 200  # the page itself, not a redirect and a passing toast
    page = response.content.decode()
    box = page[page.index('id="invite-link"') : page.index("</section>", page.index('id="invite-link"'))]
    url = re.search(r'value="(https?://[^"]+/team/join/[\w-]+/)"', box).group(1)
    assert f'data-copy="{url}"' in box
    assert "No mail server is set up" in box
    token = url.rstrip("/").split("/")[-1]
    assert Invitation.objects.get().token_hash == services.hash_token(token)
    assert "data-message" not in page  # not (only) in a toast


def test_new_link_replaces_the_token_and_the_old_one_stops_working(client, team, owner):
    invitation, old_token = invite(team, owner)
    client.force_login(owner)
    page = client.get(reverse("teams:detail")).content.decode()
    assert reverse("teams:invitation_link", args=[invitation.pk]) in page
    response = client.post(reverse("teams:invitation_link", args=[invitation.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="invite-link"')
    assert f'<tr id="invitation-{invitation.pk}" hx-swap-oob="true">' in body
    new_path = LINK.search(body).group(1)
    new_token = new_path.rstrip("/").split("/")[-1]
    assert new_token != old_token
    assert client.get(reverse("teams:join", args=[old_token])).status_code == 404
    assert client.get(new_path).status_code == 200
    entry = AuditEntry.objects.get(action=AuditAction.MEMBER_INVITE_RENEWED)
    assert entry.actor == owner
    assert "vic@example.com" in entry.summary
    assert old_token not in str(entry.data) + entry.summary
    assert new_token not in str(entry.data) + entry.summary


def test_new_link_without_htmx_shows_the_team_page_with_the_box(client, team, owner):
    invitation, _ = invite(team, owner)
    client.force_login(owner)
    response = client.post(reverse("teams:invitation_link", args=[invitation.pk]))
    assert response.status_code == 200
    assert "A new link for vic@example.com" in response.content.decode()


def test_a_new_link_restarts_the_invitations_period(team, owner, settings):
    invitation, _ = invite(team, owner)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() + dt.timedelta(hours=1))
    invitation.refresh_from_db()
    renewed, _ = services.invitation_renew_link(invitation=invitation, actor=owner)
    renewed.refresh_from_db()
    assert renewed.expires_at > timezone.now() + dt.timedelta(days=settings.PANEL_INVITE_DAYS - 1)


def test_an_admin_cannot_renew_an_owners_invitation(team, owner, make_member):
    invitation, token = invite(team, owner, email="boss@example.com", role=Role.OWNER)
    with pytest.raises(PermissionDenied):
        services.invitation_renew_link(invitation=invitation, actor=make_member(Role.ADMIN))
    assert services.invitation_check(token=token) == invitation


def test_a_revoked_invitation_gets_no_new_link(client, team, owner):
    invitation, _ = invite(team, owner)
    services.invitation_revoke(invitation=invitation, actor=owner)
    with pytest.raises(ValidationError):
        services.invitation_renew_link(invitation=invitation, actor=owner)
    client.force_login(owner)
    assert client.post(reverse("teams:invitation_link", args=[invitation.pk])).status_code == 404
