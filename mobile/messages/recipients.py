"""What the report's delivery codes say to staff: the Mon espace santé question left unanswered at consent, no
recipient choice on the summary, the PDF copy not ready yet (mobile.workflow.session_start, .recipients). English
templates, translated through the catalogs like every other message."""
from __future__ import annotations

from mobile.messages.workflow import N_

RECIPIENT_MESSAGES: dict[str, str] = {
    "session.mes_answer_missing": N_("Say whether the patient objects to a copy in their Mon espace santé mailbox."),
    "summary.gp_choice_missing": N_(
        "Choose the patient's own doctor in the directory, type their address, or tick \"No known doctor\"."),
    "report.pdf_not_ready": N_("The PDF of the report is not ready yet: try again in a moment."),
}
