from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from controlpanel.teams.models import Membership, Team
from controlpanel.teams.permissions import Role, assignable_roles


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autofocus": True}))


class RenameTeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=100)


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(label="Role", initial=Role.VIEWER)

    def __init__(self, *args: Any, inviter_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the roles the inviter may hand out (an admin cannot invite an owner).
        self.fields["role"].choices = [(r.value, r.label) for r in assignable_roles(inviter_role)]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TransferForm(forms.Form):
    member = forms.ModelChoiceField(queryset=Membership.objects.none(), label="New owner", empty_label=None)

    def __init__(self, *args: Any, team: Team, me: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["member"]
        field.queryset = Membership.objects.filter(team=team).exclude(pk=me.pk).select_related("user")
        field.label_from_instance = lambda m: f"{m.user.get_username()} ({m.get_role_display()})"


class DeleteTeamForm(forms.Form):
    confirm = forms.CharField(
        label="Type the team's name to confirm", widget=forms.TextInput(attrs={"autocomplete": "off"})
    )


class SignupForm(UserCreationForm):
    """A new account for an invited address: username and password (Django's validators);
    the email is the one the invitation was sent to and cannot be changed here."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The password validators compare against the account's attributes, email included.
        self.instance.email = email
        self.fields["username"].widget.attrs.update({"autofocus": True, "autocomplete": "username"})
