"""Review the proposed value (large), its warnings and source; save it or measure again."""
from __future__ import annotations


from mobile.screens.widgets import ModelScreen, load_kv


class ReviewScreen(ModelScreen):
    """Bound to mobile.screens.viewmodels.measure.ReviewModel; everything else is in review.kv."""


load_kv("review.kv")
