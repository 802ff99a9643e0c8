from __future__ import annotations

import factory

from apps.accounts.models import Project, User
from apps.accounts.services import membership_add, user_set_personas


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def personas(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create and extracted:
            user_set_personas(user=self, personas=extracted)

    @factory.post_generation
    def projects(self, create: bool, extracted: list[Project] | None, **kwargs: object) -> None:
        if create and extracted:
            for project in extracted:
                membership_add(project=project, user=self)
