"""The survey page a customer reaches from the link in their message. The link is signed (a tampered or
made-up one finds nothing), expires, and takes one answer."""

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_protect

from guanxi.service import actions
from guanxi.service.forms import SurveyAnswerForm


@login_not_required
@csrf_protect
def survey(request, token: str):
    found = actions.survey_for_token(token)
    if found is None:
        return render(request, "service/survey.html", {"state": "invalid"}, status=404)
    if found.answered_at is not None:
        return render(request, "service/survey.html", {"state": "answered", "survey": found}, status=409)
    if found.expires_at <= timezone.now():
        return render(request, "service/survey.html", {"state": "expired", "survey": found}, status=410)
    form = SurveyAnswerForm(request.POST or None, kind=found.kind)
    if request.method == "POST" and form.is_valid():
        try:
            actions.answer_survey(
                found, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"]
            )
        except actions.SurveyClosedError:
            return render(request, "service/survey.html", {"state": "answered", "survey": found}, status=409)
        return render(request, "service/survey.html", {"state": "thanks", "survey": found})
    return render(request, "service/survey.html", {"state": "open", "survey": found, "form": form})
