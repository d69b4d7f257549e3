"""The words of the resident's usual values and trend charts, in the language shown: "Usual: 37.0 °C" /
"Habituel : 37,0 °C" next to today's value, the charts' titles, scales and legend, the empty history."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from mobile.i18n import tr
from mobile.screens.texts import UNIT_SYMBOLS, number, value_line

TEMPERATURE, SPO2, PULSE, SYSTOLIC, DIASTOLIC, RESPIRATION = \
    "8310-5", "59408-5", "8867-4", "8480-6", "8462-4", "9279-1"
FIELD_CODES = {"temperature": TEMPERATURE, "spo2": SPO2, "pulse_rate": PULSE, "systolic": SYSTOLIC,
               "diastolic": DIASTOLIC}


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


_USUAL = N_("Usual: {value}")
_LEGEND = (N_("this tablet"), N_("another tablet"), N_("abnormal value"), N_("partial"))


def rounded(code: str, value: Decimal) -> Decimal:
    """A usual value as staff read it: temperature to the tenth, the rest to the unit."""
    return value.quantize(Decimal("0.1") if code == TEMPERATURE else Decimal(1), rounding=ROUND_HALF_UP)


def usual_quantity(lang: str, usual) -> str:
    """One usual value with its unit: "37,0 °C", "72 /min", "96 %"."""
    symbol = UNIT_SYMBOLS.get(usual.unit, usual.unit)
    return f"{number(lang, rounded(usual.code, usual.value))}\u00a0{symbol}"


def usual_of_values(lang: str, values, usual) -> str:
    """The usual values of what is on review, as one line ("Usual: 128/80 mmHg · pulse 70/min"); "" when none
    is known. `values` are the proposal's (field, code, value, unit), `usual` code → Usual."""
    usual = usual or {}
    fields = {v.field for v in values or ()}
    parts = []
    if {"systolic", "diastolic"} <= fields and SYSTOLIC in usual and DIASTOLIC in usual:
        parts.append(f"{number(lang, rounded(SYSTOLIC, usual[SYSTOLIC].value))}/"
                     f"{usual_quantity(lang, usual[DIASTOLIC])}")
    if "spo2" in fields and SPO2 in usual:
        parts.append(f"SpO2 {usual_quantity(lang, usual[SPO2])}")
    if "temperature" in fields and TEMPERATURE in usual:
        parts.append(usual_quantity(lang, usual[TEMPERATURE]))
    if "pulse_rate" in fields and PULSE in usual:
        parts.append(f"{tr._('pulse')} {usual_quantity(lang, usual[PULSE])}")
    return tr._(_USUAL).format(value=" · ".join(parts)) if parts else ""


def usual_of_code(lang: str, code: str, usual) -> str:
    """"Usual: 16 /min" for one sign, "" when its usual value is not known."""
    found = (usual or {}).get(code)
    return tr._(_USUAL).format(value=usual_quantity(lang, found)) if found is not None else ""


def today_lines(lang: str, accepted, usual) -> str:
    """The vitals screen's reminder: each device's values accepted today, with the usual ones when known."""
    lines = []
    for values in accepted or ():
        line = value_line(lang, values)
        known = usual_of_values(lang, values, usual)
        lines.append(f"{line}  —  {known}" if known else line)
    return "\n".join(lines)


def chart_title(lang: str, chart) -> str:
    unit = f" ({chart.unit})" if chart.unit else ""
    return f"{tr._(chart.title)}{unit}"


def chart_usual(lang: str, chart, usual) -> str:
    """Under a chart's title: the usual value(s) it shows, "" when none."""
    usual = usual or {}
    if chart.key == "blood_pressure" and "8480-6" in usual and "8462-4" in usual:
        return tr._(_USUAL).format(value=f"{number(lang, rounded(SYSTOLIC, usual[SYSTOLIC].value))}/"
                                         f"{usual_quantity(lang, usual[DIASTOLIC])}")
    code = {"spo2": SPO2, "pulse": PULSE, "temperature": TEMPERATURE}.get(chart.key)
    return usual_of_code(lang, code, usual) if code else ""


def tick_label(lang: str, text: str) -> str:
    return number(lang, text)


def legend(lang: str, which: str) -> str:
    return tr._(dict(zip(("local", "pulled", "abnormal", "partial"), _LEGEND))[which])


def empty_history(lang: str) -> str:
    return tr._("No history yet")


def empty_chart(lang: str) -> str:
    return tr._("No reading in the last 90 days")


def history_title(lang: str) -> str:
    return tr._("History of the last 90 days")
