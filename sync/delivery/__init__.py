"""The report for the patient's own doctor (médecin traitant) and for the patient, delivered by French secure mail
(MSSanté): the documents frozen at close (PDF/A-1b, CDA R2 "niveau 1" embedding it, IHE XDM archive), the
recipients (a local copy of the Annuaire Santé MSSanté extraction, the patient's Mon espace santé box), the MIME
message frozen as exact bytes in a mail outbox of its own, and the SMTP submission that sends each message once.

Tablet side: it reads the store and never imports the server side (sync.server)."""
