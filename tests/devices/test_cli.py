"""The `python -m devices decode` contract, run as a real subprocess."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "devices", *args], capture_output=True, text=True, timeout=60)


def test_decode_well_formed():
    out = run("decode", "2A1C", "06B00E00FEDC070C050B321B04")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["observations"] == [{"field": "temperature", "code": "8310-5", "value": "37.60", "unit": "Cel"}]
    assert doc["timestamp"] == "2012-12-05T11:50:27"
    assert doc["invalid"] == [] and doc["status"] == []


def test_decode_special_value_is_invalid_not_a_number():
    doc = json.loads(run("decode", "2A1C", "00FFFF7F00").stdout)
    assert doc["observations"] == []
    assert doc["invalid"] == [{"field": "temperature", "reason": "NaN"}]


@pytest.mark.parametrize("args", [("2A1C", "06B00E00FE"), ("2A1C", "zz"), ("2A1C", ""), ("9999", "00")])
def test_decode_malformed_exits_2_with_one_line_reason(args):
    out = run("decode", *args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip() and "\n" not in out.stderr.strip()


def test_read_simulated_thermometer_through_bleak():
    out = run("read", "thermometer", "--simulated", "--in-process")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["observations"][0]["value"] == "37.60"
    assert doc["device"]["serial"] == "SIM-0001"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_simulate_serves_devices_to_another_process():
    port = str(free_port())
    sim = subprocess.Popen([sys.executable, "-m", "devices", "simulate", "--scenario", "fever", "--duration", "60",
                            "--hci-port", port], stdout=subprocess.PIPE, text=True)
    try:
        banner = [sim.stdout.readline() for _ in range(2)]
        assert "thermometer" in banner[0] and "scenario=fever" in banner[0]
        for _ in range(2):  # reads can follow one another on the same virtual air
            out = run("read", "thermometer", "--simulated", "--hci-port", port)
            assert out.returncode == 0, out.stderr
            assert "using the simulated devices served" in out.stderr
            assert json.loads(out.stdout)["observations"][0]["value"] == "39.20"
    finally:
        sim.terminate()
        sim.wait(10)


def test_simulate_lists_scenarios():
    out = run("simulate", "--list")
    assert out.returncode == 0 and "thermometer:" in out.stdout and "disconnect" in out.stdout


def test_read_reports_a_device_error_as_invalid():
    out = run("read", "thermometer", "--simulated", "--in-process", "--scenario", "error")
    assert out.returncode == 0
    assert json.loads(out.stdout)["invalid"] == [{"field": "temperature", "reason": "NaN"}]


def test_read_disconnect_is_a_clear_error():
    out = run("read", "thermometer", "--simulated", "--in-process", "--scenario", "disconnect")
    assert out.returncode == 1 and "error: the thermometer disconnected before the end" in out.stderr


def test_read_real_devices_without_an_adapter_is_a_clear_error():
    out = run("read", "thermometer", "--timeout", "1")
    if out.returncode == 0:
        pytest.skip("this machine has a Bluetooth adapter and a thermometer in range")
    assert out.returncode == 1
    *progress, error = out.stderr.strip().splitlines()
    assert progress == ["… scanning"]    # the state reported while the scan was tried
    assert error.startswith("error: ")


@pytest.mark.parametrize("name,hexstr,field,value", [
    ("2A1E", "00B00E00FE", "temperature", "37.60"),
    ("2A35", "1E8A00580078000000041114293B3C00012700", "systolic", "138"),
    ("2A36", "007800FF07FF07", "cuff_pressure", "120"),
    ("2A5E", "0FACF3BEF5E8070B1D170839204022000066E3", "spo2", "94.0"),
    ("2A5F", "0064005A00", "pulse_rate", "90"),
    ("berrymed", "C532430261", "spo2", "97"),
    ("pc60fw", "AA550F0801614800001900" + "CC", None, None),
])
def test_decode_every_named_format(name, hexstr, field, value):
    if name == "pc60fw":
        from devices.parsers.pc60fw import build_frame
        hexstr = build_frame(0x0F, bytes([0x01, 97, 72, 0, 25, 0, 0])).hex()
        field, value = "spo2", "97"
    out = run("decode", name, hexstr)
    assert out.returncode == 0, out.stderr
    values = {o["field"]: o["value"] for o in json.loads(out.stdout)["observations"]}
    assert values[field] == value


def test_decode_features_and_bad_crc():
    doc = json.loads(run("decode", "2A60", "A3004010800100").stdout)
    assert doc["supported"] == ["meas_status", "dev_sensor_status", "spo2pr_slow", "multiple_bonds"]
    out = run("decode", "pc60fw", "AA550F080161480000190000")
    assert out.returncode == 2 and "CRC" in out.stderr
