# Stub of the C extension built from nlp/_native/jiebac.c (setup.py).
from collections.abc import Iterable, Mapping, Sequence

JIEBA_VERSION: str

class Cutter:
    def __init__(
        self,
        freq: dict[str, int],
        total: int,
        start_p: Mapping[str, float],
        trans_p: Mapping[str, Mapping[str, float]],
        emit_p: Mapping[str, Mapping[str, float]],
        force_split: Iterable[str] | None = None,
        hmm: bool = True,
    ) -> None: ...
    @property
    def size(self) -> int: ...
    @property
    def hmm(self) -> bool: ...
    def cut(self, text: str, /) -> list[str]: ...
    def cut_many(self, texts: Sequence[str], /) -> list[list[str]]: ...
