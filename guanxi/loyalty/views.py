"""Loyalty pages: the overview (liability, tier distribution, movements), a programme's settings and
earn rule versions, its tier ladder, members with their ledger, and coupon templates with their pools."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.accounts.models import BusinessUnit
from guanxi.core.access import require
from guanxi.customers.identities import normalise_phone
from guanxi.customers.models import Customer, Identity
from guanxi.loyalty import actions, fetch, jobs, referrals
from guanxi.loyalty.forms import (
    AdjustForm,
    CouponTemplateForm,
    EarnRuleForm,
    GenerateForm,
    IssueForm,
    ProgrammeCreateForm,
    ProgrammeForm,
    RedeemForm,
    ReferralForm,
    TierForm,
    attach,
)
from guanxi.loyalty.ledger import LedgerError
from guanxi.loyalty.models import CouponCode, CouponTemplate, EarnRule, Membership, Movement, Referral, Tier

PAGE_SIZE = 50


def _tab(request, tab: str, context: dict) -> dict:
    return {"tab": tab, **context}


def home(request):
    require(request, "loyalty.view")
    user = request.user
    progs = list(fetch.programmes(user))
    liability = fetch.liability(user)
    distribution = fetch.tier_distribution(user)
    create_form = None
    if user.has_permission("loyalty.add"):
        free_units = (
            BusinessUnit.objects.restrict(user, "view")
            .filter(loyalty_programme__isnull=True)
            .order_by("name")
        )
        if free_units:
            create_form = ProgrammeCreateForm(request.POST or None)
            create_form.fields["unit"].choices = [(u.pk, u.name) for u in free_units]  # type: ignore[attr-defined]
            if request.method == "POST" and create_form.is_valid():
                unit = free_units.filter(pk=create_form.cleaned_data["unit"]).first()
                try:
                    programme = actions.create_programme(
                        unit=unit, name=create_form.cleaned_data["name"], actor=user
                    )
                except ValidationError as error:
                    attach(create_form, error)
                else:
                    messages.success(request, _("Programme created with the default tier ladder."))
                    return redirect("loyalty:programme", programme.pk)
    charts = {
        f"tiers-{programme.pk}": {
            "kind": "columns",
            "labels": [tier.name for tier, _n in ladder],
            "values": [n for _t, n in ladder],
            "series_label": _("Members"),
        }
        for programme, ladder in distribution
    } | {
        f"liability-{report.programme.pk}": {
            "kind": "columns",
            "labels": [month for month, _p, _v in report.by_month],
            "values": [points for _m, points, _v in report.by_month],
            "series_label": _("Points expiring"),
        }
        for report in liability
        if report.by_month
    }
    return render(
        request,
        "loyalty/home.html",
        _tab(
            request,
            "home",
            {
                "programmes": progs,
                "liability": liability,
                "distribution": distribution,
                "movements": fetch.movement_totals(user)[:24],
                "create_form": create_form,
                "charts": charts,
            },
        ),
    )


def programme(request, pk: int):
    require(request, "loyalty.view")
    prog = fetch.programme_by_id(request.user, pk)
    form = ProgrammeForm(instance=prog)
    status = 200
    if request.method == "POST":
        require(request, "loyalty.change", unit=prog.unit)
        form = ProgrammeForm(request.POST, instance=fetch.programme_by_id(request.user, pk, "change"))
        if form.is_valid():
            values = {name: form.cleaned_data[name] for name in form.Meta.fields}
            try:
                actions.update_programme(prog, actor=request.user, **values)
            except ValidationError as error:
                attach(form, error)
            else:
                messages.success(request, _("Programme settings saved."))
                return redirect("loyalty:programme", pk)
        status = 422
    return _programme_page(request, prog, form, None, status)


def _programme_page(request, prog, form, rule_form, status: int):
    rules = list(
        EarnRule.objects.restrict(request.user, "view").filter(programme=prog).order_by("-effective_from")
    )
    now = timezone.now()
    current = next((rule for rule in rules if rule.effective_from <= now), None)
    if rule_form is None:
        rule_form = EarnRuleForm(instance=current) if current else EarnRuleForm()
    return render(
        request,
        "loyalty/programme.html",
        _tab(
            request,
            "programmes",
            {
                "programme": prog,
                "form": form,
                "rules": rules,
                "current": current,
                "rule_form": rule_form,
                "may_change": request.user.has_permission("loyalty.change"),
            },
        ),
        status=status,
    )


@require_POST
def programme_rule(request, pk: int):
    require(request, "loyalty.change")
    prog = fetch.programme_by_id(request.user, pk, "change")
    form = EarnRuleForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        effective_from = data.pop("effective_from", None)
        try:
            actions.add_rule_version(prog, actor=request.user, effective_from=effective_from, **data)
        except ValidationError as error:
            attach(form, error)
        else:
            messages.success(request, _("A new version of the earn rule was added."))
            return redirect("loyalty:programme", pk)
    return _programme_page(request, prog, ProgrammeForm(instance=prog), form, 422)


def tiers(request, pk: int):
    require(request, "loyalty.view")
    prog = fetch.programme_by_id(request.user, pk)
    ladder = list(Tier.objects.restrict(request.user, "view").filter(programme=prog).order_by("rank"))
    forms = {tier.rank: TierForm(instance=tier, programme=prog, prefix=f"t{tier.rank}") for tier in ladder}
    status = 200
    if request.method == "POST":
        require(request, "loyalty.change", unit=prog.unit)
        prog = fetch.programme_by_id(request.user, pk, "change")
        rank = int(request.POST.get("rank", "-1") or -1)
        tier = next((t for t in ladder if t.rank == rank), None)
        if tier is None and rank == len(ladder):
            tier = Tier(programme=prog, rank=rank)
        if tier is not None:
            form = TierForm(request.POST, instance=tier, programme=prog, prefix=f"t{rank}")
            if form.is_valid():
                values = {name: form.cleaned_data[name] for name in form.Meta.fields}
                try:
                    actions.save_tier(prog, actor=request.user, rank=rank, **values)
                except ValidationError as error:
                    attach(form, error)
                else:
                    messages.success(request, _("Tier saved."))
                    return redirect("loyalty:tiers", pk)
            forms[rank] = form
            status = 422
    new_rank = len(ladder)
    new_form = forms.get(new_rank) or TierForm(programme=prog, prefix=f"t{new_rank}")
    return render(
        request,
        "loyalty/tiers.html",
        _tab(
            request,
            "programmes",
            {
                "programme": prog,
                "rows": [(tier, forms[tier.rank]) for tier in ladder],
                "new_rank": new_rank,
                "new_form": new_form,
                "may_change": request.user.has_permission("loyalty.change"),
            },
        ),
        status=status,
    )


def members(request):
    require(request, "loyalty.view")
    filters = {name: request.GET.get(name, "") for name in ("programme", "tier", "min_points", "max_points")}
    rows = fetch.members(request.user, filters)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    progs = list(fetch.programmes(request.user))
    ladder = (
        Tier.objects.restrict(request.user, "view")
        .select_related("programme")
        .order_by("programme__name", "rank")
    )
    return render(
        request,
        "loyalty/members.html",
        _tab(request, "members", {"page": page, "filters": filters, "programmes": progs, "tiers": ladder}),
    )


def member(request, pk: int):
    require(request, "loyalty.view")
    membership = fetch.membership_by_id(request.user, pk)
    view = fetch.member_view(membership, request.user, limit=200)
    may_change = request.user.has_permission("loyalty.change")
    return render(
        request,
        "loyalty/member.html",
        _tab(
            request,
            "members",
            {
                "view": view,
                "membership": membership,
                "adjust_form": AdjustForm(prefix="adjust") if may_change else None,
                "redeem_form": RedeemForm(prefix="redeem") if may_change else None,
                "referral_form": ReferralForm(prefix="referral") if may_change else None,
                "may_change": may_change,
                "kinds": Movement.Kind,
                # Drawn the first time a member's page is opened; the same code ever after.
                "referral_code": referrals.code_of(membership),
                "referred": Referral.objects.restrict(request.user, "view")
                .filter(programme=membership.programme, referrer=membership.customer)
                .values_list("state", flat=True),
            },
        ),
    )


@require_POST
def member_adjust(request, pk: int):
    require(request, "loyalty.change")
    membership = fetch.membership_by_id(request.user, pk, "change")
    form = AdjustForm(request.POST, prefix="adjust")
    if form.is_valid():
        try:
            actions.adjust_points(
                membership.programme,
                membership.customer,
                form.cleaned_data["points"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Points adjusted."))
    else:
        messages.error(request, _("Give a number of points and a reason."))
    return redirect("loyalty:member", pk)


@require_POST
def member_redeem(request, pk: int):
    require(request, "loyalty.change")
    membership = fetch.membership_by_id(request.user, pk, "change")
    form = RedeemForm(request.POST, prefix="redeem")
    if form.is_valid():
        try:
            actions.redeem_points(
                membership.programme,
                membership.customer,
                form.cleaned_data["points"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except (ValidationError, LedgerError) as error:
            messages.error(
                request,
                _("Not enough points.") if isinstance(error, LedgerError) else " ".join(error.messages),
            )
        else:
            messages.success(request, _("Points redeemed."))
    else:
        messages.error(request, _("Give a positive number of points."))
    return redirect("loyalty:member", pk)


@require_POST
def member_referral(request, pk: int):
    """Record a friend who came with this member's referral code."""
    require(request, "loyalty.change")
    membership = fetch.membership_by_id(request.user, pk, "change")
    form = ReferralForm(request.POST, prefix="referral")
    if not form.is_valid():
        messages.error(request, _("Give the friend's phone or customer number."))
        return redirect("loyalty:member", pk)
    friend = _customer_by_phone_or_number(request.user, form.cleaned_data["referee"])
    if friend is None:
        messages.error(request, _("No such customer, or you may not see them."))
        return redirect("loyalty:member", pk)
    try:
        actions.record_referral(
            membership.programme,
            friend,
            referrals.code_of(membership),
            device=form.cleaned_data["device"],
            actor=request.user,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Referral recorded: both are rewarded on the friend's first paid order."))
    return redirect("loyalty:member", pk)


def _customer_by_phone_or_number(user, given: str) -> Customer | None:
    """A customer the user may see, by a mobile number (as identities store it) or else by their
    number; a customer number is never a valid mobile number, so the two cannot be confused."""
    visible = Customer.objects.restrict(user, "view")
    phone = normalise_phone(given)
    if phone is not None:
        return visible.filter(identities__kind=Identity.Kind.PHONE, identities__value=phone).first()
    given = given.strip()
    return visible.filter(pk=int(given)).first() if given.isdigit() and len(given) <= 18 else None


def coupons(request):
    require(request, "loyalty.view")
    progs = list(fetch.programmes(request.user, "add")) if request.user.has_permission("loyalty.add") else []
    form = CouponTemplateForm(request.POST or None)
    if request.method == "POST":
        require(request, "loyalty.add")
        prog = next((p for p in progs if str(p.pk) == request.POST.get("programme")), None)
        if prog is None:
            form.add_error(None, _("Choose a programme."))
        elif form.is_valid():
            values = {name: form.cleaned_data[name] for name in form.Meta.fields}
            try:
                template = actions.save_coupon_template(prog, actor=request.user, **values)
            except ValidationError as error:
                attach(form, error)
            else:
                messages.success(request, _("Coupon template saved."))
                return redirect("loyalty:coupon", template.pk)
    return render(
        request,
        "loyalty/coupons.html",
        _tab(
            request,
            "coupons",
            {"report": fetch.coupon_report(request.user), "form": form, "programmes": progs},
        ),
        status=422 if request.method == "POST" else 200,
    )


def coupon(request, pk: int):
    require(request, "loyalty.view")
    template = fetch.template_by_id(request.user, pk)
    codes = (
        CouponCode.objects.restrict(request.user, "view").filter(template=template).select_related("order")
    )
    state = request.GET.get("state", "")
    if state in CouponCode.State.values:
        codes = codes.filter(state=state)
    page = Paginator(codes.order_by("-issued_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    report = next(
        (row for row in fetch.coupon_report(request.user) if row["template"].pk == template.pk), None
    )
    may_change = request.user.has_permission("loyalty.change")
    return render(
        request,
        "loyalty/coupon.html",
        _tab(
            request,
            "coupons",
            {
                "template": template,
                "page": page,
                "report": report,
                "state": state,
                "states": CouponCode.State.choices,
                "generate_form": GenerateForm(prefix="generate") if may_change else None,
                "issue_form": IssueForm(prefix="issue") if may_change else None,
                "kinds": CouponTemplate.Kind,
            },
        ),
    )


@require_POST
def coupon_generate(request, pk: int):
    require(request, "loyalty.change")
    template = fetch.template_by_id(request.user, pk, "change")
    form = GenerateForm(request.POST, prefix="generate")
    if form.is_valid():
        written = actions.generate_coupon_codes(template, form.cleaned_data["count"], actor=request.user)
        messages.success(request, _("%(count)d codes generated.") % {"count": written})
    else:
        messages.error(request, _("Generate between 1 and 5,000,000 codes at a time."))
    return redirect("loyalty:coupon", pk)


@require_POST
def coupon_issue(request, pk: int):
    require(request, "loyalty.change")
    template = fetch.template_by_id(request.user, pk, "change")
    form = IssueForm(request.POST, prefix="issue")
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("loyalty:coupon", pk)
    visible = list(
        Membership.objects.restrict(request.user, "view")
        .filter(programme=template.programme, customer_id__in=form.cleaned_data["customers"])
        .values_list("customer_id", flat=True)
    )
    if not visible:
        messages.error(request, _("None of these customers is a member of the programme."))
        return redirect("loyalty:coupon", pk)
    job = jobs.start_issue(template, sorted(visible), actor=request.user)
    messages.success(
        request, _("Issuing %(count)d coupons as job #%(job)d.") % {"count": len(visible), "job": job.pk}
    )
    return redirect("loyalty:coupon", pk)
