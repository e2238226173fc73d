"""What the core writes as codes: refusals and exports in the audit log, and the kinds of objects
an entry may name that are no model (`guanxi.core.display`)."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase

REQUEST_REFUSED = Phrase("core.request_refused", _("Refused: %(method)s %(path)s"))
OBJECT_REFUSED = Phrase("core.object_refused", _("Refused: %(method)s %(path)s (needs %(permission)s)"))
GAVE_UP = Phrase("core.job_gave_up", _("The worker stopped responding %(attempts)d times; given up"))
EXPORTED = Phrase("core.exported", _("%(format)s file of %(rows)d rows"), labels={"format": str.upper})

# Object kinds that are no model: audit.object_type_label shows "object.<kind>".
Phrase("object.permission", _("Permission"))
Phrase("object.table", _("Table"))
