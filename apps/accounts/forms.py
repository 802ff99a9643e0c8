from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password

from apps.accounts.choices import Persona
from apps.accounts.models import Project, User, WorkTeam


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)

    def clean_username(self) -> User:
        name = self.cleaned_data["username"].strip()
        user = User.objects.filter(username__iexact=name, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No active user named {name!r}.")
        return user


class InvitationForm(forms.Form):
    email = forms.EmailField()
    personas = forms.MultipleChoiceField(choices=Persona.choices, widget=forms.CheckboxSelectMultiple)
    project = forms.ModelChoiceField(queryset=Project.objects.all(), required=False)


class InvitationAcceptForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]{1,150}$", max_length=150, help_text="Letters, digits and @/./+/-/_ only."
    )
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        if data.get("password1"):
            validate_password(data["password1"], User(username=data.get("username", "")))
        return data


class WorkTeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    kind = forms.ChoiceField(
        choices=WorkTeam.Kind.choices,
        initial=WorkTeam.Kind.EMPLOYEES,
        required=False,
        help_text="A vendor team's workers are invited by link and see only this team's labeling jobs.",
    )
    worker_limit = forms.IntegerField(
        min_value=1,
        max_value=1_000_000,
        required=False,
        help_text="The most members the team may have (empty: no limit).",
    )
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, project: Project, team: WorkTeam | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        members = self.fields["members"]
        assert isinstance(members, forms.ModelMultipleChoiceField)
        # The project's members, and a vendor team's outside workers (they joined by invitation; unticked: removed).
        choices = User.objects.filter(memberships__project=project)
        if team is not None:
            choices = choices | User.objects.filter(work_teams=team)
        members.queryset = choices.filter(is_active=True).distinct().order_by("username")

    def clean_kind(self) -> str | None:
        return self.cleaned_data.get("kind") or None  # not sent: the team keeps its kind (a new team: employees)


class TeamInvitationForm(forms.Form):
    email = forms.EmailField(help_text="The vendor worker's address: they get the Labeler persona and this team only.")


class APITokenForm(forms.Form):
    name = forms.CharField(max_length=100, initial="my script")
