"""The organisation's customer vocabulary, under Settings: tags and tag groups, and custom field
definitions. Organisation-wide, so one permission (customers.configure) guards every page; writes
go through guanxi.customers.profile."""

import re
from typing import cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from guanxi.core.access import require
from guanxi.customers import profile
from guanxi.customers.models import DEFAULT_COLOUR, CustomFieldDefinition, Tag, TagGroup

CONFIGURE = "customers.configure"
# restrict(user, "configure") asks for customers.configure; the rows are organisation-wide.
CONFIGURE_ACTION = "configure"
CHOICE_SEPARATORS = re.compile(r"[\n,，、]+")


class ColourInput(forms.TextInput):
    input_type = "color"


class TagGroupForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)
    colour = forms.CharField(label=_("Colour"), max_length=7, initial=DEFAULT_COLOUR, widget=ColourInput)


class TagForm(TagGroupForm):
    group = forms.TypedChoiceField(label=_("Group"), required=False, coerce=int, empty_value=None)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["group"]).choices = [
            ("", _("No group")),
            *((group.pk, group.name) for group in groups),
        ]


class ChoicesField(forms.CharField):
    """Choices typed one per line (or separated by commas), as a list without blanks or repeats."""

    widget = forms.Textarea(attrs={"rows": 3})

    def to_python(self, value):
        text = super().to_python(value) or ""
        return list(dict.fromkeys(item.strip() for item in CHOICE_SEPARATORS.split(text) if item.strip()))

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value


class CustomFieldForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    choices = ChoicesField(
        label=_("Choices"),
        required=False,
        help_text=_("For a choice field: one choice per line. Choices can be added later, not removed."),
    )


class CustomFieldAddForm(CustomFieldForm):
    key = forms.SlugField(
        label=_("Key"),
        max_length=64,
        help_text=_(
            "A permanent identifier in lowercase letters, digits and underscores, used by imports and the API."
        ),
    )
    type = forms.ChoiceField(label=_("Type"), choices=CustomFieldDefinition.Type.choices)

    field_order = ["label", "key", "type", "choices", "description"]


def _apply(form: forms.Form, write):
    """Run an action with the form's values; its refusals become the form's errors."""
    try:
        return write()
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for name, errors in error.error_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            form.add_error(None, error)
        return None


@require_http_methods(["GET", "POST"])
def tag_list(request):
    user = require(request, CONFIGURE)
    groups = list(TagGroup.objects.restrict(user, "view").annotate(tag_count=Count("tags")).order_by("name"))
    is_group = request.POST.get("form") == "group"
    tag_form = TagForm(None if is_group else request.POST or None, groups=groups)
    group_form = TagGroupForm(request.POST if is_group else None)
    if request.method == "POST":
        if is_group and group_form.is_valid():
            group = _apply(
                group_form, lambda: profile.create_tag_group(**group_form.cleaned_data, actor=user)
            )
            if group is not None:
                messages.success(request, _("Tag group %(name)s was added.") % {"name": group.name})
                return redirect("customers:tag_list")
        elif not is_group and tag_form.is_valid():
            data = tag_form.cleaned_data
            tag = _apply(
                tag_form,
                lambda: profile.create_tag(
                    data["name"],
                    colour=data["colour"],
                    group=_group(user, data["group"]),
                    description=data["description"],
                    actor=user,
                ),
            )
            if tag is not None:
                messages.success(request, _("Tag %(name)s was added.") % {"name": tag.name})
                return redirect("customers:tag_list")
    tags = (
        Tag.objects.restrict(user, "view")
        .select_related("group")
        .annotate(customer_count=Count("customer_tags"))
        .order_by("group__name", "name")
    )
    context = {"tags": tags, "groups": groups, "tag_form": tag_form, "group_form": group_form}
    return render(request, "customers/settings/tag_list.html", context)


@require_http_methods(["GET", "POST"])
def tag(request, pk):
    user = require(request, CONFIGURE)
    shown = get_object_or_404(Tag.objects.restrict(user, CONFIGURE_ACTION), pk=pk)
    groups = TagGroup.objects.restrict(user, "view").order_by("name")
    initial = {
        "name": shown.name,
        "colour": shown.colour,
        "group": shown.group_id,
        "description": shown.description,
    }

    def update(changes):
        if "group" in changes:
            changes["group"] = _group(user, changes["group"])
        return profile.update_tag(shown, actor=user, **changes)

    form = TagForm(request.POST or None, initial=initial, groups=groups)
    return _edit(request, shown, form, update, "customers:tag", "customers:tag_list")


@require_http_methods(["GET", "POST"])
def tag_group(request, pk):
    user = require(request, CONFIGURE)
    shown = get_object_or_404(TagGroup.objects.restrict(user, CONFIGURE_ACTION), pk=pk)
    form = TagGroupForm(request.POST or None, initial={"name": shown.name, "colour": shown.colour})

    def update(changes):
        return profile.update_tag_group(shown, actor=user, **changes)

    return _edit(request, shown, form, update, "customers:tag_group", "customers:tag_list")


@require_http_methods(["GET", "POST"])
def custom_field_list(request):
    user = require(request, CONFIGURE)
    form = CustomFieldAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        definition = _apply(form, lambda: profile.create_custom_field(**form.cleaned_data, actor=user))
        if definition is not None:
            messages.success(request, _("Custom field %(label)s was added.") % {"label": definition.label})
            return redirect("customers:custom_field_list")
    definitions = CustomFieldDefinition.objects.restrict(user, "view").annotate(value_count=Count("values"))
    return render(
        request,
        "customers/settings/custom_field_list.html",
        {"definitions": definitions.order_by("label"), "form": form},
    )


@require_http_methods(["GET", "POST"])
def custom_field(request, pk):
    user = require(request, CONFIGURE)
    shown = get_object_or_404(CustomFieldDefinition.objects.restrict(user, CONFIGURE_ACTION), pk=pk)
    initial = {"label": shown.label, "description": shown.description, "choices": shown.choices}
    form = CustomFieldForm(request.POST or None, initial=initial)
    if shown.type != CustomFieldDefinition.Type.CHOICE:
        del form.fields["choices"]

    def update(changes):
        return profile.update_custom_field(shown, actor=user, **changes)

    return _edit(request, shown, form, update, "customers:custom_field", "customers:custom_field_list")


def _edit(request, shown, form: forms.Form, update, url_name: str, done_url_name: str):
    """The edit page of one setting: on a valid POST, `update(the changed values)`, then back to the list."""
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        saved = _apply(form, lambda: update(changes))
        if saved is not None:
            messages.success(request, _("Changes to %(name)s were saved.") % {"name": saved})
            return redirect(done_url_name)
    context = {"object": shown, "form": form, "url_name": url_name, "kind": shown._meta.verbose_name}
    return render(request, "customers/settings/setting_form.html", context)


def _group(user, pk: int | None) -> TagGroup | None:
    return None if pk is None else TagGroup.objects.restrict(user, "view").filter(pk=pk).first()
