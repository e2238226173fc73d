"""Webhook endpoints, mounted at /webhooks/ (signature-authenticated; see guanxi.commerce.webhooks)."""

from django.urls import path

from guanxi.commerce import webhooks

app_name = "webhooks"
urlpatterns = [
    path("shopify/<str:source>", webhooks.shopify, name="shopify"),
    path("woocommerce/<str:source>", webhooks.woocommerce, name="woocommerce"),
    path("health", webhooks.health, name="health"),
]
