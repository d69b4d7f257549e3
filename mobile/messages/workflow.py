"""What the session workflow's codes say to staff (WorkflowError, state.notice, proposal warnings, vital-sign checks):
English templates with named parameters, translated through the catalogs (msgids; ``N_`` marks them for
extraction). A ``kind`` parameter (a device kind) also fills ``{device}`` and ``{of_device}``."""
from __future__ import annotations


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


DEVICE_NAMES = {"thermometer": N_("the thermometer"), "blood_pressure": N_("the blood pressure monitor"),
                "oximeter": N_("the oximeter")}
OF_DEVICE = {"thermometer": N_("of the thermometer"), "blood_pressure": N_("of the blood pressure monitor"),
             "oximeter": N_("of the oximeter")}

WORKFLOW_MESSAGES: dict[str, str] = {
    # who may act
    "auth.sign_in_first": N_("Sign in first."),
    "auth.admin_only": N_("For the tablet's administrators only."),
    "signin.choose_name_first": N_("Choose your name first."),
    "signin.pin_wrong": N_("Wrong PIN."),
    "signin.locked_out.seconds": N_("Too many wrong PINs: account locked, try again in {n} s."),
    "signin.locked_out.minutes": N_("Too many wrong PINs: account locked, try again in {n} min."),
    "site.first_account_missing": N_("Give your name and choose a PIN (6 to 8 digits)."),
    "site.not_set_up": N_("This tablet's site is not set up yet."),
    # patient and session start
    "patient.probable_duplicate": N_("This person may already exist: check the list before creating a new identity."),
    "patient.identity_status.insi_only": N_(
        "“Retrieved” and “Qualified” identities come from the INSi teleservice, which this tablet cannot reach: "
        "choose “Provisional”, or “Validated” after checking an identity document."),
    "patient.ins.insi_only": N_(
        "The INS is not typed on the tablet: it comes from the INSi teleservice with a qualified identity."),
    "patient.identity_document.missing": N_(
        "“Validated” needs the identity document you checked: choose it in the list, or keep “Provisional”."),
    "patient.identity_document.not_here": N_(
        "This document does not validate an identity here: choose an identity card, a passport or a residence "
        "permit."),
    "patient.identity_document.provisional": N_(
        "A provisional identity has no checked document: choose “Validated” or remove the document."),
    "patient.birth_date.format": N_("Date of birth: type it as dd/mm/yyyy, for example 07/03/1941."),
    "patient.birth_date.impossible": N_("This date of birth does not exist: check the day and the month."),
    "session.choose_patient_first": N_("Choose the patient first."),
    "session.consent_already_recorded": N_("Consent for this session is already recorded."),
    "session.consent_missing": N_("Say whether consent is given or refused."),
    "session.consent_grantor_name_missing": N_("Give the name of the person who consents for the patient."),
    "session.reason_missing": N_("Give the reason for the teleconsultation."),
    "session.room_checks_missing": N_("Tick the three room checks before starting."),
    "session.consent_refused": N_("Consent refused: the session ends without a teleconsultation. The refusal is recorded."),
    "session.abandoned": N_("Session abandoned: nothing will be sent."),
    "session.finish_or_abandon_first": N_("Finish or abandon the current session first."),
    "session.finish_measurements_first": N_("Finish the measurements first."),
    "session.finish_call_first": N_("Finish the teleconsultation first."),
    "session.no_longer_open": N_("This session is no longer open: it was closed or abandoned."),
    # measuring
    "measure.consent_first": N_("Record the consent and check the room first."),
    "measure.no_device": N_("No device of this kind is set up ({kind})."),
    "measure.unreachable_or_manual": N_("Measurement impossible: {reason}. Check that {device} is on and close by, then measure again, or enter the value by hand."),
    "measure.not_found": N_("No device found after {seconds} s: check that {device} is on and close by, then measure again, or enter the values by hand."),
    "measure.gave_up": N_("Stopped after {seconds} s — {reason}."),
    "measure.cancelled": N_("Measurement cancelled: nothing was recorded."),
    "measure.unexpected_error": N_("Measurement impossible: unexpected error. Try again, or enter the value by hand."),
    "measure.cuff_error": N_("The blood pressure monitor reports a measurement error (cuff badly placed, movement or low battery): no valid value, measure again."),
    "measure.device_reported_error": N_("The device reports a measurement error."),
    "measure.invalid": N_("Device error: invalid measurement. Measure again."),
    "measure.invalid.nan": N_("Device error: {device} reports an invalid measurement. Measure again."),
    "measure.invalid.nres": N_("Device error: value outside the measuring range {of_device}. Measure again."),
    "measure.invalid.above_range": N_("Device error: value above the range {of_device}. Measure again."),
    "measure.invalid.below_range": N_("Device error: value below the range {of_device}. Measure again."),
    "measure.invalid.reserved": N_("Device error: reserved value received: faulty device. Measure again."),
    "measure.manual.format": N_("Type a temperature such as 37.6."),
    "measure.manual.precision": N_("Type a temperature such as 37.6 (two decimals at most)."),
    "measure.manual.spo2": N_("SpO2: type a whole number of %, such as 97."),
    "measure.manual.pulse_rate": N_("Pulse: type a whole number of beats per minute, such as 72, or leave it empty."),
    "measure.manual.systolic": N_("Systolic pressure: type a whole number of mmHg, such as 128."),
    "measure.manual.diastolic": N_("Diastolic pressure: type a whole number of mmHg, such as 82."),
    "measure.nothing_to_confirm": N_("No measurement to confirm."),
    "measure.other_session": N_("This measurement belongs to another session: measure again."),
    "measure.nothing_to_save": N_("No measurement to save."),
    "device.serves_another_session": N_("This device already serves another open session on this tablet: finish it or use another device."),
    "device.battery_low": N_("Low battery: change the device's batteries after this measurement."),
    "device.status.body_movement": N_("Movement during the measurement: measure again at rest."),
    "device.status.cuff_too_loose": N_("Cuff too loose: adjust it and measure again."),
    "device.status.irregular_pulse": N_("Irregular pulse detected by the blood pressure monitor."),
    "device.status.improper_position": N_("Incorrect measuring position (arm at heart level)."),
    "device.status.questionable": N_("Questionable measurement according to the oximeter: check it and measure again if needed."),
    "device.status.early_estimated": N_("Provisional value from the oximeter."),
    "device.status.low_perfusion": N_("Low perfusion: warm the hand or change finger."),
    "device.status.poor_signal": N_("Weak signal: check the sensor's position."),
    "device.status.erratic_signal": N_("Unstable signal: keep the hand still."),
    # vital signs, decided by the clinical rules (sync.clinical.rules): refusals, values to confirm, alerts
    "vital.implausible.fahrenheit": N_("The value is probably in degrees Fahrenheit: check the device and measure again."),
    "vital.implausible.temperature": N_("Not a plausible body temperature: measure again."),
    "vital.implausible.spo2": N_("Implausible SpO2: check the sensor's position and measure again."),
    "vital.implausible.pulse": N_("Implausible heart rate: measure again."),
    "vital.implausible.systolic": N_("Implausible systolic pressure: check the cuff and measure again."),
    "vital.implausible.diastolic": N_("Implausible diastolic pressure: check the cuff and measure again."),
    "vital.implausible.mean_pressure": N_("Implausible mean arterial pressure: check the cuff and measure again."),
    "vital.implausible.blood_pressure": N_("Implausible blood pressure: check the cuff and measure again."),
    "vital.implausible.respiration_rate": N_("Implausible respiration rate: count again over 60 seconds."),
    "vital.confirm.extreme": N_("Extreme value: confirm it by measuring again."),
    "vital.confirm.spo2_accuracy": N_("SpO2 outside the oximeter's accuracy range (< 70 %): measure again."),
    "vital.confirm.blood_pressure": N_("Value to confirm: measure again after 5 minutes of rest."),
    "alert.temperature.very_high": N_("Very high fever (≥ 40 °C)."),
    "alert.temperature.fever": N_("Fever (≥ 38 °C)."),
    "alert.temperature.low_grade_fever": N_("Low-grade fever in an older person (≥ 37.8 °C)."),
    "alert.temperature.hypothermia": N_("Hypothermia (≤ 35.0 °C)."),
    "alert.temperature.rise_from_baseline": N_("1.1 °C or more above the usual temperature."),
    "alert.spo2.very_low": N_("Very low SpO2 (< 90 %): urgent alert."),
    "alert.spo2.low": N_("Low SpO2 (< 92 %)."),
    "alert.spo2.drop_from_baseline": N_("A drop of 3 points or more from the usual SpO2."),
    "alert.pulse.very_high": N_("Very high heart rate (≥ 131 /min)."),
    "alert.pulse.tachycardia": N_("Tachycardia (> 120 /min)."),
    "alert.pulse.bradycardia": N_("Bradycardia (≤ 40 /min)."),
    "alert.pulse.low": N_("Low heart rate (≤ 50 /min)."),
    "alert.systolic.very_high": N_("Very high systolic pressure (≥ 220 mmHg)."),
    "alert.systolic.hypotension": N_("Hypotension (systolic ≤ 90 mmHg)."),
    "alert.systolic.low": N_("Low systolic pressure (≤ 100 mmHg)."),
    "alert.diastolic.low": N_("Low diastolic (≤ 60 mmHg)."),
    "alert.blood_pressure.severe_hypertension": N_("Severe hypertension (> 180/110 mmHg)."),
    "alert.respiration.very_high": N_("Very high respiration rate (≥ 25 /min)."),
    "alert.respiration.high": N_("High respiration rate (≥ 21 /min)."),
    "alert.respiration.very_low": N_("Very low respiration rate (≤ 8 /min)."),
    "alert.respiration.low": N_("Low respiration rate (≤ 11 /min)."),
    # what staff type by hand
    "vitals.respiration_rate.format": N_("Type the respiration rate in breaths per minute, like 16."),
    "vitals.consciousness.choice": N_("Choose the level of consciousness: A, C, V, P or U."),
    # the call, the summary
    "call.doctor_name_missing": N_("Give the name of the remote doctor."),
    "call.start_first": N_("Start the teleconsultation first (the doctor's name)."),
    "call.already_started": N_("The call has started: ask the doctor during the call."),
    "call.conclusion_missing": N_("Note the doctor's conclusions before finishing."),
    "call.orientation_unknown": N_("Choose an orientation from the list."),
    "call.no_conclusions": N_("No conclusions from the doctor are waiting for this session."),
    "summary.missing": N_("Write the summary for the patient's own doctor before closing."),
    # administration
    "admin.last_administrator": N_("This is the last active administrator: appoint another one first."),
    "admin.own_account": N_("You cannot deactivate your own account."),
    "admin.own_rights": N_("You cannot remove your own administration rights."),
    "admin.retention_range": N_("The retention period must be between {min} and {max} days."),
    # the resident's history
    "history.not_from_here": N_("The history opens from the patient list or from the vitals."),
    # correcting a resident's record
    "patient.edit.not_from_here": N_("A resident's record is corrected from the patient list."),
    "patient.edit.none": N_("No resident's record is open for correction: choose one in the patient list."),
}
