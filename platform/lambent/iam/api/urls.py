from django.urls import path

from lambent.iam.api import views

urlpatterns = [
    path("iam/policies", views.PoliciesView.as_view(), name="iam-policies"),
    path("iam/policies/<str:name>", views.PolicyView.as_view(), name="iam-policy"),
    path("iam/managed-policies", views.ManagedPoliciesView.as_view(), name="iam-managed-policies"),
    path("iam/groups", views.GroupsView.as_view(), name="iam-groups"),
    path("iam/groups/<str:name>", views.GroupView.as_view(), name="iam-group"),
    path("iam/groups/<str:name>/members/<str:username>", views.GroupMemberView.as_view(), name="iam-group-member"),
    path("iam/groups/<str:name>/policies/<str:policy_name>", views.GroupPolicyView.as_view(),
         name="iam-group-policy"),
    path("iam/users", views.UsersView.as_view(), name="iam-users"),
    path("iam/users/<str:username>", views.UserView.as_view(), name="iam-user"),
    path("iam/users/<str:username>/policies/<str:policy_name>", views.UserPolicyView.as_view(),
         name="iam-user-policy"),
    path("iam/simulate", views.SimulateView.as_view(), name="iam-simulate"),
]
