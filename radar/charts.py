"""Charts everywhere in the project draw Chinese labels with the same font."""

from __future__ import annotations

from pathlib import Path

__all__ = ["cjk_font"]

_CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


def cjk_font() -> str | None:
    """The name of an installed Chinese font, registered with matplotlib; ``None`` when there is none."""
    from matplotlib import font_manager

    for path in _CJK_FONT_FILES:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
            return str(font_manager.FontProperties(fname=path).get_name())
    return None
