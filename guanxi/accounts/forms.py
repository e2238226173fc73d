"""Input for the sign-in, user management and API token pages. Choices are limited by the actor."""

from typing import Any, cast

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from guanxi.accounts import access
from guanxi.accounts.models import ApiToken, BusinessUnit, User
from guanxi.accounts.roles import ALL_UNIT_ROLES, LEAST_PRIVILEGED_ROLE
from guanxi.core.zones import DEFAULT_TIME_ZONE, TimeZoneSelect, time_zone_choices


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    token = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\d{6,8}$",
        error_messages={"invalid": _("Enter the 6-digit code.")},
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
    )


class UserAccessForm(forms.Form):
    """Role, units and data permissions, as far as the actor may grant them."""

    role = forms.ChoiceField(label=_("Role"))
    units: "forms.ModelMultipleChoiceField[BusinessUnit]" = forms.ModelMultipleChoiceField(
        label=_("Business units"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    can_view_pii = forms.BooleanField(label=_("May see personal data"), required=False)
    can_export = forms.BooleanField(label=_("May export data"), required=False)

    def __init__(self, *args, actor: User, target: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor, self.target = actor, target
        # self.fields holds copies of the fields declared above, so their types are known.
        cast(forms.ChoiceField, self.fields["role"]).choices = access.grantable_roles(actor)
        # Otherwise the browser preselects the first choice, system administrator.
        self.fields["role"].initial = LEAST_PRIVILEGED_ROLE
        units_field = cast("forms.ModelMultipleChoiceField[BusinessUnit]", self.fields["units"])
        units_field.queryset = access.grantable_units(actor)
        self.fields["can_view_pii"].disabled = not access.may_grant(actor, "pii.view")
        self.fields["can_export"].disabled = not access.may_grant(actor, "data.export")

    def clean_role(self):
        role = self.cleaned_data["role"]
        if self.target is not None and self.target.pk == self.actor.pk and role != self.target.role:
            raise forms.ValidationError(_("You cannot change your own role."))
        return role

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("role") and cleaned["role"] not in ALL_UNIT_ROLES and not cleaned.get("units"):
            self.add_error("units", _("Choose at least one business unit for this role."))
        return cleaned


class UserEditForm(UserAccessForm):
    is_active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("Inactive users cannot sign in.")
    )

    def clean_is_active(self):
        is_active = self.cleaned_data["is_active"]
        if self.target is not None and self.target.pk == self.actor.pk and not is_active:
            raise forms.ValidationError(_("You cannot deactivate yourself."))
        return is_active


class UserAddForm(UserAccessForm):
    username = forms.RegexField(
        label=_("Username"),
        max_length=150,
        regex=r"^[\w.@+-]+\Z",
        help_text=_("Letters, digits and @/./+/-/_ only."),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    field_order = [
        "username",
        "display_name",
        "email",
        "role",
        "units",
        "password",
        "can_view_pii",
        "can_export",
    ]

    def clean_username(self):
        username = self.cleaned_data["username"]
        # Uniqueness has to look at every account, not only those the actor manages.
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This username is taken."))
        return username

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password"):
            candidate = User(
                username=cleaned.get("username", ""),
                email=cleaned.get("email", ""),
                display_name=cleaned.get("display_name", ""),
            )
            try:
                validate_password(cleaned["password"], candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. the system that will use it."),
    )
    scope = forms.ChoiceField(label=_("Scope"), choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)


class UnitForm(forms.Form):
    """A business unit's name and time zone; a new unit also gets its code."""

    name = forms.CharField(label=_("Name"), max_length=100)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        initial=DEFAULT_TIME_ZONE,
        widget=TimeZoneSelect,
        help_text=_("Days, months and opening hours of this unit's reports are in this time zone."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = time_zone_choices()


class UnitAddForm(UnitForm):
    code = forms.SlugField(
        label=_("Code"),
        max_length=32,
        help_text=_("A short, permanent identifier in letters, digits, - and _ (e.g. home, beauty)."),
    )

    field_order = ["code", "name", "time_zone"]

    def clean_code(self):
        code = self.cleaned_data["code"]
        if BusinessUnit.objects.filter(code=code).exists():
            raise forms.ValidationError(_("A business unit with this code already exists."))
        return code


class UnitEditForm(UnitForm):
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        help_text=_("An inactive unit keeps its data, but no user or import can be given it."),
    )
