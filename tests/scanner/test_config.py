"""Settings validation: unknown keys, wrong types, missing files, bad PIN hashes; the example file."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from pathlib import Path

import pytest

from scanner.config import Settings, load_settings, schema_keys, settings_from_dict
from scanner.errors import ConfigError
from scanner.pin import hash_pin
from tests.helpers import REPO

EXAMPLE = REPO / "config.example.toml"


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.path == str(path)
    for line in str(info.value).splitlines():
        assert line.startswith(f"{path}: ")
    return info.value.problems


def test_example_file_validates_and_equals_the_defaults() -> None:
    settings = load_settings(EXAMPLE)
    assert dataclasses.replace(settings, source="<defaults>") == Settings()


def test_every_schema_key_appears_in_the_example_with_its_default() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    defaults = Settings()
    missing = []
    for key in schema_keys():
        section, name = key.split(".")
        if name not in data.get(section, {}):
            missing.append(key)
            continue
        assert data[section][name] == getattr(getattr(defaults, section), name), key
    assert missing == []
    assert set(data) - {"profiles"} == {k.split(".")[0] for k in schema_keys()}


def test_every_setting_in_the_example_is_explained_by_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    section_comment = False
    for i, line in enumerate(lines):
        if line.startswith("["):
            section_comment = False
        if re.match(r"^\w+ = ", line):
            above = lines[max(0, i - 6):i]
            section_comment = section_comment or any(x.startswith("#") for x in above)
            assert section_comment, f"no comment near {line!r}"


def test_commented_profile_example_is_valid_when_uncommented() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# [profiles."):]
    toml = "\n".join(line[2:] if line.startswith("# ") else "" for line in block.splitlines())
    settings = settings_from_dict(tomllib.loads(toml), "example-profiles")
    assert set(settings.profiles) == {"mall", "night-market"}


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[camera]\nfsp = 30\n[sound]\nvolume = 0.5\n[colour]\nx = 1\n')
    problems = problems_of(f)
    assert "camera.fsp: unknown setting" in problems
    assert "[colour]: unknown section" in problems
    assert len(problems) == 2


def test_wrong_types_and_ranges_are_all_reported_at_once(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[camera]\nfps = "thirty"\nwidth = 10\ndecoders = "zxing"\n'
                 '[display]\nfullscreen = "yes"\n[log]\nlevel = "loud"\n[sync]\nbatch_size = true\n')
    problems = problems_of(f)
    assert "camera.fps: expected an integer, got 'thirty'" in problems
    assert "camera.width: 10 is below the minimum 160" in problems
    assert "camera.decoders: expected a list, got str" in problems
    assert "display.fullscreen: expected true or false, got 'yes'" in problems
    assert any(p.startswith("log.level: 'loud' is not one of") for p in problems)
    assert "sync.batch_size: expected an integer, got True" in problems
    assert len(problems) == 6


def test_every_number_setting_refuses_nan_and_infinity(tmp_path: Path) -> None:
    """TOML writes `nan` and `inf`; no range check catches NaN (every comparison is false), and a NaN sync
    interval, volume or debounce would break the device at run time, not at `config check`."""
    floats: dict[str, list[str]] = {}
    for f in dataclasses.fields(Settings):
        if dataclasses.is_dataclass(f.default_factory if callable(f.default_factory) else None):
            section = f.default_factory()
            floats[f.name] = [g.name for g in dataclasses.fields(section)
                              if isinstance(getattr(section, g.name), float)]
    expected = {f"{section}.{key}" for section, keys in floats.items() for key in keys}
    assert len(expected) > 10
    for value in ("nan", "inf", "-inf"):
        p = tmp_path / "c.toml"
        p.write_text("".join(f"[{section}]\n" + "".join(f"{key} = {value}\n" for key in keys)
                             for section, keys in floats.items() if keys))
        with pytest.raises(ConfigError) as e:
            load_settings(p)
        assert set(re.findall(r"(\w+\.\w+): expected a finite number", str(e.value))) == expected, str(e.value)


def test_missing_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.toml") == ["file not found"]


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[device]\nid = \n")
    (problem,) = problems_of(f)
    assert problem.startswith("invalid TOML") and "line 2" in problem


def test_bad_pin_hash_is_a_config_error(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[admin]\npin_hash = "1234"\n')
    (problem,) = problems_of(f)
    assert problem.startswith("admin.pin_hash: not a PIN hash")
    assert "checkpoint config pin" in problem


def test_good_and_empty_pin_hashes_are_accepted(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    good = hash_pin("2468", ln=10)
    f.write_text(f'[admin]\npin_hash = "{good}"\n')
    assert load_settings(f).admin.pin_hash == good
    f.write_text('[admin]\npin_hash = ""\n')
    assert load_settings(f).admin.pin_hash == ""


def test_alerts_acknowledged_by_pin_need_a_pin(tmp_path: Path) -> None:
    """Without one, no alert could ever be acknowledged: the first red code would hold the kiosk for good."""
    f = tmp_path / "c.toml"
    f.write_text('[admin]\nack_requires_pin = true\n')
    (problem,) = problems_of(f)
    assert problem.startswith("admin.ack_requires_pin: true needs admin.pin_hash")
    f.write_text(f'[admin]\nack_requires_pin = true\npin_hash = "{hash_pin("2468", ln=10)}"\n')
    assert load_settings(f).admin.ack_requires_pin


def test_bad_profile_override_is_reported_with_the_others(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[device]\nidd = "x"\n[profiles.mall]\nprofile = { max_code_age = -1 }\n')
    problems = problems_of(f)
    assert "device.idd: unknown setting" in problems
    assert any(p.startswith("profiles.mall.profile.max_code_age") for p in problems)


def test_a_mistyped_source_is_named_by_config_check_not_at_the_kiosk_s_start(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[camera]\nsource = "camra:0"\n[gate]\nsources = ["serial:/dev/ttyACM0@fast", "stdin"]\n',
                    encoding="utf-8")
    assert problems_of(path) == [
        "camera.source: unknown source 'camra:0'; use camera:N, v4l2:DEVICE, picamera, file:PATH, dir:PATH, "
        "video:PATH, serial:PORT[@BAUD], stdin or synthetic",
        "gate.sources: source 'serial:/dev/ttyACM0@fast': the baud rate after @ must be a number"]
    path.write_text('[camera]\nsource = "synthetic"\n', encoding="utf-8")
    assert problems_of(path) == ["camera.source: 'synthetic' draws the demo's codes and cannot be set here"]


@pytest.mark.parametrize("source", ["none", "", "None", "camera:1", "camera:-1", "v4l2:/dev/video2", "picamera",
                                    "dir:/srv/codes", "video:/srv/gate.mp4", "file:/srv/a.png"])
def test_every_form_the_kiosk_can_open_passes(tmp_path: Path, source: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[camera]\nsource = "{source}"\n[gate]\nsources = ["serial:/dev/ttyACM0@115200", "stdin"]\n',
                    encoding="utf-8")
    assert load_settings(path).camera.source == source


def _number_settings() -> dict[str, dataclasses.Field]:
    numbers = {}
    for section_field in dataclasses.fields(Settings):
        factory = section_field.default_factory
        if not (callable(factory) and dataclasses.is_dataclass(factory)):
            continue
        section = factory()
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                numbers[f"{section_field.name}.{f.name}"] = f
    return numbers


def test_every_number_setting_has_a_maximum_and_a_larger_value_is_named(tmp_path: Path) -> None:
    """A value past what the services can hold (a retention of 10^20 days overflows SQLite's integers, a
    sync timeout of 1e300 s the socket's) passed `config check` and then failed at every sync round."""
    numbers = _number_settings()
    assert len(numbers) > 30
    assert [key for key, f in numbers.items() if "max" not in f.metadata] == []
    sections: dict[str, list[str]] = {}
    for key, f in numbers.items():
        section, name = key.split(".")
        huge = "1e300" if isinstance(f.default, float) else str(10**20)
        sections.setdefault(section, []).append(f"{name} = {huge}\n")
    p = tmp_path / "c.toml"
    p.write_text("".join(f"[{s}]\n" + "".join(lines) for s, lines in sections.items()))
    found = {problem.split(":")[0] for problem in problems_of(p) if "is above the maximum" in problem}
    assert found == set(numbers)


@pytest.mark.parametrize("url", ["hub.example.org:8443", "http://hub.example.org", "https://", "ftp://hub",
                                 "https://hub.example.org:port", "https://hub.example.org:99999",
                                 "https://hub.example.org?x=1", " https://hub.example.org"])
def test_a_hub_url_that_is_not_an_https_address_is_named(tmp_path: Path, url: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(f'[hub]\nurl = "{url}"\n', encoding="utf-8")
    (problem,) = problems_of(p)
    assert problem.startswith(f"hub.url: {url!r} is not") and "https://HOST[:PORT]" in problem


@pytest.mark.parametrize("url", ["", "https://hub.example.org", "https://hub.example.org:8443/",
                                 "https://10.0.0.5:8443", "https://[fd00::1]:8443", "https://hub/region/7"])
def test_an_https_hub_url_or_none_passes(tmp_path: Path, url: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(f'[hub]\nurl = "{url}"\n', encoding="utf-8")
    assert load_settings(p).hub.url == url


def test_an_empty_data_dir_or_device_id_is_named(tmp_path: Path) -> None:
    """An empty data directory would mean the working directory: the services would write their visit log
    wherever they were started (under systemd, the read-only /)."""
    p = tmp_path / "c.toml"
    p.write_text('[device]\nid = ""\ndata_dir = ""\n', encoding="utf-8")
    assert problems_of(p) == [
        "device.id: '' is not a device id (up to 64 letters, digits, '.', '_' or '-', starting with a letter or "
        "digit, as the device certificate's common name)", "device.data_dir: must not be empty"]


@pytest.mark.parametrize("device_id", ["gate 7", "gate-7\n", "-gate", "闸机7", "g" * 65])
def test_a_device_id_no_certificate_can_carry_is_named(tmp_path: Path, device_id: str) -> None:
    """The hub takes a device's id from its certificate's common name and refuses visits logged under
    another id: a device id that no enrolled certificate can carry logs visits that can never be uploaded."""
    p = tmp_path / "c.toml"
    p.write_text(f"[device]\nid = {json.dumps(device_id)}\n", encoding="utf-8")
    (problem,) = problems_of(p)
    assert problem.startswith(f"device.id: {device_id!r} is not a device id")



# As written in the TOML file (its escapes).
@pytest.mark.parametrize(("key", "value"), [("checkpoint_id", r"east\u0000x"), ("checkpoint_id", r"east\n"),
                                            ("checkpoint_name", r"North\u0000"), ("checkpoint_name", r"a\u0007b")])
def test_a_venue_id_or_name_holding_a_control_character_is_named(tmp_path: Path, key: str, value: str) -> None:
    """Every visit carries `device.checkpoint_id` and every health record `device.checkpoint_name`: the hub
    refuses a visit whose text holds a NUL and drops such a health field, so each visit would be refused."""
    p = tmp_path / "c.toml"
    p.write_text(f'[device]\n{key} = "{value}"\n', encoding="utf-8")
    (problem,) = problems_of(p)
    assert problem.startswith(f"device.{key}: ") and "control character" in problem, problem

def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Windows Notepad starts UTF-8 files with a byte-order mark, which tomllib calls an invalid statement."""
    p = tmp_path / "c.toml"
    p.write_bytes(b'\xef\xbb\xbf[device]\r\nid = "gate-7"\r\n')
    assert load_settings(p).device.id == "gate-7"


def test_a_venue_profile_that_is_neither_built_in_nor_defined_is_named(tmp_path: Path) -> None:
    """`config check` said ok; the kiosk and gate then refused to start ("<profiles>: venue.profile: …")."""
    p = tmp_path / "c.toml"
    p.write_text('[venue]\nprofile = "trasnport"\n', encoding="utf-8")
    assert problems_of(p) == ["venue.profile: unknown profile 'trasnport' (built-in: community, hospital, mall, "
                              "office, pharmacy, school, transport; or one defined in [profiles.NAME])"]
    p.write_text('[venue]\nprofile = "night-market"\n[profiles.night-market]\nbase = "mall"\n', encoding="utf-8")
    assert load_settings(p).venue.profile == "night-market"


@pytest.mark.parametrize(("keys", "problem"), [
    ('admit_key = "Return"\ndeny_key = "Enter"',
     "display.deny_key: 'Enter' is the key of display.admit_key ('Return') too"),
    ('guard_key = "Space"\nfamily_key = "space"',
     "display.family_key: 'space' is the key of display.guard_key ('Space') too"),
    ('deny_key = "Escape"\nfamily_key = "Esc"',
     "display.family_key: 'Esc' is the key of display.deny_key ('Escape') too"),
])
def test_two_kiosk_keys_on_one_key_are_named_by_config_check(tmp_path: Path, keys: str, problem: str) -> None:
    # Found when the file is checked, not only when the kiosk starts: the guard's Deny or the alert's
    # acknowledgement would otherwise be a key that does something else.
    path = tmp_path / "s.toml"
    path.write_text(f"[display]\n{keys}\n", encoding="utf-8")
    assert problems_of(path) == [problem]


def test_a_date_or_time_given_for_a_setting_is_named_in_plain_words(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[camera]\nfps = 1979-05-27\nwidth = 1979-05-27T07:32:00Z\n"
                    "[display]\nresult_seconds = 07:32:00\n[sync]\nbatch_size = [1]\n", encoding="utf-8")
    assert problems_of(path) == [
        "camera.fps: expected an integer, got a date (1979-05-27)",
        "camera.width: expected an integer, got a date and time (1979-05-27T07:32:00+00:00)",
        "display.result_seconds: expected a number, got a time of day (07:32:00)",
        "sync.batch_size: expected an integer, got a list",
    ]
