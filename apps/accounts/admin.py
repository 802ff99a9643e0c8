from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count

from apps.accounts.models import APIToken, Invitation, Membership, Project, User, WorkTeam


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "project"
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["added_by", "created_at"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "personas", "is_active", "is_superuser", "last_login", "date_joined"]
    list_filter = ["is_active", "is_superuser", "groups"]
    search_fields = ["username", "email", "first_name", "last_name"]

    @admin.display(description="Personas")
    def personas(self, obj: User) -> str:
        return ", ".join(obj.persona_labels)

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).prefetch_related("groups")


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_by", "created_at", "member_count"]
    search_fields = ["name", "slug", "description"]
    list_filter = ["created_at"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    list_select_related = ["created_by"]

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).annotate(member_total=Count("memberships", distinct=True))

    @admin.display(description="Members", ordering="member_total")
    def member_count(self, obj: Project) -> int:
        return obj.member_total  # type: ignore[attr-defined]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "added_by", "created_at"]
    list_select_related = ["project", "user", "added_by"]
    list_filter = ["project"]
    search_fields = ["project__name", "user__username"]
    autocomplete_fields = ["project", "user"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "project", "state", "created_by", "created_at", "expires_at", "accepted_by"]
    list_select_related = ["project", "created_by", "accepted_by"]
    list_filter = ["project", "created_at", "expires_at"]
    search_fields = ["email"]
    readonly_fields = ["token_hash", "accepted_at", "accepted_by", "created_at", "created_by"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False  # invitations are created in the UI, which shows the link once


@admin.register(WorkTeam)
class WorkTeamAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "description", "members__username"]
    filter_horizontal = ["members"]


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at", "created_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False  # keys are created by their owner (UI, API or create_api_token) and shown once
