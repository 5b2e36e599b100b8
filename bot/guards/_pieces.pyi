from collections.abc import Callable, Mapping, Sequence

class Pieces:
    def __init__(
        self,
        table: Sequence[str],
        more: Callable[[int], str],
        tokens: Mapping[str, str],
        apostrophe: str,
        needles: Sequence[str],
    ) -> None: ...
    def words(self, text: str) -> str | None: ...
