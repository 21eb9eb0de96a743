"""What the always-visible status bar says: chips and banners from a `scanner.status.StatusSnapshot`. No Qt.

Stale data never looks fresh: a trust list or status list past its `next_update` is flagged (amber,
with a warning sign and words), a missing list counts as stale, and a sync state that cannot be read
is "unknown", never "online".
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from keys.localtext import LocalText
from scanner.status import StatusSnapshot


def age_text(seconds: float | None) -> str:
    """A compact age: "45 s", "12 min", "3 h", "2 d"; "—" when there is nothing."""
    if seconds is None:
        return "—"
    s = max(0.0, seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.0f} h"
    return f"{s / 86400:.0f} d"


CHIP_NAMES = ("clock", "network", "pending", "trust_list", "status_list", "device", "counts", "audio", "gate",
              "camera", "scanner", "storage")
# Keys of `StatusSnapshot.extra` the kiosk fills: why nothing can be heard, why only tones are.
AUDIO_PROBLEM = "audio"
GATE_PROBLEM = "gate"  # set by the core (`Session.snapshot`) when the turnstile output fails
VOICE_PROBLEM = "voice"
SCANNER_PROBLEM = "scanner"  # a hardware scanner (serial) that is down, in the pipeline's words
# Set by the core (`Session.snapshot`): the visit log's storage alarm, the notice of a damaged visit log
# salvaged (until an operator acknowledges it), a damaged status store set aside.
STORAGE_PROBLEM, LOG_DAMAGE, STATUS_STORE_PROBLEM = "storage", "visit_log_damage", "status_store"
NO_SOUND = LocalText("无声音输出", "No sound output")


@dataclass(frozen=True)
class Chip:
    """One cell of the status bar: a bilingual label, a value, and whether it needs attention."""

    name: str
    label: LocalText
    value: str
    warn: bool
    short: str = ""  # the value in fewer characters, for a narrow cell (the idle screen's banner says the rest)

    def forms(self) -> tuple[str, ...]:
        """Longest first: what the cell shows is the first that fits."""
        short = self.short or self.value
        return (f"{self.label.zh} {self.label.en} {self.value}", f"{self.label.zh} {self.value}",
                f"{self.label.zh} {short}", short)


def chips(s: StatusSnapshot) -> list[Chip]:
    clock = time.strftime("%H:%M:%S", time.localtime(s.now))
    out = [Chip("clock", LocalText("时间", "Time") if s.clock_trusted else LocalText("时钟未校准", "Untrusted"),
                clock if s.clock_trusted else f"⚠ {clock}", not s.clock_trusted)]
    if s.sync.online is None:
        net, short, warn = "? 未知 unknown", "? 未知", True
    elif s.sync.online:
        net, short, warn = "● 在线 online", "● 在线", False
    else:
        net, short, warn = "○ 离线 offline", "○ 离线", True
    pending = "?" if s.sync.pending is None else str(s.sync.pending)
    out.append(Chip("network", LocalText("网络", "Net"), net, warn, short))
    out.append(Chip("pending", LocalText("待上传", "Pending"), pending, False))
    for name, label, issued, stale in (
            ("trust_list", LocalText("信任名单", "Trust"), s.trust_list_issued, s.trust_list_stale),
            ("status_list", LocalText("状态名单", "Status"), s.status_list_issued, s.status_list_stale)):
        age = age_text(None if issued is None else s.now - issued)
        value = f"⚠ 过期 stale {age}" if stale else age
        out.append(Chip(name, label, value, stale, f"⚠ {age}" if stale else age))
    out.append(Chip("device", LocalText("设备", "Device"),
                    f"{s.device} · {s.checkpoint}", False))
    label = LocalText("今日", "Today")
    if s.flow == "school":
        label = LocalText("今晨入校", "This morning")
    out.append(Chip("counts", label, f"✓ {s.admitted_today}   ✕ {s.denied_today}", False))
    # Shown only when something is wrong: a kiosk that cannot be heard must be seen to be mute.
    if s.extra.get(AUDIO_PROBLEM):
        out.append(Chip("audio", LocalText("声音", "Sound"), "⚠ 无输出 none", True))
    elif s.extra.get(VOICE_PROBLEM):
        out.append(Chip("audio", LocalText("语音", "Voice"), "仅提示音 tones", True))
    if s.extra.get(GATE_PROBLEM):
        out.append(Chip("gate", LocalText("闸机", "Gate"), "⚠ 输出故障 output failed", True, "⚠ 故障 failed"))
    # A camera or scanner that is down is retried; the codes the others read are still decided.
    if not s.camera_ok:
        out.append(Chip("camera", LocalText("摄像头", "Camera"), "⚠ 不可用 unavailable", True, "⚠ 不可用"))
    if s.extra.get(SCANNER_PROBLEM):
        out.append(Chip("scanner", LocalText("扫码器", "Scanner"), "⚠ 未连接 disconnected", True, "⚠ 未连接"))
    if s.extra.get(LOG_DAMAGE) or s.extra.get(STATUS_STORE_PROBLEM):
        out.append(Chip("storage", LocalText("存储", "Storage"), "⚠ 已损坏 damaged", True, "⚠ 损坏"))
    elif s.extra.get(STORAGE_PROBLEM):
        out.append(Chip("storage", LocalText("存储", "Storage"), "⚠ 告警 alarm", True, "⚠ 告警"))
    return out


def banners(s: StatusSnapshot) -> list[LocalText]:
    """Warnings big enough for the idle screen, not just the status bar."""
    out = []
    if not s.clock_trusted:
        out.append(LocalText("设备时钟未校准：所有结果需人工核验",
                             "Device clock not trusted: check every code by hand"))
    if s.trust_list_issued is None:
        out.append(LocalText("无有效信任名单：所有结果需人工核验，请联网同步",
                             "No valid trust list: check every code by hand and connect to sync"))
    elif s.data_stale:
        out.append(LocalText("名单已过期：请联网同步", "Trust/status data out of date: connect to sync"))
    if s.trust_list_problem:
        out.append(LocalText("缓存的信任名单已损坏，已移至一旁", f"Trust list: {s.trust_list_problem}"))
    rules = s.extra.get("rules_list")
    if rules:
        out.append(LocalText("业务规则名单缺失或已损坏：本场所规则未执行，请联网同步", f"Rules list: {rules}"))
    storage = s.extra.get(STORAGE_PROBLEM)
    if storage:
        out.append(LocalText("访客记录存储告警，请联系管理员", f"Visit log: {storage} — call the administrator"))
    if s.extra.get(STATUS_STORE_PROBLEM):
        out.append(LocalText("状态名单缓存已损坏并移至一旁：请联网同步",
                             "Status list cache was damaged and set aside: connect to sync"))
    if s.extra.get(AUDIO_PROBLEM):
        out.append(LocalText(f"{NO_SOUND.zh}：请检查扬声器", f"{NO_SOUND.en}: check the speaker"))
    if s.extra.get(GATE_PROBLEM):
        out.append(LocalText("闸机不能自动打开：请人工放行",
                             "The gate does not open by itself: let people through by hand"))
    scanner = s.extra.get(SCANNER_PROBLEM)
    if scanner:
        out.append(LocalText(f"扫码器未连接（{scanner}）", f"Scanner disconnected ({scanner})"))
    if not s.camera_ok:
        out.append(LocalText("摄像头未连接", "Camera disconnected") if not s.camera_message
                   else LocalText(f"摄像头未连接（{s.camera_message}）", f"Camera disconnected ({s.camera_message})"))
    return out
