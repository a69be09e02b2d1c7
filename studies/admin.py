from django.contrib import admin

from studies.models import ProposalGridBand


@admin.register(ProposalGridBand)
class ProposalGridBandAdmin(admin.ModelAdmin):
    """The study proposal grid (DESIGN §4): the insurer admin edits the bands; a grade that no
    band covers gets no automatic proposal."""

    list_display = ["min_grade", "max_grade", "factor"]
    ordering = ["-min_grade"]
