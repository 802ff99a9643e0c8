from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password

from apps.accounts.choices import Persona
from apps.accounts.models import Project, User


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
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, project: Project, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        members = self.fields["members"]
        assert isinstance(members, forms.ModelMultipleChoiceField)
        members.queryset = User.objects.filter(memberships__project=project).order_by("username")


class APITokenForm(forms.Form):
    name = forms.CharField(max_length=100, initial="my script")
