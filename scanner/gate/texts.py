"""Words the gate core hands to any screen or voice: how old a code is, the guard's own decisions."""

from __future__ import annotations

from keys.localtext import LocalText

GUARD_ADMITTED = LocalText("人工核验通过 请通行", "Checked by staff — please enter")
GUARD_DENIED = LocalText("人工核验未通过 请勿进入", "Refused by staff — do not enter")
GUARD_GUIDANCE = LocalText("工作人员已核验", "Decided by the guard")


def issued_ago(seconds: float) -> LocalText:
    """"签发于 3 分钟前 / issued 3 min ago": a screenshot of an old code shows its age."""
    s = max(0, int(seconds))
    if s < 60:
        return LocalText(f"签发于 {s} 秒前", f"issued {s} s ago")
    if s < 3600:
        return LocalText(f"签发于 {s // 60} 分钟前", f"issued {s // 60} min ago")
    if s < 86400 * 2:
        return LocalText(f"签发于 {s // 3600} 小时前", f"issued {s // 3600} h ago")
    return LocalText(f"签发于 {s // 86400} 天前", f"issued {s // 86400} days ago")
