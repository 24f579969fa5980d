import factory

from analytics.models import IvigStart, PublishedStudy


class PublishedStudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PublishedStudy

    study = factory.Sequence(lambda n: f"Author{n}")
    year = 2010
    country = "Canada"
    design = "non-randomized controlled"
    events_treated = 20
    total_treated = 25
    events_control = 10
    total_control = 25
    nk_selection = False
    ivig_start = IvigStart.AFTER_PREGNANCY_CONFIRMED
