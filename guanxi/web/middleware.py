"""Choosing the interface language: the visitor's choice, else the install's default (Chinese).

Django's LocaleMiddleware would follow the browser's Accept-Language header, which shows an
English page to a merchant whose laptop has an English system. Guanxi is Chinese first: the
language switch (a cookie) decides, then LANGUAGE_CODE. API clients may still ask with
Accept-Language, since they have no language switch.
"""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers

API_PREFIX = "/api/"


class PreferredLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        language = self.chosen_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie", "Accept-Language"))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response

    def chosen_language(self, request) -> str:
        cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "").lower()
        if cookie in self.supported:
            return cookie
        if request.path.startswith(API_PREFIX):
            return translation.get_language_from_request(request)
        return settings.LANGUAGE_CODE
