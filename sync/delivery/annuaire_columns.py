"""The column names of the public Annuaire Santé MSSanté extraction (`Extraction_Correspondance_MSSante*.txt`,
data.gouv.fr dataset "extraction-correspondance-mssante"), as its header line spells them and as public tools read
them (cardio75/adressesmssante, `creer_bd_mssante.py`). sync.delivery.annuaire reads the columns by these names,
never by position; they are data of the file, kept apart from the code's words.
"""
from __future__ import annotations

COL_TYPE = "Type de BAL"
COL_ADDRESS = "Adresse BAL"
COL_ID_TYPE = "Type Identifiant PP"
COL_ID = "Identifiant PP"
COL_NATIONAL_ID = "Identification nationale PP"
COL_FAMILY = "Nom d'exercice"
COL_GIVEN = "Prénom d'exercice"
COL_PROFESSION = "Libellé Profession"
COL_SPECIALTY = "Libellé savoir-faire"
COL_ORGANISATION = "Raison Sociale structure BAL"
COL_BRAND = "Enseigne commerciale structure BAL"
ADDRESS_COLUMNS = ("L2COMPLEMENTLOCALISATION structure BAL", "L3COMPLEMENTDISTRIBUTION structure BAL",
                   ("L4NUMEROVOIE structure BAL", "L4COMPLEMENTNUMEROVOIE structure BAL", "NL4TYPEVOIE structure BAL",
                    "L4LIBELLEVOIE structure BAL"), "L5LIEUDITMENTION structure BAL")
COL_DELIVERY_LINE = "L6LIGNEACHEMINEMENT structure BAL"
COL_POSTAL_CODE = "Code postal structure BAL"
