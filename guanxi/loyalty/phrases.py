"""What loyalty stores as codes, put into words when shown (guanxi.core.display): its audit messages."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase

PROGRAMME_CREATED = Phrase("loyalty.programme_created", _("Programme created with the default tier ladder"))
PROGRAMME_CHANGED = Phrase("loyalty.programme_changed", _("Programme settings changed"))
RULE_VERSION_ADDED = Phrase(
    "loyalty.rule_version_added", _("Earn rule version from %(effective_from)s: %(rate)s points per yuan")
)
TIER_SAVED = Phrase("loyalty.tier_saved", _("Tier “%(tier)s” saved"))
POINTS_ADJUSTED = Phrase("loyalty.points_adjusted", _("%(points)+d points adjusted: %(reason)s"))
POINTS_REDEEMED = Phrase("loyalty.points_redeemed", _("%(points)d points redeemed"))
POINTS_EXPIRED = Phrase("loyalty.points_expired", _("%(points)d points of %(members)d members expired"))
COUPON_TEMPLATE_SAVED = Phrase("loyalty.coupon_template_saved", _("Coupon template saved"))
CODES_GENERATED = Phrase("loyalty.codes_generated", _("%(count)d coupon codes generated"))
COUPONS_ISSUED = Phrase("loyalty.coupons_issued", _("%(count)d coupons issued"))
MEMBER_ENROLLED = Phrase("loyalty.member_enrolled", _("Enrolled in the loyalty programme"))
REFERRAL_RECORDED = Phrase("loyalty.referral_recorded", _("Joined on the referral of customer %(referrer)s"))
