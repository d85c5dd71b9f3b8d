"""Team and sign-in security pages (mounted at /account/, namespace "account")."""

from django.urls import URLPattern, path

from accounts import views_security, views_team

urlpatterns: list[URLPattern] = [
    path("team/", views_team.team, name="team"),
    path("team/invite/", views_team.invite, name="invite"),
    path("team/invitations/<int:invitation_id>/cancel/", views_team.invitation_cancel, name="invitation_cancel"),
    path("team/members/<int:membership_id>/role/", views_team.member_role, name="member_role"),
    path("team/members/<int:membership_id>/remove/", views_team.member_remove, name="member_remove"),
    path("team/two-factor/", views_team.team_two_factor, name="team_two_factor"),
    path("activity/", views_team.activity, name="activity"),
    path("invitations/<str:token>/", views_team.invitation_accept, name="invitation_accept"),
    path("security/", views_security.security, name="security"),
    path("security/password/", views_security.password, name="password"),
    path("security/two-factor/enrol/", views_security.two_factor_enrol, name="two_factor_enrol"),
    path("security/two-factor/disable/", views_security.two_factor_disable, name="two_factor_disable"),
    path("security/two-factor/recovery-codes/", views_security.recovery_codes, name="recovery_codes"),
    path("two-factor/", views_security.two_factor_verify, name="two_factor_verify"),
]
