"""Django's zh-Hans formats, with numbers grouped by thousands with commas (33,927), as Chinese
merchant back offices and our own money and chart figures write them; Django's has no separator."""

from django.conf.locale.zh_Hans.formats import *  # noqa: F403

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
