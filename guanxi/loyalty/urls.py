from django.urls import path

from guanxi.loyalty import views

app_name = "loyalty"
urlpatterns = [
    path("", views.home, name="home"),
    path("programmes/<int:pk>/", views.programme, name="programme"),
    path("programmes/<int:pk>/rules/", views.programme_rule, name="programme_rule"),
    path("programmes/<int:pk>/tiers/", views.tiers, name="tiers"),
    path("members/", views.members, name="members"),
    path("members/<int:pk>/", views.member, name="member"),
    path("members/<int:pk>/adjust/", views.member_adjust, name="member_adjust"),
    path("members/<int:pk>/redeem/", views.member_redeem, name="member_redeem"),
    path("members/<int:pk>/referral/", views.member_referral, name="member_referral"),
    path("coupons/", views.coupons, name="coupons"),
    path("coupons/<int:pk>/", views.coupon, name="coupon"),
    path("coupons/<int:pk>/codes/", views.coupon_generate, name="coupon_generate"),
    path("coupons/<int:pk>/issue/", views.coupon_issue, name="coupon_issue"),
]
