from django.contrib import admin

from apps.core.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "level", "created_at", "read_at"]
    list_filter = ["level", "created_at", "read_at"]
    search_fields = ["title", "body", "user__username"]
