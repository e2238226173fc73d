"""What accounts writes in the audit log, as codes put into words when shown (guanxi.core.display)."""

from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import ApiToken
from guanxi.accounts.roles import Role
from guanxi.core.display import Phrase

SIGN_IN_AS = Phrase("accounts.sign_in_as", _("Username %(username)s"))
WRONG_CODE = Phrase("accounts.wrong_code", _("Wrong one-time code"))
CODE_THROTTLED = Phrase("accounts.code_throttled", _("Too many one-time codes tried"))
USER_CREATED = Phrase("accounts.user_created", _("Role: %(role)s"), labels={"role": Role})
TOKEN_CREATED = Phrase("accounts.token_created", _("Scope: %(scope)s"), labels={"scope": ApiToken.Scope})
UNIT_CREATED = Phrase("accounts.unit_created", _("Business unit %(code)s, time zone %(time_zone)s"))
